//! What a run did, hook by hook: the machine-readable record the CLI prints as JSON.

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::{ApplyError, ApplyMethod, DryRun, DryRunAction, ErrorClass, ObjectRef, Parallel};

/// The whole run. Always produced, also when the run failed or was interrupted, so that it
/// can say truthfully what was done and what is left.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub event: hooks_plan::Event,
    pub run_id: String,
    pub server: String,
    pub namespace: String,
    pub dry_run: DryRun,
    /// Server-side apply or create, and as which field manager.
    pub apply_method: ApplyMethod,
    pub field_manager: String,
    /// `null` for a serial run; how many Jobs and Pods a wave ran at once otherwise.
    pub parallel: Option<Parallel>,
    #[serde(serialize_with = "timestamp")]
    pub started_at: SystemTime,
    #[serde(serialize_with = "timestamp")]
    pub ended_at: SystemTime,
    #[serde(serialize_with = "millis", rename = "durationMs")]
    pub duration: Duration,
    pub outcome: RunOutcome,
    pub hooks: Vec<HookReport>,
    /// Objects this run created that are still in the cluster (as far as it knows).
    pub left_in_cluster: Vec<ObjectRef>,
    #[serde(serialize_with = "error_report")]
    pub error: Option<ApplyError>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.outcome == RunOutcome::Succeeded
    }

    /// The class of the error that ended the run, if it did not succeed.
    pub fn error_class(&self) -> Option<ErrorClass> {
        self.error.as_ref().map(ApplyError::class)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    Succeeded,
    /// A hook failed or timed out.
    Failed,
    /// The cluster refused or could not be reached.
    Error,
    Interrupted,
}

impl RunOutcome {
    /// The run's outcome from the error that ended it, if any.
    pub fn of(error: Option<&ApplyError>) -> RunOutcome {
        match error.map(ApplyError::class) {
            None => RunOutcome::Succeeded,
            Some(ErrorClass::HookFailed) => RunOutcome::Failed,
            Some(ErrorClass::Interrupted) => RunOutcome::Interrupted,
            Some(ErrorClass::BadInput | ErrorClass::Cluster) => RunOutcome::Error,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookReport {
    pub position: usize,
    pub id: String,
    /// The plan's wave (1-based); a parallel run runs a wave's hooks together.
    pub wave: usize,
    pub object: ObjectRef,
    /// What bounded its waits, and where that came from.
    #[serde(serialize_with = "millis", rename = "timeoutMs")]
    pub timeout: Duration,
    pub timeout_from: hooks_plan::TimeoutSource,
    #[serde(serialize_with = "opt_timestamp")]
    pub started_at: Option<SystemTime>,
    #[serde(serialize_with = "opt_timestamp")]
    pub ended_at: Option<SystemTime>,
    #[serde(serialize_with = "opt_millis", rename = "durationMs")]
    pub duration: Option<Duration>,
    pub outcome: HookOutcome,
    pub message: Option<String>,
    /// The uid of the object this run created.
    pub uid: Option<String>,
    pub deletions: Vec<Deletion>,
    pub logs: Vec<LogRecord>,
    /// What a dry run would have done.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dry_run_actions: Vec<DryRunAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookOutcome {
    /// Never started: an earlier hook failed or the run was interrupted before it.
    NotRun,
    /// Started and in progress (only seen in events, or in the report of an interrupt).
    Running,
    /// Created; a kind that is not waited for.
    Created,
    /// A Job completed, a Pod succeeded, or a CustomResourceDefinition was established.
    Succeeded,
    Failed,
    TimedOut,
    /// An API error stopped it.
    Error,
    Interrupted,
    /// Dry run: checked, nothing changed.
    DryRun,
}

impl HookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            HookOutcome::NotRun => "not run",
            HookOutcome::Running => "running",
            HookOutcome::Created => "created",
            HookOutcome::Succeeded => "succeeded",
            HookOutcome::Failed => "failed",
            HookOutcome::TimedOut => "timed out",
            HookOutcome::Error => "error",
            HookOutcome::Interrupted => "interrupted",
            HookOutcome::DryRun => "dry run",
        }
    }

    pub fn is_success(self) -> bool {
        matches!(
            self,
            HookOutcome::Created | HookOutcome::Succeeded | HookOutcome::DryRun
        )
    }

    /// What an error that stopped a hook makes of it: the one mapping from errors to
    /// hook outcomes.
    pub fn of(error: &ApplyError) -> HookOutcome {
        match error {
            ApplyError::HookFailed { .. } => HookOutcome::Failed,
            ApplyError::Timeout { .. } => HookOutcome::TimedOut,
            ApplyError::Interrupted { .. } => HookOutcome::Interrupted,
            _ => HookOutcome::Error,
        }
    }
}

/// Why an object was deleted: the delete policy that asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteReason {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

impl DeleteReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::BeforeHookCreation => hooks_plan::BEFORE_HOOK_CREATION,
            DeleteReason::HookSucceeded => hooks_plan::HOOK_SUCCEEDED,
            DeleteReason::HookFailed => hooks_plan::HOOK_FAILED,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    pub reason: DeleteReason,
    #[serde(serialize_with = "timestamp")]
    pub started_at: SystemTime,
    #[serde(serialize_with = "timestamp")]
    pub ended_at: SystemTime,
    pub result: DeletionResult,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionResult {
    /// It existed and is now gone.
    Deleted,
    /// There was nothing to delete.
    NotFound,
    /// Dry run: it would have been deleted.
    DryRun,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
}

/// RFC 3339 with the precision the clock gives, what `kubectl get -o json` shows.
pub fn format_timestamp(at: SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(at)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn timestamp<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*at))
}

fn opt_timestamp<S: Serializer>(at: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => timestamp(at, s),
        None => s.serialize_none(),
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn opt_millis<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

fn error_report<S: Serializer>(error: &Option<ApplyError>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct ErrorReport<'a> {
        class: ErrorClass,
        hook: Option<&'a str>,
        message: String,
        causes: Vec<String>,
        hint: Option<String>,
        /// A server-side apply conflict's fields and their owners.
        #[serde(skip_serializing_if = "Option::is_none")]
        conflicts: Option<&'a [crate::FieldConflict]>,
    }
    match error {
        None => s.serialize_none(),
        Some(error) => {
            let mut causes = Vec::new();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                causes.push(cause.to_string());
                source = cause.source();
            }
            ErrorReport {
                class: error.class(),
                hook: error.hook(),
                message: error.to_string(),
                causes,
                hint: error.hint(),
                conflicts: match error {
                    ApplyError::Conflict { conflicts, .. } => Some(conflicts),
                    _ => None,
                },
            }
            .serialize(s)
        }
    }
}
