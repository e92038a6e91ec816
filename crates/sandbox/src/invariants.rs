//! What the host refuses in a guest's answer. A policy may change what a hook does, not
//! which object it is, which event it belongs to, or where it runs in the order (that is
//! the orderers' business, and they must account for every hook exactly once).

use std::collections::HashMap;

use serde_json::Value;

use crate::limits::Limit;

/// Fields whose value a patch must leave exactly as it was (absent stays absent), as
/// JSON pointers. `~1` is an escaped `/` inside an annotation key.
const FROZEN: [(&str, &str); 6] = [
    ("/apiVersion", "apiVersion"),
    ("/kind", "kind"),
    ("/metadata/name", "metadata.name"),
    ("/metadata/namespace", "metadata.namespace"),
    (
        "/metadata/annotations/helm.sh~1hook",
        "the `helm.sh/hook` annotation",
    ),
    (
        "/metadata/annotations/helm.sh~1hook-weight",
        "the `helm.sh/hook-weight` annotation",
    ),
];

/// A problem with an answer, and the hook it is about when there is one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) hook: Option<String>,
    pub(crate) problem: String,
}

impl Violation {
    fn about(hook: &str, problem: impl Into<String>) -> Violation {
        Violation {
            hook: Some(hook.to_owned()),
            problem: problem.into(),
        }
    }
}

/// Parses a patch's manifest and checks it against the hook's current manifest.
pub(crate) fn check_patch(hook: &str, before: &Value, manifest: &str) -> Result<Value, Violation> {
    let after: Value = serde_json::from_str(manifest)
        .map_err(|e| Violation::about(hook, format!("the patch is not valid JSON: {e}")))?;
    if !after.is_object() {
        return Err(Violation::about(
            hook,
            format!(
                "the patch is {}, not a JSON object (a whole Kubernetes object)",
                kind_of(&after)
            ),
        ));
    }
    for (pointer, what) in FROZEN {
        let (old, new) = (before.pointer(pointer), after.pointer(pointer));
        if old != new {
            return Err(Violation::about(
                hook,
                format!(
                    "the patch changes {what} from {} to {}; identity and position are not a mutator's to change",
                    shown(old),
                    shown(new)
                ),
            ));
        }
    }
    Ok(after)
}

/// Counts the values and the nesting depth of a JSON text without building anything, and
/// refuses it past `max_nodes` or `max_depth`: `(the limit, what was found, the maximum)`.
/// A value is counted at each `{`, `[`, `,` and `:` outside strings, which is within one
/// per container of the exact count; malformed text is left for the parser to reject.
pub(crate) fn json_shape(
    text: &str,
    max_nodes: usize,
    max_depth: usize,
) -> Result<(), (Limit, usize, usize)> {
    let (mut nodes, mut depth) = (1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in text.as_bytes() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                nodes += 1;
                if depth > max_depth {
                    return Err((Limit::JsonDepth, depth, max_depth));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' | b':' => nodes += 1,
            _ => {}
        }
        if nodes > max_nodes {
            return Err((Limit::JsonNodes, nodes, max_nodes));
        }
    }
    Ok(())
}

/// Checks that a mutator's patches name known hooks, each at most once. Returns the index
/// of each patched hook.
pub(crate) fn check_patch_ids<'a>(
    current: &[&str],
    patched: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<usize>, Violation> {
    let index: HashMap<&str, usize> = current.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut seen = vec![false; current.len()];
    let mut out = Vec::new();
    for id in patched {
        let Some(&i) = index.get(id) else {
            return Err(Violation::about(
                id,
                "the patch is for a hook that is not in this event",
            ));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(Violation::about(id, "two patches for the same hook"));
        }
        out.push(i);
    }
    Ok(out)
}

/// Checks that an order lists every current hook exactly once. Returns, for each new
/// position, the index of the hook in the current order.
pub(crate) fn check_order(current: &[&str], answer: &[String]) -> Result<Vec<usize>, Violation> {
    let index: HashMap<&str, usize> = current.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut seen = vec![false; current.len()];
    let mut permutation = Vec::with_capacity(answer.len());
    for id in answer {
        let Some(&i) = index.get(id.as_str()) else {
            return Err(Violation::about(
                id,
                "the order names a hook that is not in this event",
            ));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(Violation::about(id, "the order lists this hook twice"));
        }
        permutation.push(i);
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(Violation::about(
            current[missing],
            format!(
                "the order leaves this hook out ({} of {} hooks listed); it must list every hook exactly once",
                answer.len(),
                current.len()
            ),
        ));
    }
    Ok(permutation)
}

