//! Executes a hook plan against a Kubernetes cluster through kube-rs, the way Helm 4's
//! `execHook` does: one hook at a time (or, asked to, a wave of hooks at a time with its
//! Jobs and Pods running together), `before-hook-creation` deletions waited for,
//! objects server-side applied (or created, as Helm 3 did), Jobs and Pods waited on,
//! delete and output-log policies applied after success or failure. Waits use watches
//! that resume after a disconnect; transient API errors are retried, creates only after
//! checking they did not land.
//!
//! ```no_run
//! # async fn demo(plan: hooks_plan::Plan) -> Result<(), hooks_apply::ApplyError> {
//! use hooks_apply::{ClientOptions, Connection, ExecuteOptions, Executor, NoEvents};
//! let connection = Connection::connect(&ClientOptions::default()).await?;
//! let mut executor = Executor::new(connection, ExecuteOptions::default());
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let report = executor.run(&plan, &mut NoEvents, &cancel).await;
//! assert!(report.succeeded());
//! # Ok(()) }
//! ```

mod actions;
mod client;
mod discovery;
mod error;
mod events;
mod execute;
pub mod gc;
mod logs;
mod report;
mod retry;
mod wait;

pub use actions::{DryRunAction, WaitGoal};
pub use client::{ClientOptions, Connection};
pub use error::{ApplyError, ErrorClass, FieldConflict, ObjectRef, format_duration};
pub use events::{Event, EventKind, EventSink, NoEvents};
pub use execute::{
    ApplyMethod, DryRun, ExecuteOptions, Executor, FIELD_MANAGER, Parallel, RUN_ID_ANNOTATION,
    ShowLogs, new_run_id,
};
pub use report::{
    DeleteReason, Deletion, DeletionResult, HookOutcome, HookReport, LogRecord, Report, RunOutcome,
    format_timestamp,
};
pub use tokio_util::sync::CancellationToken;
