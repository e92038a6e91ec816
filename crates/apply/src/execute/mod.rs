//! Helm's `execHook`, over kube-rs: one hook at a time in plan order, or (`parallel`) a
//! wave at a time, the wave's Jobs and Pods together.
//!
//! Each hook has its own [`HookRun`] (the hook, its target, its report, what it created);
//! what the hooks share is borrowed in a [`Ctx`]. The serial driver runs one `HookRun`
//! after another; the wave driver runs a wave's Jobs and Pods concurrently, each
//! `HookRun` borrowed by one future. Clean-up after success or failure is one code path
//! for both.

mod dry_run;
mod hook;

use std::num::NonZeroUsize;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hooks_plan::{HOOK_FAILED, HOOK_SUCCEEDED, Plan};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::hook::{Ctx, HookRun};
use crate::discovery::Discovery;
use crate::events::{Emit, Emitter, EventKind, EventSink};
use crate::report::{DeleteReason, Report, RunOutcome};
use crate::{ApplyError, Connection};

/// Set on every object the executor creates, so that after an ambiguous create (the
/// connection broke, the server answered 5xx) it can tell its own object from a stranger.
pub const RUN_ID_ANNOTATION: &str = "hooks.kubectl-hooks.dev/run-id";
/// The default field manager: who owns the fields of applied hooks, as the API server
/// records it in `managedFields`.
pub const FIELD_MANAGER: &str = "kubectl-hooks";

/// How a hook's object gets into the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyMethod {
    /// Server-side apply, as Helm 4 does: an object that is already there (a CRD hook on
    /// a second run, a hook without `before-hook-creation`, a leftover) is updated in
    /// place, and fields another manager owns with other values are a conflict.
    #[default]
    ServerSide,
    /// A create, which fails when the object exists, as Helm 3 does.
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DryRun {
    #[default]
    None,
    /// No mutating request at all; reads (discovery, GETs) say what would happen.
    Client,
    /// Creates and deletes are sent with `dryRun=All`, so the server validates them and
    /// changes nothing; nothing is waited for.
    Server,
}

/// Which hooks' container logs are shown, beyond what `helm.sh/hook-output-log-policy`
/// asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShowLogs {
    /// Failed Job and Pod hooks, plus what the chart asks for.
    #[default]
    Failed,
    /// Every Job and Pod hook.
    Always,
    /// Only what the chart's output-log policy asks for (Helm's behaviour).
    Never,
}

/// Run the plan's waves one after another: each wave first applies, in plan order, the
/// hooks that run no containers (waiting for CustomResourceDefinitions to be
/// established), then starts its Jobs and Pods together and waits for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parallel {
    /// The most Jobs and Pods running at once; `None`: a whole wave's.
    pub max_parallel: Option<NonZeroUsize>,
}

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Bounds each wait of a hook (a deletion, a create's retries, a Job or Pod
    /// finishing) unless the hook has its own `kubectl-hooks.dev/timeout`.
    pub timeout: Duration,
    pub dry_run: DryRun,
    pub show_logs: ShowLogs,
    /// How many lines of each container's log to show, the last ones; `None` for all.
    pub log_tail_lines: Option<i64>,
    /// Written to [`RUN_ID_ANNOTATION`] on created objects.
    pub run_id: String,
    pub apply: ApplyMethod,
    /// Named on every write; the owner of the applied fields.
    pub field_manager: String,
    /// Server-side apply takes over fields other managers own instead of failing.
    pub force_conflicts: bool,
    /// `None`: one hook at a time, as Helm. `Some`: wave by wave.
    pub parallel: Option<Parallel>,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            timeout: hooks_plan::DEFAULT_TIMEOUT,
            dry_run: DryRun::None,
            show_logs: ShowLogs::Failed,
            log_tail_lines: Some(50),
            run_id: new_run_id(),
            apply: ApplyMethod::ServerSide,
            field_manager: FIELD_MANAGER.to_owned(),
            force_conflicts: false,
            parallel: None,
        }
    }
}

/// A run id unique enough to recognise our own objects: time and process id, in hex.
pub fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:016x}-{:x}", nanos as u64, std::process::id())
}

/// Applies plans to one cluster. Discovery results are kept between runs.
pub struct Executor {
    connection: Connection,
    options: ExecuteOptions,
    discovery: Discovery,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("connection", &self.connection)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// How the hooks ran: the hooks that stopped the event, and the error to report.
#[derive(Default)]
struct Stopped {
    /// The first error, or the interruption.
    error: Option<ApplyError>,
    /// Every hook that failed, by index, in plan order.
    failed: Vec<usize>,
}

impl Executor {
    pub fn new(connection: Connection, options: ExecuteOptions) -> Executor {
        Executor {
            connection,
            options,
            discovery: Discovery::default(),
        }
    }