/// Checks that waves list every current hook exactly once, in waves none of which is
/// empty. Returns, for each new position (the waves' concatenation), the index of the
/// hook in the current order, and the size of each wave.
pub(crate) fn check_waves(
    current: &[&str],
    waves: &[Vec<String>],
) -> Result<(Vec<usize>, Vec<usize>), Violation> {
    let index: HashMap<&str, usize> = current.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut seen = vec![false; current.len()];
    let mut permutation = Vec::with_capacity(current.len());
    let mut sizes = Vec::with_capacity(waves.len());
    for (number, wave) in waves.iter().enumerate() {
        if wave.is_empty() {
            return Err(Violation {
                hook: None,
                problem: format!(
                    "wave {} of {} is empty; every wave must hold at least one hook",
                    number + 1,
                    waves.len()
                ),
            });
        }
        for id in wave {
            let Some(&i) = index.get(id.as_str()) else {
                return Err(Violation::about(
                    id,
                    format!("wave {} names a hook that is not in this event", number + 1),
                ));
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(Violation::about(
                    id,
                    "the waves list this hook twice; each hook belongs to exactly one wave",
                ));
            }
            permutation.push(i);
        }
        sizes.push(wave.len());
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(Violation::about(
            current[missing],
            format!(
                "the waves leave this hook out ({} of {} hooks listed); they must list every hook exactly once",
                permutation.len(),
                current.len()
            ),
        ));
    }
    Ok((permutation, sizes))
}

