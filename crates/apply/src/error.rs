use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// A Kubernetes object as the executor addresses it: enough to name it in a message and to
/// build the `kubectl` command that would act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    /// The plural resource name from discovery (`jobs`), empty when discovery never ran.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// `kind/name`, the form `kubectl` accepts on its command line.
    pub fn kubectl_name(&self) -> String {
        format!("{}/{}", self.kind.to_lowercase(), self.name)
    }

    /// `kubectl delete kind/name [-n ns]`: what a user can paste to clear the object.
    pub fn kubectl_delete(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("kubectl delete {} -n {ns}", self.kubectl_name()),
            None => format!("kubectl delete {}", self.kubectl_name()),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in namespace `{ns}`")?;
        }
        Ok(())
    }
}

/// How the CLI should treat an error; it maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// The input cannot be applied as written (unreadable manifest, bad kubeconfig).
    BadInput,
    /// The cluster refused or could not be reached.
    Cluster,
    /// A hook ran and failed, or did not finish in time.
    HookFailed,
    /// The user stopped the run.
    Interrupted,
}

/// Everything that stops a run. Each variant names the hook and the object it was about,
/// and [`ApplyError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot load the kubeconfig{}", path.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default())]
    Kubeconfig {
        path: Option<PathBuf>,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("no cluster configuration: no kubeconfig was found and this is not a pod in a cluster")]
    NoConfig {
        #[source]
        source: kube::config::InferConfigError,
    },

    #[error("cannot build a client for `{server}`")]
    Client {
        server: String,
        #[source]
        source: kube::Error,
    },

    #[error("hook {hook}: cannot read its manifest")]
    Manifest {
        hook: String,
        #[source]
        source: Box<hooks_plan::PlanError>,
    },

    #[error("hook {hook}: the cluster does not serve kind `{kind}` in `{api_version}`")]
    UnknownKind {
        hook: String,
        api_version: String,
        kind: String,
    },

    #[error("hook {hook}: API discovery of `{api_version}` failed")]
    Discovery {
        hook: String,
        api_version: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot discover the cluster's API resources")]
    ClusterDiscovery {
        #[source]
        source: kube::Error,
    },

    #[error("hook {hook}: {object} already exists")]
    AlreadyExists {
        hook: String,
        object: Box<ObjectRef>,
        /// CRDs are never deleted by a policy, so the usual advice does not apply.
        never_deleted: bool,
    },

    #[error(
        "hook {hook}: applying {object} conflicts with {}",
        describe_conflicts(conflicts, message)
    )]
    Conflict {
        hook: String,
        object: Box<ObjectRef>,
        /// Who owns which field, as the server listed them; empty when it did not.
        conflicts: Vec<FieldConflict>,
        /// The server's own message, shown when it named no fields.
        message: String,
        /// Ours, for the hint.
        field_manager: String,
    },

    #[error("hook {hook}: forbidden to {verb} {object}: {message}")]
    Forbidden {
        hook: String,
        verb: &'static str,
        object: Box<ObjectRef>,
        message: String,
    },

    #[error("hook {hook}: the server rejected the credentials while trying to {verb} {object}")]
    Unauthorized {
        hook: String,
        verb: &'static str,
        object: Box<ObjectRef>,
    },

    #[error("hook {hook}: namespace `{namespace}` does not exist")]
    NamespaceMissing { hook: String, namespace: String },

    #[error("hook {hook}: cannot {verb} {object}")]
    Api {
        hook: String,
        verb: &'static str,
        object: Box<ObjectRef>,
        #[source]
        source: kube::Error,
    },

    #[error("hook {hook} failed: {reason}")]
    HookFailed { hook: String, reason: String },

    #[error("hook {hook}: timed out after {} waiting for {what}", format_duration(*timeout))]
    Timeout {
        hook: String,
        what: String,
        timeout: Duration,
        /// Its own annotation, or the run's `--timeout`: the hint says which to raise.
        /// (Not `source`, which thiserror takes for the error's cause.)
        from: hooks_plan::TimeoutSource,
    },

    #[error("interrupted{}", running(hooks))]
    Interrupted {
        /// The hooks that were running, in plan order; several in a parallel wave.
        hooks: Vec<String>,
    },
}

/// ` while hook X was running`, ` while hooks X and Y were running`.
fn running(hooks: &[String]) -> String {
    match hooks {
        [] => String::new(),
        [one] => format!(" while hook {one} was running"),
        [rest @ .., last] => format!(" while hooks {} and {last} were running", rest.join(", ")),
    }
}