    pub fn options(&self) -> &ExecuteOptions {
        &self.options
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Runs the plan's hooks and reports what happened. Never returns early without a
    /// report: failures, API errors and Ctrl-C end up in [`Report::error`].
    pub async fn run(
        &mut self,
        plan: &Plan,
        sink: &mut dyn EventSink,
        cancel: &CancellationToken,
    ) -> Report {
        let emitter = Emitter::new(sink);
        let started = SystemTime::now();
        let clock = Instant::now();
        emitter.emit(
            None,
            None,
            EventKind::RunStarted {
                hooks: plan.hooks.len(),
                namespace: self.connection.namespace.clone(),
                server: self.connection.server.clone(),
            },
        );
        let ctx = Ctx {
            connection: &self.connection,
            options: &self.options,
            discovery: &self.discovery,
            emitter: &emitter,
            cancel,
            total: plan.hooks.len(),
        };
        let mut runs: Vec<HookRun<'_>> = plan
            .hooks
            .iter()
            .map(|planned| {
                let (timeout, source) = plan.timeout_of(planned);
                let timeout = match source {
                    hooks_plan::TimeoutSource::Annotation => timeout,
                    hooks_plan::TimeoutSource::Default => self.options.timeout,
                };
                HookRun::new(planned, (timeout, source))
            })
            .collect();

        let mut stopped = match self.options.parallel {
            None => serial(&ctx, &mut runs).await,
            Some(parallel) => waves(&ctx, &mut runs, parallel).await,
        };

        let interrupted = matches!(stopped.error, Some(ApplyError::Interrupted { .. }));
        if !interrupted && self.options.dry_run == DryRun::None {
            let cleanup = if stopped.error.is_none() {
                after_success(&ctx, &mut runs).await
            } else {
                // As Helm 4: a hook that never got into the cluster (its discovery, its
                // before-hook-creation deletion or its apply failed) stops the event with
                // no deletions at all. The cluster just refused a change; making more is
                // not the answer, and the report lists what is left.
                let deletions = stopped.failed.iter().all(|&i| runs[i].applied);
                after_failure(&ctx, &mut runs, &stopped.failed, deletions).await
            };
            if let Err(interrupt) = cleanup {
                stopped.error = Some(interrupt);
            }
        }

        let error = stopped.error;
        let left_in_cluster = runs
            .iter()
            .filter(|run| run.created.is_some())
            .map(|run| run.report.object.clone())
            .collect();
        Report {
            event: plan.event,
            run_id: self.options.run_id.clone(),
            server: self.connection.server.clone(),
            namespace: self.connection.namespace.clone(),
            dry_run: self.options.dry_run,
            apply_method: self.options.apply,
            field_manager: self.options.field_manager.clone(),
            parallel: self.options.parallel,
            started_at: started,
            ended_at: SystemTime::now(),
            duration: clock.elapsed(),
            outcome: RunOutcome::of(error.as_ref()),
            hooks: runs.into_iter().map(|run| run.report).collect(),
            left_in_cluster,
            error,
        }
    }
}

/// One hook at a time, in plan order, as Helm: the first failure stops the event.
async fn serial(ctx: &Ctx<'_>, runs: &mut [HookRun<'_>]) -> Stopped {
    for (index, run) in runs.iter_mut().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Stopped {
                error: Some(ApplyError::Interrupted { hooks: Vec::new() }),
                failed: Vec::new(),
            };
        }
        if let Err(error) = run.run(ctx).await {
            let failed = match error {
                ApplyError::Interrupted { .. } => Vec::new(),
                _ => vec![index],
            };
            return Stopped {
                error: Some(error),
                failed,
            };
        }
    }
    Stopped::default()
}

