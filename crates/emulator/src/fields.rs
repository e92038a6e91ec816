//! Field ownership (`metadata.managedFields`) and server-side apply: which field manager
//! set which field, conflicts between managers, and how an apply merges into an object.
//!
//! Simplified from the real structured-merge-diff: lists are atomic (owned and replaced
//! as a whole, never merged by key) and `fieldsV1` has no `.` markers. What clients
//! observe holds: an apply creates or updates in place, fields it stops applying are
//! removed unless another manager owns them, and a field another manager owns with
//! another value is a 409 conflict naming the manager and the field unless the apply is
//! forced. As on a real server, a manager is its name and operation: what a manager
//! wrote with an update conflicts with what the same name applies.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::obj;
use crate::time::now_rfc3339;

/// A field: the JSON keys from the object's root.
pub(crate) type FieldPath = Vec<String>;

/// Metadata the server owns or that identifies the object: never a managed field.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// How a write touches field ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// A field another manager owns with a value the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub manager: String,
    pub api_version: String,
    pub field: FieldPath,
}

/// `.data.key`, as the real server names a field in conflicts.
pub(crate) fn render(path: &FieldPath) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    time: String,
    fields: BTreeSet<FieldPath>,
}

/// The fields an object (or an apply configuration) sets: every scalar, list (atomic) and
/// empty map, without the identity and server metadata and, for kinds with a status
/// subresource, without `status`.
pub(crate) fn leaves(o: &Value, has_status: bool) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(root) = o.as_object() else {
        return out;
    };
    for (key, value) in root {
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "status" if has_status => {}
            "metadata" => {
                if let Some(meta) = value.as_object() {
                    for (k, v) in meta {
                        if !SERVER_METADATA.contains(&k.as_str()) {
                            collect(v, vec![key.clone(), k.clone()], &mut out);
                        }
                    }
                }
            }
            _ => collect(value, vec![key.clone()], &mut out),
        }
    }
    out
}

fn collect(v: &Value, path: FieldPath, out: &mut BTreeSet<FieldPath>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(k.clone());
                collect(child, p, out);
            }
        }
        _ => {
            out.insert(path);
        }
    }
}

fn value_at<'a>(o: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(o, |v, k| v.as_object()?.get(k))
}

fn remove_at(o: &mut Value, path: &FieldPath) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = o;
    for k in parents {
        match v.as_object_mut().and_then(|m| m.get_mut(k)) {
            Some(child) => v = child,
            None => return,
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove(last);
    }
}

/// Merges an apply configuration: maps recursively, lists and scalars replaced; `null`
/// removes the field.
fn merge(target: &mut Value, config: &Value) {
    let (Value::Object(t), Value::Object(c)) = (&mut *target, config) else {
        *target = config.clone();
        return;
    };
    for (k, v) in c {
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(_) if t.get(k).is_some_and(Value::is_object) => {
                merge(t.get_mut(k).expect("checked"), v);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

fn encode(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for key in path {
            node = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("only objects are inserted");
        }
    }
    Value::Object(root)
}

/// Reads `fieldsV1`. Entries for list items (`k:…`, `v:…`, written by a real server)
/// make the list itself the field, since lists are atomic here.
fn decode(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
    let children: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
        .unwrap_or_default();
    if children.is_empty() {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, child) in children {
        path.push(k[2..].to_string());
        decode(child, path, out);
        path.pop();
    }
}

fn entries(o: &Value) -> Vec<Entry> {
    let Some(list) = o
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let operation = match e.get("operation").and_then(Value::as_str) {
                Some("Apply") => Operation::Apply,
                Some("Update") => Operation::Update,
                _ => return None,
            };
            let mut fields = BTreeSet::new();
            if let Some(f) = e.get("fieldsV1") {
                decode(f, &mut Vec::new(), &mut fields);
            }
            Some(Entry {
                manager: s("manager"),
                operation,
                api_version: s("apiVersion"),
                time: s("time"),
                fields,
            })
        })
        .collect()
}

fn store(o: &mut Value, list: Vec<Entry>) {
    let list: Vec<Value> = list
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.fields),
            })
        })
        .collect();
    let meta = obj::meta(o);
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Gives `manager`'s entry of `operation` exactly `fields`, keeping its time when they
/// did not change (so a write that changes nothing changes nothing).
fn set_entry(
    list: &mut Vec<Entry>,
    manager: &str,
    operation: Operation,
    api_version: &str,
    fields: BTreeSet<FieldPath>,
) {
    match list
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == operation)
    {
        Some(e) if e.fields == fields && e.api_version == api_version => {}
        Some(e) => {
            e.fields = fields;
            e.api_version = api_version.to_string();
            e.time = now_rfc3339();
        }
        None => list.push(Entry {
            manager: manager.to_string(),
            operation,
            api_version: api_version.to_string(),
            time: now_rfc3339(),
            fields,
        }),
    }
}

/// Records a create (`old` is `None`) or an update (PUT, merge, strategic or JSON patch)
/// by `manager` into `new`'s managedFields: the manager owns every field it changed, and
/// the other managers lose those fields.
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    has_status: bool,
) {
    let after = leaves(new, has_status);
    let changed: BTreeSet<FieldPath> = match old {
        None => after.clone(),
        Some(old) => {
            let before = leaves(old, has_status);
            before
                .union(&after)
                .filter(|p| value_at(old, p) != value_at(new, p))
                .cloned()
                .collect()
        }
    };
    let mut list = old.map(entries).unwrap_or_default();
    for e in &mut list {
        e.fields
            .retain(|p| !changed.contains(p) && after.contains(p));
    }
    let mut mine = list
        .iter()
        .find(|e| e.manager == manager && e.operation == Operation::Update)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    mine.extend(changed.intersection(&after).cloned());
    if !mine.is_empty() {
        set_entry(&mut list, manager, Operation::Update, api_version, mine);
    }
    store(new, list);
}

