use serde_json::Value;

use crate::Event;

/// One hook of the event being planned, as the host describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// `Kind/name`, or `Kind/namespace/name` when the manifest sets a namespace.
    pub id: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// As written in the manifest; `None` means the release namespace.
    pub namespace: Option<String>,
    /// `helm.sh/hook-weight` as Helm reads it (invalid values are 0).
    pub weight: i64,
    /// Every event the hook is attached to, in the annotation's order.
    pub events: Vec<Event>,
    /// `helm.sh/hook-delete-policy` values, lower-cased.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` values, lower-cased.
    pub output_log_policies: Vec<String>,
    /// The template path or file the hook came from.
    pub source: String,
    /// The whole Kubernetes object.
    pub manifest: Value,
    /// The wave the hook is in, from 1 (contract 0.2.0; for 0.1.0 roles the SDK numbers
    /// runs of equal weight the way the host does). 0 when no host planned it.
    pub wave: u32,
    /// Its own `kubectl-hooks.dev/timeout` in milliseconds, as the host read it
    /// (contract 0.2.0; `None` for 0.1.0 roles and when it has none).
    pub timeout_ms: Option<u64>,
}

impl Hook {
    /// Builds a hook from a manifest the way the host does, for native tests and
    /// benchmarks. Fails on a manifest without kind, name or a valid `helm.sh/hook`.
    pub fn from_manifest(manifest: Value) -> Result<Hook, String> {
        let text = |p: &str| {
            manifest
                .pointer(p)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let kind = text("/kind").ok_or("manifest has no kind")?;
        let name = text("/metadata/name").ok_or_else(|| format!("{kind} has no metadata.name"))?;
        let namespace = text("/metadata/namespace").filter(|n| !n.is_empty());
        let id = match &namespace {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        };
        let annotation = |k: &str| {
            manifest
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(k))
                .and_then(Value::as_str)
        };
        let events = annotation("helm.sh/hook")
            .ok_or_else(|| format!("{id} has no helm.sh/hook annotation"))?
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<Event>, _>>()
            .map_err(|e| format!("{id}: {e}"))?;
        let list = |k: &str| -> Vec<String> {
            annotation(k)
                .map(|v| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect()
        };
        Ok(Hook {
            api_version: text("/apiVersion").unwrap_or_default(),
            weight: annotation("helm.sh/hook-weight")
                .and_then(|w| w.parse().ok())
                .unwrap_or(0),
            events,
            delete_policies: list("helm.sh/hook-delete-policy"),
            output_log_policies: list("helm.sh/hook-output-log-policy"),
            source: String::new(),
            id,
            kind,
            name,
            namespace,
            manifest,
            wave: 0,
            timeout_ms: None,
        })
    }

    /// A `metadata.labels` value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata_str("labels", key)
    }

    /// A `metadata.annotations` value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata_str("annotations", key)
    }

    /// A value of the manifest by JSON pointer (RFC 6901), e.g. `/spec/backoffLimit`.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        self.manifest.pointer(pointer)
    }

    /// Whether the hook is attached to `event`.
    pub fn runs_on(&self, event: Event) -> bool {
        self.events.contains(&event)
    }

    fn metadata_str(&self, map: &str, key: &str) -> Option<&str> {
        self.manifest.get("metadata")?.get(map)?.get(key)?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn from_manifest_reads_like_the_host() {
        let hook = Hook::from_manifest(json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "db-init",
                "namespace": "prod",
                "labels": {"team": "db"},
                "annotations": {
                    "helm.sh/hook": "pre-install, Test-Success",
                    "helm.sh/hook-weight": "+5",
                    "helm.sh/hook-delete-policy": "Hook-Succeeded,before-hook-creation"
                }
            },
            "spec": {"backoffLimit": 3}
        }))
        .unwrap();
        assert_eq!(hook.id, "Job/prod/db-init");
        assert_eq!(hook.weight, 5);
        assert_eq!(hook.events, [Event::PreInstall, Event::Test]);
        assert_eq!(
            hook.delete_policies,
            ["hook-succeeded", "before-hook-creation"]
        );
        assert!(hook.output_log_policies.is_empty());
        assert_eq!(hook.label("team"), Some("db"));
        assert_eq!(hook.annotation("missing"), None);
        assert_eq!(hook.pointer("/spec/backoffLimit"), Some(&json!(3)));
        assert!(hook.runs_on(Event::Test));
    }

    #[test]
    fn from_manifest_rejects_non_hooks() {
        let err = Hook::from_manifest(json!({"kind": "Job", "metadata": {"name": "x"}}));
        assert_eq!(err.unwrap_err(), "Job/x has no helm.sh/hook annotation");
        let err = Hook::from_manifest(json!({
            "kind": "Job",
            "metadata": {"name": "x", "annotations": {"helm.sh/hook": "pre-instal"}}
        }));
        assert!(err.unwrap_err().contains("unknown hook event"));
    }
}
