use serde_json::Value;

use crate::Hook;

/// A veto: the whole event is not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The hook it is about, or `None` for the event as a whole.
    pub hook_id: Option<String>,
    pub reason: String,
}

impl Denial {
    pub fn hook(hook: &Hook, reason: impl Into<String>) -> Self {
        Denial {
            hook_id: Some(hook.id.clone()),
            reason: reason.into(),
        }
    }

    pub fn event(reason: impl Into<String>) -> Self {
        Denial {
            hook_id: None,
            reason: reason.into(),
        }
    }
}

/// A replacement manifest for one hook.
///
/// The host refuses patches that change apiVersion, kind, metadata.name,
/// metadata.namespace, `helm.sh/hook` or `helm.sh/hook-weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub hook_id: String,
    pub manifest: Value,
}

impl Patch {
    pub fn new(hook: &Hook, manifest: Value) -> Self {
        Patch {
            hook_id: hook.id.clone(),
            manifest,
        }
    }
}