/// Wave after wave. In a wave, the hooks that run no containers are applied first, one
/// at a time in plan order (a ConfigMap a Job mounts, RBAC it needs, a CRD waited for
/// until established); then the Jobs and Pods start together, at most `max_parallel` at
/// once. After a failure no hook starts: the ones running finish or reach their own
/// timeout, and no later wave starts.
async fn waves(ctx: &Ctx<'_>, runs: &mut [HookRun<'_>], parallel: Parallel) -> Stopped {
    let waves = runs.last().map_or(0, |run| run.report.wave);
    let mut stopped = Stopped::default();
    let mut rest = runs;
    let mut offset = 0;
    while !rest.is_empty() {
        let wave = rest[0].report.wave;
        let size = rest.iter().take_while(|r| r.report.wave == wave).count();
        let (this, later) = std::mem::take(&mut rest).split_at_mut(size);
        rest = later;
        if ctx.cancel.is_cancelled() {
            stopped.error = Some(ApplyError::Interrupted { hooks: Vec::new() });
            break;
        }
        ctx.emitter.emit(
            None,
            None,
            EventKind::WaveStarted {
                wave,
                waves,
                hooks: this.len(),
                waited: this.iter().filter(|r| r.runs_containers()).count(),
            },
        );
        let (containers, objects): (Vec<(usize, &mut HookRun<'_>)>, Vec<_>) = this
            .iter_mut()
            .enumerate()
            .map(|(i, run)| (offset + i, run))
            .partition(|(_, run)| run.runs_containers());
        offset += size;

        for (index, run) in objects {
            if let Err(error) = run.run(ctx).await {
                stopped.record(index, error);
                return stopped;
            }
        }

        let limit = parallel.max_parallel.map_or(usize::MAX, NonZeroUsize::get);
        let mut pending = containers.into_iter();
        let mut running = FuturesUnordered::new();
        let mut failing = false;
        loop {
            while !failing && running.len() < limit && !ctx.cancel.is_cancelled() {
                let Some((index, run)) = pending.next() else {
                    break;
                };
                running.push(async move { (index, run.run(ctx).await) });
            }
            let Some((index, result)) = running.next().await else {
                break;
            };
            if let Err(error) = result {
                failing = true;
                stopped.record(index, error);
            }
        }
        if stopped.error.is_some() || ctx.cancel.is_cancelled() {
            if stopped.error.is_none() {
                stopped.error = Some(ApplyError::Interrupted { hooks: Vec::new() });
            }
            break;
        }
    }
    stopped
}

impl Stopped {
    /// Keeps the first error; interruptions of several hooks are one, naming them all.
    fn record(&mut self, index: usize, error: ApplyError) {
        match (&mut self.error, error) {
            (Some(ApplyError::Interrupted { hooks }), ApplyError::Interrupted { hooks: more }) => {
                hooks.extend(more)
            }
            // Ctrl-C stops the run whatever else went wrong: it is what the user asked.
            (current, error @ ApplyError::Interrupted { .. }) => {
                *current = Some(error);
            }
            (Some(_), _) => self.failed.push(index),
            (current @ None, error) => {
                *current = Some(error);
                self.failed.push(index);
            }
        }
        self.failed.sort_unstable();
        if let Some(ApplyError::Interrupted { hooks }) = &mut self.error {
            hooks.sort_unstable();
        }
    }
}

/// Helm after hooks were applied and then failed or timed out: each one's logs and its
/// deletion on `hook-failed`; then the deletion of the others that were applied and ask
/// for `hook-succeeded`. With `deletions` false (a hook never got into the cluster)
/// only the logs. Only Ctrl-C stops the clean-up; other errors are reported on the
/// deletion and the clean-up goes on.
async fn after_failure(
    ctx: &Ctx<'_>,
    runs: &mut [HookRun<'_>],
    failed: &[usize],
    deletions: bool,
) -> Result<(), ApplyError> {
    for &index in failed {
        let run = &mut runs[index];
        if !run.applied {
            continue;
        }
        let wanted = run.hook.has_output_log_policy(HOOK_FAILED)
            || matches!(ctx.options.show_logs, ShowLogs::Failed | ShowLogs::Always);
        if wanted {
            run.show_logs(ctx).await;
        }
        if deletions && run.hook.deletes_on(HOOK_FAILED) {
            run.cleanup_delete(ctx, DeleteReason::HookFailed).await?;
        }
    }
    if !deletions {
        return Ok(());
    }
    for (index, run) in runs.iter_mut().enumerate() {
        if !failed.contains(&index) && run.created.is_some() && run.hook.deletes_on(HOOK_SUCCEEDED)
        {
            run.cleanup_delete(ctx, DeleteReason::HookSucceeded).await?;
        }
    }
    Ok(())
}

/// Helm after every hook succeeded: in reverse order, logs for `hook-succeeded`
/// output-log policies and deletion for `hook-succeeded` delete policies.
async fn after_success(ctx: &Ctx<'_>, runs: &mut [HookRun<'_>]) -> Result<(), ApplyError> {
    for run in runs.iter_mut().rev() {
        if run.created.is_none() {
            continue;
        }
        if run.hook.has_output_log_policy(HOOK_SUCCEEDED)
            || ctx.options.show_logs == ShowLogs::Always
        {
            run.show_logs(ctx).await;
        }
        if run.hook.deletes_on(HOOK_SUCCEEDED) {
            run.cleanup_delete(ctx, DeleteReason::HookSucceeded).await?;
        }
    }
    Ok(())
}