/// Server-side apply of `config` by `manager` over `current` (`None`: the object does
/// not exist and is created from `config`). Returns the new object with its
/// managedFields, or the conflicts when the apply is not forced.
pub(crate) fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
    has_status: bool,
) -> Result<Value, Vec<Conflict>> {
    let applied = leaves(config, has_status);
    let Some(current) = current else {
        let mut new = config.clone();
        let mut list = Vec::new();
        set_entry(&mut list, manager, Operation::Apply, api_version, applied);
        store(&mut new, list);
        return Ok(new);
    };
    let mut list = entries(current);
    let mut conflicts = Vec::new();
    let mine = |e: &Entry| e.manager == manager && e.operation == Operation::Apply;
    for e in list.iter().filter(|e| !mine(e)) {
        for p in e.fields.intersection(&applied) {
            if value_at(current, p) != value_at(config, p) {
                conflicts.push(Conflict {
                    manager: e.manager.clone(),
                    api_version: e.api_version.clone(),
                    field: p.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let mut new = current.clone();
    let previously: BTreeSet<FieldPath> = list
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for p in previously.difference(&applied) {
        let shared = list.iter().any(|e| !mine(e) && e.fields.contains(p));
        if !shared {
            remove_at(&mut new, p);
        }
    }
    let mut config = config.clone();
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    merge(&mut new, &config);
    let after = leaves(&new, has_status);
    let taken: BTreeSet<FieldPath> = conflicts.into_iter().map(|c| c.field).collect();
    for e in &mut list {
        e.fields.retain(|p| !taken.contains(p) && after.contains(p));
    }
    set_entry(&mut list, manager, Operation::Apply, api_version, applied);
    store(&mut new, list);
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "default", "uid": "u"}, "data": data})
    }

    fn owners(o: &Value) -> Vec<(String, String, Vec<String>)> {
        entries(o)
            .into_iter()
            .map(|e| {
                (
                    e.manager,
                    e.operation.as_str().to_string(),
                    e.fields.iter().map(render).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn create_owns_everything_and_an_update_takes_what_it_changed() {
        let mut created = cm(json!({"a": "1", "b": "2"}));
        record_update(None, &mut created, "kubectl-create", "v1", false);
        assert_eq!(
            owners(&created),
            [(
                "kubectl-create".into(),
                "Update".into(),
                vec![".data.a".into(), ".data.b".into()]
            )]
        );
        let mut updated = created.clone();
        updated["data"]["b"] = json!("3");
        record_update(Some(&created), &mut updated, "editor", "v1", false);
        assert_eq!(
            owners(&updated),
            [
                (
                    "kubectl-create".into(),
                    "Update".into(),
                    vec![".data.a".into()]
                ),
                ("editor".into(), "Update".into(), vec![".data.b".into()]),
            ]
        );
        // fieldsV1 round-trips.
        assert_eq!(
            updated["metadata"]["managedFields"][1]["fieldsV1"],
            json!({"f:data": {"f:b": {}}})
        );
    }

    /// `manager` applies a ConfigMap with `data` over `current`.
    fn apply_cm(
        current: Option<&Value>,
        data: Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, Vec<Conflict>> {
        apply(current, &cm(data), manager, "v1", force, false)
    }

    #[test]
    fn apply_conflicts_only_on_fields_another_manager_owns_with_another_value() {
        let mut current = cm(json!({"a": "1"}));
        record_update(None, &mut current, "kubectl-create", "v1", false);
        // Same value: shared, no conflict.
        let same = apply_cm(Some(&current), json!({"a": "1"}), "hooks", false).unwrap();
        assert_eq!(owners(&same).len(), 2);
        // Another value: a conflict naming the owner, unless forced.
        let conflicts = apply_cm(Some(&current), json!({"a": "2"}), "hooks", false).unwrap_err();
        assert_eq!(conflicts[0].manager, "kubectl-create");
        assert_eq!(render(&conflicts[0].field), ".data.a");
        let forced = apply_cm(Some(&current), json!({"a": "2"}), "hooks", true).unwrap();
        assert_eq!(forced["data"]["a"], "2");
        assert_eq!(
            owners(&forced),
            [("hooks".into(), "Apply".into(), vec![".data.a".into()])]
        );
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_unless_someone_else_owns_it() {
        let first = apply_cm(None, json!({"a": "1", "b": "2", "c": "3"}), "hooks", false).unwrap();
        // Another manager applies `c` with the same value: both own it.
        let shared = apply_cm(Some(&first), json!({"c": "3"}), "other", false).unwrap();
        let second = apply_cm(Some(&shared), json!({"a": "1"}), "hooks", false).unwrap();
        assert_eq!(second["data"], json!({"a": "1", "c": "3"}));
        // A repeated apply changes nothing, the entry's time included.
        let third = apply_cm(Some(&second), json!({"a": "1"}), "hooks", false).unwrap();
        assert_eq!(third, second);
    }

    #[test]
    fn what_a_manager_created_conflicts_with_what_it_applies() {
        let mut created = cm(json!({"a": "1"}));
        record_update(None, &mut created, "hooks", "v1", false);
        let conflicts = apply_cm(Some(&created), json!({"a": "2"}), "hooks", false).unwrap_err();
        assert_eq!(conflicts[0].manager, "hooks");
    }
}