impl ApplyError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ApplyError::Kubeconfig { .. } | ApplyError::Manifest { .. } => ErrorClass::BadInput,
            ApplyError::HookFailed { .. } | ApplyError::Timeout { .. } => ErrorClass::HookFailed,
            ApplyError::Interrupted { .. } => ErrorClass::Interrupted,
            _ => ErrorClass::Cluster,
        }
    }

    /// The hook the error is about, when there is one.
    pub fn hook(&self) -> Option<&str> {
        match self {
            ApplyError::Manifest { hook, .. }
            | ApplyError::UnknownKind { hook, .. }
            | ApplyError::Discovery { hook, .. }
            | ApplyError::AlreadyExists { hook, .. }
            | ApplyError::Conflict { hook, .. }
            | ApplyError::Forbidden { hook, .. }
            | ApplyError::Unauthorized { hook, .. }
            | ApplyError::NamespaceMissing { hook, .. }
            | ApplyError::Api { hook, .. }
            | ApplyError::HookFailed { hook, .. }
            | ApplyError::Timeout { hook, .. } => Some(hook),
            ApplyError::Interrupted { hooks } => hooks.first().map(String::as_str),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ApplyError::Kubeconfig { .. } => {
                "check `--kubeconfig`, `KUBECONFIG` and `--context`; `kubectl config view` shows what kubectl reads".into()
            }
            ApplyError::NoConfig { .. } => {
                "pass `--kubeconfig FILE` or set `KUBECONFIG`".into()
            }
            ApplyError::Client { .. } => {
                "check the cluster's certificate settings in the kubeconfig".into()
            }
            ApplyError::Manifest { .. } => return None,
            ApplyError::UnknownKind { kind, .. } => format!(
                "install the CustomResourceDefinition for `{kind}` first (a lower-weight hook may create it), or check the apiVersion; `kubectl api-resources` lists what the cluster serves"
            ),
            ApplyError::Discovery { .. } | ApplyError::ClusterDiscovery { .. } => {
                "check that the cluster is reachable: `kubectl version`".into()
            }
            ApplyError::AlreadyExists {
                object,
                never_deleted: true,
                ..
            } => format!(
                "CustomResourceDefinition hooks are never deleted by a policy; delete it yourself if it must be recreated: `{}`",
                object.kubectl_delete()
            ),
            ApplyError::AlreadyExists { object, .. } => format!(
                "it was probably left by an earlier run; drop `--server-side=false` to update it in place as Helm 4 does, add `before-hook-creation` to the hook's `helm.sh/hook-delete-policy`, or delete it: `{}`",
                object.kubectl_delete()
            ),
            ApplyError::Conflict {
                object,
                field_manager,
                ..
            } => format!(
                "another field manager set these fields to other values; to take them over as `{field_manager}`, rerun with `--force-conflicts`; to start from a fresh object, add `before-hook-creation` to the hook's `helm.sh/hook-delete-policy` or delete it: `{}`",
                object.kubectl_delete()
            ),
            ApplyError::Forbidden { verb, object, .. } => {
                let ns = object
                    .namespace
                    .as_ref()
                    .map(|ns| format!(" -n {ns}"))
                    .unwrap_or_default();
                format!(
                    "check the RBAC rules of the identity in your kubeconfig: `kubectl auth can-i {verb} {}{ns}`",
                    if object.resource.is_empty() {
                        object.kind.to_lowercase()
                    } else {
                        object.resource.clone()
                    }
                )
            }
            ApplyError::Unauthorized { .. } => {
                "the kubeconfig's credentials were refused; refresh them (`kubectl get --raw /version` to test)".into()
            }
            ApplyError::NamespaceMissing { namespace, .. } => {
                format!("create it first (`kubectl create namespace {namespace}`) or pass `-n` with an existing one")
            }
            ApplyError::Api { .. } => return None,
            ApplyError::HookFailed { .. } => {
                "the hook's logs are shown above when it was a Job or a Pod; `--show-logs always` shows them for every hook".into()
            }
            ApplyError::Timeout {
                from: hooks_plan::TimeoutSource::Annotation,
                ..
            } => format!(
                "raise the hook's `{}` annotation if it needs longer, or check why it is stuck: `kubectl describe`",
                hooks_plan::TIMEOUT_ANNOTATION
            ),
            ApplyError::Timeout { .. } => format!(
                "raise `--timeout` (or give the hook a `{}` annotation) if it needs longer, or check why it is stuck: `kubectl describe`",
                hooks_plan::TIMEOUT_ANNOTATION
            ),
            ApplyError::Interrupted { .. } => return None,
        })
    }
}

