//! Gives hook Jobs (and CronJob job templates) a deadline, a retry limit, container
//! resources and a label, wherever the chart did not set them. See README.md.

mod settings;

use hooks_policy_sdk::pod::ContainerKind;
use hooks_policy_sdk::{Context, Hook, Mutator, Patch, TIMEOUT_ANNOTATION, pod_specs_mut};
use serde_json::{Map, Value, json};

pub use settings::Settings;

#[derive(Debug)]
pub struct JobDefaults;

impl Mutator for JobDefaults {
    fn mutate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Patch>, String> {
        let settings: Settings = ctx.settings_as()?;
        let mut patches = Vec::new();
        for hook in hooks {
            let mut manifest = hook.manifest.clone();
            if apply_defaults(&mut manifest, &settings) {
                patches.push(Patch::new(hook, manifest));
            }
        }
        Ok(patches)
    }
}

hooks_policy_sdk::export_mutator!(JobDefaults);

/// Applies the defaults in place; true when anything changed.
pub fn apply_defaults(manifest: &mut Value, settings: &Settings) -> bool {
    let job_spec = match manifest.get("kind").and_then(Value::as_str) {
        Some("Job") => "/spec",
        Some("CronJob") => "/spec/jobTemplate/spec",
        _ => return false,
    };
    let mut changed = false;
    if let Some(spec) = manifest
        .pointer_mut(job_spec)
        .and_then(Value::as_object_mut)
    {
        if let Some(seconds) = settings.active_deadline_seconds {
            changed |= set_missing(spec, "activeDeadlineSeconds", json!(seconds));
        }
        if let Some(limit) = settings.backoff_limit {
            changed |= set_missing(spec, "backoffLimit", json!(limit));
        }
    }
    if !settings.labels.is_empty()
        && let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(labels) = object_at(metadata, "labels")
    {
        for (key, value) in &settings.labels {
            changed |= set_missing(labels, key, json!(value));
        }
    }
    if let Some(timeout) = &settings.hook_timeout
        && let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = object_at(metadata, "annotations")
    {
        changed |= set_missing(annotations, TIMEOUT_ANNOTATION, json!(timeout));
    }
    for mut pod in pod_specs_mut(manifest) {
        for (kind, _, container) in pod.containers_mut() {
            // Kubernetes rejects resources on ephemeral containers.
            if kind != ContainerKind::Ephemeral {
                changed |= default_resources(container, settings);
            }
        }
    }
    changed
}

/// Defaults a resource only when the container sets neither its request nor its limit:
/// a default next to a chart's value could make the request exceed the limit.
fn default_resources(container: &mut Value, settings: &Settings) -> bool {
    let Some(container) = container.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (resource, request, limit) in settings.resources.defaults() {
        let set_by_chart = ["requests", "limits"].iter().any(|section| {
            container
                .get("resources")
                .and_then(|r| r.get(section))
                .and_then(|s| s.get(resource))
                .is_some()
        });
        if set_by_chart {
            continue;
        }
        for (section, quantity) in [("requests", request), ("limits", limit)] {
            let target = object_at(container, "resources").and_then(|r| object_at(r, section));
            if let (Some(quantity), Some(target)) = (quantity, target) {
                changed |= set_missing(target, resource, json!(quantity));
            }
        }
    }
    changed
}

fn set_missing(object: &mut Map<String, Value>, key: &str, value: Value) -> bool {
    if object.get(key).is_some_and(|v| !v.is_null()) {
        return false;
    }
    object.insert(key.to_owned(), value);
    true
}

/// The object under `key`, created when missing or `null`; `None` when the chart put
/// something else there, which is not ours to replace.
fn object_at<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = parent.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

#[cfg(test)]
mod tests;