/// The timeout annotation of a patched manifest, when the patch changed it: `Some(None)`
/// when it was removed.
pub(crate) fn changed_timeout<'a>(before: &Value, after: &'a Value) -> Option<Option<&'a Value>> {
    const POINTER: &str = "/metadata/annotations/kubectl-hooks.dev~1timeout";
    let (old, new) = (before.pointer(POINTER), after.pointer(POINTER));
    (old != new).then_some(new)
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_owned(), Value::to_string)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "a", "annotations": {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "1"}},
            "spec": {}
        })
    }

    #[test]
    fn patch_may_change_spec_and_delete_policy() {
        let mut after = job();
        after["spec"]["backoffLimit"] = json!(1);
        after["metadata"]["annotations"]["helm.sh/hook-delete-policy"] = json!("hook-succeeded");
        assert!(check_patch("Job/a", &job(), &after.to_string()).is_ok());
    }

    #[test]
    fn patch_may_not_rename_retarget_or_reweight() {
        for (pointer, value) in [
            ("/metadata/name", json!("b")),
            ("/kind", json!("Pod")),
            ("/apiVersion", json!("batch/v2")),
            ("/metadata/annotations/helm.sh~1hook", json!("post-install")),
            ("/metadata/annotations/helm.sh~1hook-weight", json!("-5")),
        ] {
            let mut after = job();
            *after.pointer_mut(pointer).unwrap() = value;
            let err = check_patch("Job/a", &job(), &after.to_string()).unwrap_err();
            assert_eq!(err.hook.as_deref(), Some("Job/a"));
        }
    }

    #[test]
    fn patch_may_not_add_a_namespace() {
        let mut after = job();
        after["metadata"]["namespace"] = json!("elsewhere");
        let err = check_patch("Job/a", &job(), &after.to_string()).unwrap_err();
        assert!(
            err.problem.contains("metadata.namespace"),
            "{}",
            err.problem
        );
        assert!(err.problem.contains("(absent)"), "{}", err.problem);
    }

    #[test]
    fn patch_must_be_a_json_object() {
        assert!(
            check_patch("Job/a", &job(), "{")
                .unwrap_err()
                .problem
                .contains("not valid JSON")
        );
        assert!(
            check_patch("Job/a", &job(), "[1]")
                .unwrap_err()
                .problem
                .contains("an array")
        );
    }

    #[test]
    fn json_shape_counts_values_and_depth_outside_strings() {
        assert_eq!(
            json_shape(r#"{"a": [1, 2, {"b": "x,y:[{"}]}"#, 100, 10),
            Ok(())
        );
        let flat = format!("[{}0]", "0,".repeat(1000));
        assert_eq!(
            json_shape(&flat, 100, 10),
            Err((Limit::JsonNodes, 101, 100))
        );
        let deep = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert_eq!(json_shape(&deep, 100, 10), Err((Limit::JsonDepth, 11, 10)));
        // Escaped quotes do not end a string.
        assert_eq!(json_shape(r#"["\",[[[[", 1]"#, 100, 2), Ok(()));
    }

    #[test]
    fn patch_ids_must_exist_once() {
        let current = ["Job/a", "Job/b"];
        assert_eq!(check_patch_ids(&current, ["Job/b"]).unwrap(), vec![1]);
        assert!(check_patch_ids(&current, ["Job/c"]).is_err());
        assert!(check_patch_ids(&current, ["Job/a", "Job/a"]).is_err());
    }

    #[test]
    fn waves_hold_every_hook_once_and_none_is_empty() {
        let current = ["Job/a", "Job/b", "Job/c"];
        let waves = |waves: &[&[&str]]| {
            waves
                .iter()
                .map(|w| w.iter().map(|s| s.to_string()).collect())
                .collect::<Vec<Vec<String>>>()
        };
        assert_eq!(
            check_waves(&current, &waves(&[&["Job/c"], &["Job/a", "Job/b"]])).unwrap(),
            (vec![2, 0, 1], vec![1, 2])
        );
        let err =
            check_waves(&current, &waves(&[&["Job/a"], &[], &["Job/b", "Job/c"]])).unwrap_err();
        assert!(
            err.problem.contains("wave 2 of 3 is empty"),
            "{}",
            err.problem
        );
        let err = check_waves(
            &current,
            &waves(&[&["Job/a", "Job/b"], &["Job/b", "Job/c"]]),
        )
        .unwrap_err();
        assert_eq!(err.hook.as_deref(), Some("Job/b"));
        assert!(err.problem.contains("twice"), "{}", err.problem);
        let err = check_waves(&current, &waves(&[&["Job/a", "Job/b"]])).unwrap_err();
        assert_eq!(err.hook.as_deref(), Some("Job/c"));
        let err =
            check_waves(&current, &waves(&[&["Job/a", "Job/b", "Job/c", "Job/x"]])).unwrap_err();
        assert_eq!(err.hook.as_deref(), Some("Job/x"));
    }

    #[test]
    fn a_changed_timeout_is_seen_removed_included() {
        let with = |t: Option<&str>| {
            let mut job = job();
            if let Some(t) = t {
                job["metadata"]["annotations"]["kubectl-hooks.dev/timeout"] = json!(t);
            }
            job
        };
        assert_eq!(changed_timeout(&with(Some("1m")), &with(Some("1m"))), None);
        assert_eq!(changed_timeout(&with(None), &with(None)), None);
        assert_eq!(
            changed_timeout(&with(None), &with(Some("2h"))),
            Some(Some(&json!("2h")))
        );
        assert_eq!(changed_timeout(&with(Some("1m")), &with(None)), Some(None));
    }

    #[test]
    fn order_must_be_a_permutation() {
        let current = ["Job/a", "Job/b", "Job/c"];
        let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_order(&current, &ids(&["Job/c", "Job/a", "Job/b"])).unwrap(),
            vec![2, 0, 1]
        );
        let err = check_order(&current, &ids(&["Job/a", "Job/b"])).unwrap_err();
        assert_eq!(err.hook.as_deref(), Some("Job/c"));
        let err = check_order(&current, &ids(&["Job/a", "Job/b", "Job/a"])).unwrap_err();
        assert!(err.problem.contains("twice"));
        let err = check_order(&current, &ids(&["Job/a", "Job/b", "Job/x"])).unwrap_err();
        assert_eq!(err.hook.as_deref(), Some("Job/x"));
    }
}
