//! Defaulting and validation a real API server applies on write, limited to what clients
//! visibly depend on (Job selectors and labels, pod defaults, CRD status, required fields).

use serde_json::{Value, json};

use crate::obj;
use crate::resources::{CRD_GROUP, CRD_PLURAL, ResourceType, parse_crd};
use crate::status::ApiError;
use crate::time::now_rfc3339;

/// RFC 1123 subdomain, the rule for most object names.
pub(crate) fn name_error(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    (!ok).then(|| {
        format!(
            "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    })
}

fn containers_causes(spec: Option<&Value>, prefix: &str) -> Vec<(String, String)> {
    let mut causes = Vec::new();
    match spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
    {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                for field in ["name", "image"] {
                    if c.get(field)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        causes.push((
                            format!("{prefix}.containers[{i}].{field}"),
                            "Required value".into(),
                        ));
                    }
                }
            }
        }
        _ => causes.push((format!("{prefix}.containers"), "Required value".into())),
    }
    causes
}

/// Kind-specific validation; 422 Invalid with causes, which kubectl prints field by field.
pub(crate) fn validate(rt: &ResourceType, o: &Value) -> Result<(), ApiError> {
    let name = obj::name(o);
    let mut causes = Vec::new();
    // RBAC names are path segments (`system:aggregate-to-view` is valid), not subdomains.
    let name_problem = if rt.group == "rbac.authorization.k8s.io" {
        (name.is_empty() || name.contains('/') || name == "." || name == "..")
            .then(|| format!("Invalid value: {name:?}: may not contain '/' or be empty"))
    } else {
        name_error(name)
    };
    if let Some(e) = name_problem {
        causes.push(("metadata.name".to_string(), e));
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => causes.extend(containers_causes(o.get("spec"), "spec")),
        ("batch", "jobs") => {
            let spec = o.pointer("/spec/template/spec");
            causes.extend(containers_causes(spec, "spec.template.spec"));
            let rp = spec
                .and_then(|s| s.get("restartPolicy"))
                .and_then(Value::as_str);
            if !matches!(rp, Some("Never" | "OnFailure")) {
                causes.push((
                    "spec.template.spec.restartPolicy".into(),
                    format!(
                        "Unsupported value: {:?}: supported values: \"OnFailure\", \"Never\"",
                        rp.unwrap_or("")
                    ),
                ));
            }
        }
        (CRD_GROUP, CRD_PLURAL) => {
            if let Err(c) = parse_crd(o) {
                causes.extend(c);
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.kind, name, &causes))
    }
}

/// Server-side defaults for a new object whose uid is already set.
pub(crate) fn on_create(rt: &ResourceType, o: &mut Value) {
    if rt.status {
        // Clients cannot create an object with a status when a status subresource exists.
        if let Some(m) = o.as_object_mut() {
            m.remove("status");
        }
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => default_pod(o),
        ("batch", "jobs") => default_job(o),
        ("", "namespaces") => {
            let name = obj::name(o).to_string();
            obj::path_mut(o, &["metadata", "labels"])
                .insert("kubernetes.io/metadata.name".into(), json!(name));
            obj::child(o, "spec").insert("finalizers".into(), json!(["kubernetes"]));
            obj::child(o, "status").insert("phase".into(), json!("Active"));
        }
        (CRD_GROUP, CRD_PLURAL) => crd_status(o),
        _ => {}
    }
}

/// Names accepted and Established: the real apiextensions controller gets there within
/// milliseconds, so the emulator does it at creation unless told to take its time
/// (`Emulator::set_crd_establish_delay`).
pub(crate) fn crd_status(o: &mut Value) {
    let at = now_rfc3339();
    let names = o.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let stored: Vec<Value> = o
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    o["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": at},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": at},
        ],
        "storedVersions": stored,
    });
}

/// A CRD whose names are accepted but which is not served yet.
pub(crate) fn unestablish_crd(o: &mut Value) {
    if let Some(conditions) = o
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("Established"));
    }
}

pub(crate) fn crd_established(o: &Value) -> bool {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Established")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

pub(crate) fn default_pod(o: &mut Value) {
    let spec = obj::child(o, "spec");
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("serviceAccountName", json!("default")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
    ] {
        spec.entry(k).or_insert(v);
    }
    o["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
}

/// The labels and selector the real Job API defaults; `kubectl logs job/X` and
/// `get pods -l job-name=X` depend on them (KUBECTL-WIRE §9).
pub(crate) fn default_job(o: &mut Value) {
    let uid = obj::uid(o).to_string();
    let name = obj::name(o).to_string();
    let labels = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    let manual = o.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true);
    let spec = obj::child(o, "spec");
    for (k, v) in [
        ("parallelism", json!(1)),
        ("completions", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
    ] {
        spec.entry(k).or_insert(v);
    }
    if !manual || !spec.contains_key("selector") {
        spec.insert(
            "selector".into(),
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
    }
    let tpl_labels = obj::path_mut(o, &["spec", "template", "metadata", "labels"]);
    if let Some(l) = labels.as_object() {
        for (k, v) in l {
            tpl_labels.insert(k.clone(), v.clone());
        }
    }
    let tpl_labels = tpl_labels.clone();
    let meta = obj::meta(o);
    let empty = meta
        .get("labels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.is_empty());
    if empty {
        meta.insert("labels".into(), Value::Object(tpl_labels));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_gets_selector_and_pod_labels() {
        let mut j = json!({"metadata": {"name": "j1", "uid": "u-1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}});
        default_job(&mut j);
        assert_eq!(
            j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u-1"
        );
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j1"
        );
        assert_eq!(j["metadata"]["labels"]["controller-uid"], "u-1");
        assert_eq!(j["spec"]["backoffLimit"], 6);
    }

    #[test]
    fn names_follow_rfc1123() {
        assert!(name_error("cm-1.x").is_none());
        for bad in ["", "Upper", "-lead", "trail-", "sp ace"] {
            assert!(name_error(bad).is_some(), "{bad:?}");
        }
    }
}
