//! What a dry run says it would do, as values: the report carries them as data, the
//! progress shows them as sentences.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::ObjectRef;
use crate::report::DeleteReason;

/// One thing a real run would do for a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum DryRunAction {
    /// `before-hook-creation`: delete the object that is there and wait until it is
    /// gone. `server_checked`: a `--dry-run=server` deletion the server accepted.
    DeleteExisting {
        object: ObjectRef,
        server_checked: bool,
    },
    /// Create the object. `server_checked`: the server accepted it in a dry run.
    Create {
        object: ObjectRef,
        server_checked: bool,
    },
    /// Server-side apply over the object that is there: it is updated in place.
    UpdateInPlace {
        object: ObjectRef,
        field_manager: String,
    },
    /// Server-side apply, which the server accepted in a dry run.
    Apply {
        object: ObjectRef,
        field_manager: String,
    },
    /// Wait for the Job, Pod or CustomResourceDefinition, at most `timeout`.
    Wait {
        object: ObjectRef,
        until: WaitGoal,
        #[serde(rename = "timeoutMs", serialize_with = "millis")]
        timeout: Duration,
    },
    /// A delete policy that applies afterwards: `hook-succeeded` when the event succeeds,
    /// `hook-failed` when the hook fails.
    DeleteAfter { policy: DeleteReason },
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitGoal {
    /// A Job: `Complete=True` (or `Failed=True`, which fails the hook).
    Complete,
    /// A Pod: phase `Succeeded` (or `Failed`).
    Succeed,
    /// A CustomResourceDefinition: `Established=True`.
    BeEstablished,
}

impl WaitGoal {
    /// After "wait for the KIND to".
    pub fn as_str(self) -> &'static str {
        match self {
            WaitGoal::Complete => "complete",
            WaitGoal::Succeed => "succeed",
            WaitGoal::BeEstablished => "be established",
        }
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl fmt::Display for DryRunAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DryRunAction::DeleteExisting {
                object,
                server_checked: false,
            } => write!(
                f,
                "would delete the existing {} (before-hook-creation) and wait until it is gone",
                object.kubectl_name()
            ),
            DryRunAction::DeleteExisting {
                object,
                server_checked: true,
            } => write!(
                f,
                "would delete the existing {} (before-hook-creation; the server accepted the deletion)",
                object.kubectl_name()
            ),
            DryRunAction::Create {
                object,
                server_checked: false,
            } => write!(f, "would create {object}"),
            DryRunAction::Create {
                object,
                server_checked: true,
            } => write!(f, "would create {object} (the server accepted it)"),
            DryRunAction::UpdateInPlace {
                object,
                field_manager,
            } => write!(
                f,
                "would update the existing {object} in place (server-side apply as `{field_manager}`)"
            ),
            DryRunAction::Apply {
                object,
                field_manager,
            } => write!(
                f,
                "would apply {object} (server-side apply as `{field_manager}`; the server accepted it)"
            ),
            DryRunAction::Wait {
                object,
                until,
                timeout,
            } => write!(
                f,
                "would wait up to {} for the {} to {}",
                crate::format_duration(*timeout),
                object.kind,
                until.as_str()
            ),
            DryRunAction::DeleteAfter {
                policy: DeleteReason::HookFailed,
            } => f.write_str("would delete it if it fails (hook-failed)"),
            DryRunAction::DeleteAfter { policy } => write!(
                f,
                "would delete it if the event succeeds ({})",
                policy.as_str()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ObjectRef {
        ObjectRef {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            resource: "jobs".into(),
            namespace: Some("apps".into()),
            name: "migrate".into(),
        }
    }

    #[test]
    fn actions_are_data_in_json_and_sentences_on_screen() {
        let wait = DryRunAction::Wait {
            object: job(),
            until: WaitGoal::Complete,
            timeout: Duration::from_secs(90),
        };
        assert_eq!(
            serde_json::to_value(&wait).unwrap(),
            serde_json::json!({"action": "wait", "object": {"apiVersion": "batch/v1",
                "kind": "Job", "resource": "jobs", "namespace": "apps", "name": "migrate"},
                "until": "complete", "timeoutMs": 90000})
        );
        assert_eq!(
            wait.to_string(),
            "would wait up to 1m30s for the Job to complete"
        );
        let apply = DryRunAction::Apply {
            object: job(),
            field_manager: "kubectl-hooks".into(),
        };
        assert_eq!(
            apply.to_string(),
            "would apply Job/migrate in namespace `apps` (server-side apply as `kubectl-hooks`; the server accepted it)"
        );
        let after = DryRunAction::DeleteAfter {
            policy: DeleteReason::HookSucceeded,
        };
        assert_eq!(
            serde_json::to_value(&after).unwrap(),
            serde_json::json!({"action": "delete-after", "policy": "hook-succeeded"})
        );
    }
}
