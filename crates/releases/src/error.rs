use std::fmt;

use crate::storage::{DecodeError, Driver, Status};

/// How the CLI should treat an error; it maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// What the user asked for does not exist: a release, a revision, hooks for an event.
    BadInput,
    /// The cluster refused, could not be reached, or holds a record we cannot read.
    Cluster,
}

/// A revision and its status, for messages: `3 (deployed)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub revision: u64,
    pub status: Status,
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.revision, self.status)
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Everything that stops reading a release or collecting leftovers. Each variant names the
/// release, record or object it is about, and [`ReleaseError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("release `{release}` not found in namespace `{namespace}` (Helm storage: {driver})")]
    NotFound {
        release: String,
        namespace: String,
        driver: Driver,
        /// The releases that are there, by name.
        others: Vec<String>,
    },

    #[error(
        "release `{release}` has no deployed revision (revisions: {})",
        list(revisions)
    )]
    NoDeployedRevision {
        release: String,
        revisions: Vec<Revision>,
    },

    #[error(
        "release `{release}` has no revision {revision} (revisions: {})",
        list(revisions)
    )]
    NoSuchRevision {
        release: String,
        revision: u64,
        revisions: Vec<Revision>,
    },

    #[error(
        "release `{release}` revision {revision} has no `{}` hooks",
        list(events)
    )]
    NoHooks {
        release: String,
        revision: u64,
        events: Vec<hooks_plan::Event>,
        /// The events it has hooks for.
        available: Vec<hooks_plan::Event>,
    },

    #[error("`{object}` cannot be read: {source}")]
    Corrupt {
        object: String,
        #[source]
        source: DecodeError,
    },

    #[error("`{object}` is not a Helm release record: {reason}")]
    Foreign { object: String, reason: String },

    #[error("`{object}`: a stored hook cannot be read")]
    Hook {
        object: String,
        #[source]
        source: Box<hooks_plan::PlanError>,
    },

    #[error("forbidden to {verb} {resource} in namespace `{namespace}`: {message}")]
    Forbidden {
        verb: &'static str,
        resource: String,
        namespace: String,
        message: String,
    },

    #[error("the server rejected the credentials while trying to {verb} {resource}")]
    Unauthorized {
        verb: &'static str,
        resource: String,
    },

    #[error("cannot {verb} {what}")]
    Api {
        verb: &'static str,
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl ReleaseError {
    pub fn class(&self) -> ErrorClass {
        match self {
            ReleaseError::NotFound { .. }
            | ReleaseError::NoDeployedRevision { .. }
            | ReleaseError::NoSuchRevision { .. }
            | ReleaseError::NoHooks { .. } => ErrorClass::BadInput,
            _ => ErrorClass::Cluster,
        }
    }

    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ReleaseError::NotFound {
                namespace,
                driver,
                others,
                ..
            } if others.is_empty() => format!(
                "there are no releases in `{namespace}` in Helm's {driver} storage; pass `-n` for the release's namespace, or `--helm-driver {}` if Helm keeps releases in {}",
                match driver {
                    Driver::Secret => "configmap",
                    Driver::ConfigMap => "secret",
                },
                match driver {
                    Driver::Secret => "ConfigMaps",
                    Driver::ConfigMap => "Secrets",
                }
            ),
            ReleaseError::NotFound {
                namespace, others, ..
            } => format!("releases in `{namespace}`: {}", others.join(", ")),
            ReleaseError::NoDeployedRevision { revisions, .. } => match revisions.last() {
                Some(last) => format!(
                    "pass `--revision N` to read another revision, e.g. `--revision {}`",
                    last.revision
                ),
                None => return None,
            },
            ReleaseError::NoSuchRevision { .. } => {
                "pass one of the revisions listed; `helm history` shows them too".into()
            }
            ReleaseError::NoHooks { available, .. } if available.is_empty() => {
                "the release has no hooks at all".into()
            }
            ReleaseError::NoHooks { available, .. } => {
                format!("it has hooks for: {}", list(available))
            }
            ReleaseError::Corrupt { object, .. } | ReleaseError::Foreign { object, .. } => format!(
                "inspect it with `kubectl get {object} -o yaml`; Helm cannot read it either (`helm history` fails the same way)"
            ),
            ReleaseError::Hook { .. } => {
                "the record was not written by Helm or was changed since; `helm get hooks` shows what it holds".into()
            }
            ReleaseError::Forbidden {
                verb,
                resource,
                namespace,
                ..
            } => format!(
                "reading Helm's releases needs permission to {verb} {resource}; check the identity in your kubeconfig: `kubectl auth can-i {verb} {resource} -n {namespace}`"
            ),
            ReleaseError::Unauthorized { .. } => {
                "the kubeconfig's credentials were refused; refresh them (`kubectl get --raw /version` to test)".into()
            }
            ReleaseError::Api { .. } => {
                "check that the cluster is reachable: `kubectl version`".into()
            }
        })
    }

    /// The API error as a typed error: 403 and 401 get their own variants, whose hints say
    /// what to check.
    pub(crate) fn from_kube(
        error: kube::Error,
        verb: &'static str,
        resource: &str,
        namespace: &str,
        what: String,
    ) -> ReleaseError {
        match &error {
            kube::Error::Api(status) if status.code == 403 || status.reason == "Forbidden" => {
                ReleaseError::Forbidden {
                    verb,
                    resource: resource.to_owned(),
                    namespace: namespace.to_owned(),
                    message: status.message.clone(),
                }
            }
            kube::Error::Api(status) if status.code == 401 || status.reason == "Unauthorized" => {
                ReleaseError::Unauthorized {
                    verb,
                    resource: resource.to_owned(),
                }
            }
            _ => ReleaseError::Api {
                verb,
                what,
                source: error,
            },
        }
    }
}
