use std::collections::BTreeMap;

use serde::Deserialize;

/// Every field has a default; `null` switches that default off.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    pub active_deadline_seconds: Option<i64>,
    pub backoff_limit: Option<i64>,
    pub resources: Resources,
    /// Replaces the default labels as a whole (`{}` adds none).
    pub labels: BTreeMap<String, String>,
    /// A Job's own `kubectl-hooks.dev/timeout` when it has none (`"15m"`); off unless
    /// set, because the host takes it only from a policy configured with a
    /// `maxHookTimeout` at least this long.
    pub hook_timeout: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            active_deadline_seconds: Some(600),
            backoff_limit: Some(1),
            resources: Resources::default(),
            labels: BTreeMap::from([(
                "hooks.kubectl-hooks.dev/managed".to_owned(),
                "true".to_owned(),
            )]),
            hook_timeout: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    pub requests: Requests,
    pub limits: Limits,
}

/// Separate request and limit types because each field has its own default, so a
/// setting can override one quantity and keep the others.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Requests {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            cpu: Some("100m".to_owned()),
            memory: Some("128Mi".to_owned()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Some("500m".to_owned()),
            memory: Some("256Mi".to_owned()),
        }
    }
}

impl Resources {
    /// (resource, request, limit) for each resource with a default.
    pub fn defaults(&self) -> [(&'static str, Option<&str>, Option<&str>); 2] {
        [
            (
                "cpu",
                self.requests.cpu.as_deref(),
                self.limits.cpu.as_deref(),
            ),
            (
                "memory",
                self.requests.memory.as_deref(),
                self.limits.memory.as_deref(),
            ),
        ]
    }
}