/// One field of a server-side apply conflict: who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldConflict {
    /// The field manager that owns the field (`kubectl-client-side-apply`, `helm`, …).
    pub manager: String,
    /// The field, as the server names it (`.data.key`, `.spec.replicas`).
    pub field: String,
}

impl FieldConflict {
    /// The conflicts a 409 to an apply lists: causes of reason `FieldManagerConflict`
    /// whose message is `conflict with "MANAGER"` (and maybe ` using VERSION`).
    pub(crate) fn from_status(error: &kube::Error) -> Vec<FieldConflict> {
        let kube::Error::Api(status) = error else {
            return Vec::new();
        };
        let Some(details) = &status.details else {
            return Vec::new();
        };
        details
            .causes
            .iter()
            .filter(|c| c.reason == "FieldManagerConflict")
            .map(|c| FieldConflict {
                manager: c.message.split('"').nth(1).unwrap_or(&c.message).to_owned(),
                field: c.field.clone(),
            })
            .collect()
    }
}

/// ``fields owned by `helm`: `.data.a`, `.data.b`; owned by `x`: `.spec` `` in the order
/// the server listed them; the server's message when it listed none.
fn describe_conflicts(conflicts: &[FieldConflict], message: &str) -> String {
    if conflicts.is_empty() {
        return format!("fields another manager owns: {message}");
    }
    let mut managers: Vec<(&str, Vec<&str>)> = Vec::new();
    for conflict in conflicts {
        match managers.iter_mut().find(|(m, _)| *m == conflict.manager) {
            Some((_, fields)) => fields.push(&conflict.field),
            None => managers.push((&conflict.manager, vec![&conflict.field])),
        }
    }
    let owned: Vec<String> = managers
        .iter()
        .map(|(manager, fields)| {
            let fields: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
            format!("owned by `{manager}`: {}", fields.join(", "))
        })
        .collect();
    format!("fields {}", owned.join("; "))
}

pub use hooks_plan::format_duration;

/// The HTTP code of an API error; kube leaves `code` at 0 when the server's Status omitted
/// it, so fall back to the reason the way client-go does.
pub(crate) fn status_code(error: &kube::Error) -> Option<u16> {
    let kube::Error::Api(status) = error else {
        return None;
    };
    if status.code != 0 {
        return Some(status.code);
    }
    Some(match status.reason.as_str() {
        "NotFound" => 404,
        "AlreadyExists" | "Conflict" => 409,
        "Forbidden" => 403,
        "Unauthorized" => 401,
        "Gone" | "Expired" => 410,
        "TooManyRequests" => 429,
        "Invalid" => 422,
        "BadRequest" => 400,
        "ServiceUnavailable" => 503,
        "Timeout" | "ServerTimeout" => 504,
        "InternalError" => 500,
        _ => return None,
    })
}

pub(crate) fn status_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_grouped_by_manager_in_the_servers_order() {
        let causes: Vec<_> = [("helm", ".data.a"), ("other", ".spec"), ("helm", ".data.b")]
            .iter()
            .map(|(m, f)| {
                serde_json::json!({"reason": "FieldManagerConflict",
                    "message": format!("conflict with \"{m}\" using v1"), "field": f})
            })
            .collect();
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "Conflict", "code": 409,
            "message": "Apply failed with 3 conflicts", "details": {"causes": causes}
        }))
        .unwrap();
        let conflicts = FieldConflict::from_status(&kube::Error::Api(status.boxed()));
        assert_eq!(
            describe_conflicts(&conflicts, ""),
            "fields owned by `helm`: `.data.a`, `.data.b`; owned by `other`: `.spec`"
        );
        assert_eq!(
            describe_conflicts(&[], "Apply failed"),
            "fields another manager owns: Apply failed"
        );
    }

    #[test]
    fn interruptions_name_every_running_hook() {
        let interrupted = |hooks: &[&str]| {
            ApplyError::Interrupted {
                hooks: hooks.iter().map(|h| h.to_string()).collect(),
            }
            .to_string()
        };
        assert_eq!(interrupted(&[]), "interrupted");
        assert_eq!(
            interrupted(&["Job/a"]),
            "interrupted while hook Job/a was running"
        );
        assert_eq!(
            interrupted(&["Job/a", "Job/b", "Pod/c"]),
            "interrupted while hooks Job/a, Job/b and Pod/c were running"
        );
    }
}
