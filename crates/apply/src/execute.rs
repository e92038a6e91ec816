//! Helm's `execHook`, over kube-rs: one hook at a time, in plan order.

use std::time::{Duration, SystemTime};

use hooks_plan::{BEFORE_HOOK_CREATION, HOOK_FAILED, HOOK_SUCCEEDED, Hook, Plan};
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, PropagationPolicy,
    ValidationDirective,
};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::discovery::{Discovery, Resolved};
use crate::error::{FieldConflict, format_duration, status_code, status_message};
use crate::events::{Emit, Emitter, EventKind, EventSink};
use crate::report::{
    DeleteReason, Deletion, DeletionResult, HookOutcome, HookReport, Report, RunOutcome,
};
use crate::retry::{Backoff, CallError, Guard, Halt, is_status, is_transient};
use crate::wait::{Completion, UntilGone, Waitable, watch_object};
use crate::{ApplyError, Connection, ObjectRef};

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

#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Bounds each wait: a deletion, a create's retries, a Job or Pod finishing.
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
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            timeout: Duration::from_secs(300),
            dry_run: DryRun::None,
            show_logs: ShowLogs::Failed,
            log_tail_lines: Some(50),
            run_id: new_run_id(),
            apply: ApplyMethod::ServerSide,
            field_manager: FIELD_MANAGER.to_owned(),
            force_conflicts: false,
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

/// A hook resolved against the cluster.
struct Target {
    api: Api<DynamicObject>,
    object: ObjectRef,
    body: DynamicObject,
    waitable: Option<Waitable>,
}

/// What stopped a hook, and whether it left an object behind.
struct Stop {
    error: ApplyError,
    created: bool,
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

    /// Runs the plan's hooks in order and reports what happened. Never returns early
    /// without a report: failures, API errors and Ctrl-C end up in [`Report::error`].
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
        let mut run = RunState {
            hooks: plan.hooks.iter().map(|p| &p.hook).collect(),
            reports: plan
                .hooks
                .iter()
                .map(|p| HookReport {
                    position: p.position,
                    id: p.hook.id.clone(),
                    object: ObjectRef {
                        api_version: p.hook.api_version.clone(),
                        kind: p.hook.kind.clone(),
                        resource: String::new(),
                        namespace: p.hook.namespace.clone(),
                        name: p.hook.name.clone(),
                    },
                    started_at: None,
                    ended_at: None,
                    duration: None,
                    outcome: HookOutcome::NotRun,
                    message: None,
                    uid: None,
                    deletions: Vec::new(),
                    logs: Vec::new(),
                    dry_run_actions: Vec::new(),
                })
                .collect(),
            targets: plan.hooks.iter().map(|_| None).collect(),
            created: plan.hooks.iter().map(|_| None).collect(),
            emitter: &emitter,
            cancel,
        };

        let mut error = None;
        let mut failed_at = None;
        for index in 0..run.hooks.len() {
            if cancel.is_cancelled() {
                error = Some(ApplyError::Interrupted { hook: None });
                break;
            }
            if let Err(stop) = self.run_hook(&mut run, index).await {
                failed_at = Some((index, stop.created));
                error = Some(stop.error);
                break;
            }
        }

        let interrupted = matches!(error, Some(ApplyError::Interrupted { .. }));
        if !interrupted && self.options.dry_run == DryRun::None {
            let cleanup = match failed_at {
                // As Helm 4: a hook that never got into the cluster (its discovery, its
                // before-hook-creation deletion or its apply failed) stops the event with
                // no deletions at all. The cluster just refused a change; making more is
                // not the answer, and the report lists what is left.
                Some((_, false)) => Ok(()),
                Some((index, true)) => self.after_failure(&mut run, index).await,
                None => self.after_success(&mut run).await,
            };
            if let Err(interrupt) = cleanup {
                error = Some(interrupt);
            }
        }

        let outcome = match &error {
            None => RunOutcome::Succeeded,
            Some(e) => match e.class() {
                crate::ErrorClass::HookFailed => RunOutcome::Failed,
                crate::ErrorClass::Interrupted => RunOutcome::Interrupted,
                _ => RunOutcome::Error,
            },
        };
        let left_in_cluster = run
            .created
            .iter()
            .zip(&run.reports)
            .filter(|(created, _)| created.is_some())
            .map(|(_, report)| report.object.clone())
            .collect();
        Report {
            event: plan.event,
            run_id: self.options.run_id.clone(),
            server: self.connection.server.clone(),
            namespace: self.connection.namespace.clone(),
            dry_run: self.options.dry_run,
            apply_method: self.options.apply,
            field_manager: self.options.field_manager.clone(),
            started_at: started,
            ended_at: SystemTime::now(),
            duration: clock.elapsed(),
            outcome,
            hooks: run.reports,
            left_in_cluster,
            error,
        }
    }

    async fn run_hook(&mut self, run: &mut RunState<'_>, index: usize) -> Result<(), Stop> {
        let started = Instant::now();
        run.reports[index].started_at = Some(SystemTime::now());
        run.reports[index].outcome = HookOutcome::Running;
        run.emit(
            index,
            EventKind::HookStarted {
                total: run.hooks.len(),
            },
        );
        let result = self.hook_steps(run, index).await;
        let report = &mut run.reports[index];
        report.ended_at = Some(SystemTime::now());
        report.duration = Some(started.elapsed());
        let (outcome, message) = match &result {
            Ok(outcome) => (*outcome, None),
            Err(stop) => (
                match &stop.error {
                    ApplyError::HookFailed { .. } => HookOutcome::Failed,
                    ApplyError::Timeout { .. } => HookOutcome::TimedOut,
                    ApplyError::Interrupted { .. } => HookOutcome::Interrupted,
                    _ => HookOutcome::Error,
                },
                Some(stop.error.to_string()),
            ),
        };
        report.outcome = outcome;
        report.message.clone_from(&message);
        let duration = started.elapsed();
        run.emit(
            index,
            EventKind::HookFinished {
                outcome,
                message,
                duration,
            },
        );
        result.map(|_| ())
    }

    /// before-hook-creation, create, wait.
    async fn hook_steps(
        &mut self,
        run: &mut RunState<'_>,
        index: usize,
    ) -> Result<HookOutcome, Stop> {
        let hook = run.hooks[index];
        let stop = |error| Stop {
            error,
            created: false,
        };
        let target = self.resolve(run, index).await.map_err(stop)?;
        run.reports[index].object = target.object.clone();

        let dry_run = match self.options.dry_run {
            DryRun::Client => Some(self.client_dry_run(run, index, &target).await),
            DryRun::Server => Some(self.server_dry_run(run, index, &target).await),
            DryRun::None => None,
        };
        if let Some(actions) = dry_run {
            let actions = actions.map_err(stop)?;
            run.reports[index].dry_run_actions.clone_from(&actions);
            run.emit(index, EventKind::DryRun { actions });
            run.targets[index] = Some(target);
            return Ok(HookOutcome::DryRun);
        }

        if hook.deletes_on(BEFORE_HOOK_CREATION) {
            self.delete(run, index, &target, DeleteReason::BeforeHookCreation)
                .await
                .map_err(stop)?;
        }

        let created = match self.options.apply {
            ApplyMethod::ServerSide => self.server_side_apply(run, index, &target, false).await,
            ApplyMethod::Create => self.create(run, index, &target).await,
        }
        .map_err(stop)?;
        run.reports[index].uid.clone_from(&created.metadata.uid);
        run.created[index] = Some(created.clone());
        run.emit(
            index,
            EventKind::Created {
                object: target.object.clone(),
            },
        );
        let waitable = target.waitable;
        run.targets[index] = Some(target);
        let Some(mut waitable) = waitable else {
            return Ok(HookOutcome::Created);
        };

        let target = run.targets[index].as_ref().expect("set above");
        run.emit(
            index,
            EventKind::Waiting {
                object: target.object.clone(),
            },
        );
        let deadline = Instant::now() + self.options.timeout;
        let guard = run.guard(index, deadline);
        let name = target.object.name.clone();
        let waited = watch_object(
            &target.api,
            &name,
            created.metadata.uid.clone(),
            Some(created),
            &guard,
            &mut waitable,
        )
        .await;
        let created_stop = |error| Stop {
            error,
            created: true,
        };
        match waited {
            Ok(Completion::Succeeded) => Ok(HookOutcome::Succeeded),
            Ok(Completion::Failed(reason)) => Err(created_stop(ApplyError::HookFailed {
                hook: hook.id.clone(),
                reason,
            })),
            Err(error) => Err(created_stop(self.call_error(
                hook,
                "watch",
                &target.object,
                error,
                format!("{} to {}", target.object.kubectl_name(), waitable.goal()),
            ))),
        }
    }

    async fn resolve(&mut self, run: &RunState<'_>, index: usize) -> Result<Target, ApplyError> {
        let hook = run.hooks[index];
        let manifest = hook.manifest().map_err(|source| ApplyError::Manifest {
            hook: hook.id.clone(),
            source: Box::new(source),
        })?;
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let resolved = self
            .discovery
            .resolve(
                &self.connection.client,
                &hook.api_version,
                &hook.kind,
                &guard,
            )
            .await;
        let Resolved {
            resource,
            namespaced,
        } = match resolved {
            Ok(Some(resolved)) => resolved,
            Ok(None) => {
                return Err(ApplyError::UnknownKind {
                    hook: hook.id.clone(),
                    api_version: hook.api_version.clone(),
                    kind: hook.kind.clone(),
                });
            }
            Err(CallError::Halt(Halt::Cancelled)) => {
                return Err(ApplyError::Interrupted {
                    hook: Some(hook.id.clone()),
                });
            }
            Err(CallError::Halt(Halt::TimedOut)) => {
                return Err(ApplyError::Timeout {
                    hook: hook.id.clone(),
                    what: format!("discovery of `{}`", hook.api_version),
                    timeout: self.options.timeout,
                });
            }
            Err(CallError::Api(source)) => {
                return Err(ApplyError::Discovery {
                    hook: hook.id.clone(),
                    api_version: hook.api_version.clone(),
                    source,
                });
            }
        };
        let namespace = namespaced.then(|| {
            hook.namespace
                .clone()
                .unwrap_or_else(|| self.connection.namespace.clone())
        });
        let body = self.body(hook, manifest, namespace.as_deref())?;
        let api = match &namespace {
            Some(ns) => Api::namespaced_with(self.connection.client.clone(), ns, &resource),
            None => Api::all_with(self.connection.client.clone(), &resource),
        };
        Ok(Target {
            api,
            object: ObjectRef {
                api_version: hook.api_version.clone(),
                kind: hook.kind.clone(),
                resource: resource.plural.clone(),
                namespace,
                name: hook.name.clone(),
            },
            body,
            waitable: Waitable::of(&resource.group, &resource.kind),
        })
    }

    /// The manifest as sent: in its namespace (cluster-scoped objects carry none), marked
    /// with the run id.
    fn body(
        &self,
        hook: &Hook,
        mut manifest: Value,
        namespace: Option<&str>,
    ) -> Result<DynamicObject, ApplyError> {
        if let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            match namespace {
                Some(ns) => {
                    metadata.insert("namespace".into(), Value::String(ns.to_owned()));
                }
                None => {
                    metadata.remove("namespace");
                }
            }
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(
                    RUN_ID_ANNOTATION.into(),
                    Value::String(self.options.run_id.clone()),
                );
            }
        }
        serde_json::from_value(manifest).map_err(|e| ApplyError::HookFailed {
            hook: hook.id.clone(),
            reason: format!("its manifest is not a Kubernetes object: {e}"),
        })
    }

    /// Deletes the hook's object (background propagation) and waits until it is gone.
    async fn delete(
        &self,
        run: &mut RunState<'_>,
        index: usize,
        target: &Target,
        reason: DeleteReason,
    ) -> Result<DeletionResult, ApplyError> {
        let hook = run.hooks[index];
        let started_at = SystemTime::now();
        let started = Instant::now();
        run.emit(
            index,
            EventKind::Deleting {
                object: target.object.clone(),
                reason,
            },
        );
        let result = self.delete_and_wait(run, index, target).await;
        let (result, message) = match result {
            Ok(existed) => (
                if existed {
                    DeletionResult::Deleted
                } else {
                    DeletionResult::NotFound
                },
                None,
            ),
            Err(error) => {
                let error = self.call_error(
                    hook,
                    "delete",
                    &target.object,
                    error,
                    format!("{} to be deleted", target.object.kubectl_name()),
                );
                run.reports[index].deletions.push(Deletion {
                    reason,
                    started_at,
                    ended_at: SystemTime::now(),
                    result: DeletionResult::Failed,
                    message: Some(error.to_string()),
                });
                return Err(error);
            }
        };
        if result == DeletionResult::Deleted && reason != DeleteReason::BeforeHookCreation {
            run.created[index] = None;
        }
        run.reports[index].deletions.push(Deletion {
            reason,
            started_at,
            ended_at: SystemTime::now(),
            result,
            message,
        });
        run.emit(
            index,
            EventKind::Deleted {
                object: target.object.clone(),
                reason,
                existed: result == DeletionResult::Deleted,
                waited: started.elapsed(),
            },
        );
        Ok(result)
    }

    /// `Ok(true)` when there was an object and it is now gone.
    async fn delete_and_wait(
        &self,
        run: &RunState<'_>,
        index: usize,
        target: &Target,
    ) -> Result<bool, CallError> {
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let name = &target.object.name;
        let deleted = guard
            .call(
                &format!("delete {}", target.object.kubectl_name()),
                || async {
                    match target.api.delete(name, &params).await {
                        Ok(response) => Ok(Some(response)),
                        Err(e) if is_status(&e, 404) => Ok(None),
                        Err(e) => Err(e),
                    }
                },
            )
            .await?;
        let Some(response) = deleted else {
            return Ok(false);
        };
        // The DELETE's answer does not say whether the object is gone (finalizers, a
        // graceful deletion); a list by name does, and gives the version to watch from.
        let uid = response.left().and_then(|o| o.metadata.uid).or_else(|| {
            run.created[index]
                .as_ref()
                .and_then(|o| o.metadata.uid.clone())
        });
        watch_object(&target.api, name, uid, None, &guard, &mut UntilGone).await?;
        Ok(true)
    }

    /// Server-side applies the manifest: creates the object, or updates the one that is
    /// there in place. An apply is idempotent (the same manager sending the same fields
    /// again changes nothing), so one that failed ambiguously (a 5xx, a broken
    /// connection: it may have landed) is simply sent again.
    async fn server_side_apply(
        &self,
        run: &RunState<'_>,
        index: usize,
        target: &Target,
        dry_run: bool,
    ) -> Result<DynamicObject, ApplyError> {
        let hook = run.hooks[index];
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let name = target.object.kubectl_name();
        let params = PatchParams {
            dry_run,
            force: self.options.force_conflicts,
            field_manager: Some(self.options.field_manager.clone()),
            // As Helm 4: fields the server does not know are an error, not dropped.
            field_validation: Some(ValidationDirective::Strict),
        };
        let what = if dry_run { " (dry run)" } else { "" };
        let patch = Patch::Apply(&target.body);
        let step = format!("apply {name}{what}");
        let apply = |params: PatchParams| {
            let (guard, patch, step) = (&guard, &patch, &step);
            async move {
                guard
                    .call(step, || {
                        target.api.patch(&target.object.name, &params, patch)
                    })
                    .await
            }
        };
        let result = match apply(params.clone()).await {
            // Fields only we ever set, with a create (`--server-side=false` on an earlier
            // run): ours to take over, as Helm takes over the fields its client-side
            // apply set when a release moves to server-side apply.
            Err(CallError::Api(error))
                if is_status(&error, 409) && self.conflicts_only_with_ourselves(&error) =>
            {
                apply(PatchParams {
                    force: true,
                    ..params
                })
                .await
            }
            result => result,
        };
        result.map_err(|error| match error {
            CallError::Api(error) if is_status(&error, 409) => self.conflict(hook, target, &error),
            error => self.call_error(
                hook,
                "patch",
                &target.object,
                error,
                format!("{name} to be applied"),
            ),
        })
    }

    fn conflicts_only_with_ourselves(&self, error: &kube::Error) -> bool {
        let conflicts = FieldConflict::from_status(error);
        !conflicts.is_empty()
            && conflicts
                .iter()
                .all(|c| c.manager == self.options.field_manager)
    }

    /// A 409 to an apply: fields other managers own with other values.
    fn conflict(&self, hook: &Hook, target: &Target, error: &kube::Error) -> ApplyError {
        ApplyError::Conflict {
            hook: hook.id.clone(),
            object: Box::new(target.object.clone()),
            conflicts: FieldConflict::from_status(error),
            message: status_message(error),
            field_manager: self.options.field_manager.clone(),
        }
    }

    /// Creates the object. After a transient failure the create may or may not have
    /// happened, so it is repeated only once a GET shows the object is not there; an object
    /// that is there and carries this run's id is the one we created.
    async fn create(
        &self,
        run: &RunState<'_>,
        index: usize,
        target: &Target,
    ) -> Result<DynamicObject, ApplyError> {
        let hook = run.hooks[index];
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let what = format!("{} to be created", target.object.kubectl_name());
        let fail = |verb, error| self.call_error(hook, verb, &target.object, error, what.clone());
        let params = PostParams {
            dry_run: false,
            field_manager: Some(self.options.field_manager.clone()),
        };
        let mut backoff = Backoff::default();
        loop {
            let attempt = guard
                .bound(target.api.create(&params, &target.body))
                .await
                .map_err(|h| fail("create", CallError::Halt(h)))?;
            match attempt {
                Ok(created) => return Ok(created),
                Err(error) if is_status(&error, 409) && backoff.attempt == 0 => {
                    return Err(self.already_exists(hook, target));
                }
                Err(error) if is_transient(&error) || is_status(&error, 409) => {
                    let Some(delay) = backoff.next() else {
                        return Err(fail("create", CallError::Api(error)));
                    };
                    (guard.on_retry)(
                        &format!("create {}", target.object.kubectl_name()),
                        &error,
                        backoff.attempt,
                        delay,
                    );
                    guard
                        .pause(delay)
                        .await
                        .map_err(|h| fail("create", CallError::Halt(h)))?;
                    let existing = guard
                        .call(&format!("get {}", target.object.kubectl_name()), || async {
                            match target.api.get(&target.object.name).await {
                                Ok(object) => Ok(Some(object)),
                                Err(e) if is_status(&e, 404) => Ok(None),
                                Err(e) => Err(e),
                            }
                        })
                        .await
                        .map_err(|e| fail("get", e))?;
                    match existing {
                        Some(object) if self.is_ours(&object) => return Ok(object),
                        Some(_) => return Err(self.already_exists(hook, target)),
                        None => continue,
                    }
                }
                Err(error) => return Err(fail("create", CallError::Api(error))),
            }
        }
    }

    fn is_ours(&self, object: &DynamicObject) -> bool {
        object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RUN_ID_ANNOTATION))
            .is_some_and(|id| *id == self.options.run_id)
    }

    fn already_exists(&self, hook: &Hook, target: &Target) -> ApplyError {
        ApplyError::AlreadyExists {
            hook: hook.id.clone(),
            object: Box::new(target.object.clone()),
            never_deleted: hook.is_never_deleted(),
        }
    }

    /// Names the request, the hook and the object in an API error.
    fn call_error(
        &self,
        hook: &Hook,
        verb: &'static str,
        object: &ObjectRef,
        error: CallError,
        waiting_for: String,
    ) -> ApplyError {
        let hook_id = hook.id.clone();
        match error {
            CallError::Halt(Halt::Cancelled) => ApplyError::Interrupted {
                hook: Some(hook_id),
            },
            CallError::Halt(Halt::TimedOut) => ApplyError::Timeout {
                hook: hook_id,
                what: waiting_for,
                timeout: self.options.timeout,
            },
            CallError::Api(error) => match status_code(&error) {
                Some(403) => ApplyError::Forbidden {
                    hook: hook_id,
                    verb,
                    object: Box::new(object.clone()),
                    message: status_message(&error),
                },
                Some(401) => ApplyError::Unauthorized {
                    hook: hook_id,
                    verb,
                    object: Box::new(object.clone()),
                },
                Some(404) if namespace_missing(&error) => ApplyError::NamespaceMissing {
                    hook: hook_id,
                    namespace: object.namespace.clone().unwrap_or_default(),
                },
                _ => ApplyError::Api {
                    hook: hook_id,
                    verb,
                    object: Box::new(object.clone()),
                    source: error,
                },
            },
        }
    }

    /// Reads only: says whether the object exists and what a real run would do.
    async fn client_dry_run(
        &self,
        run: &RunState<'_>,
        index: usize,
        target: &Target,
    ) -> Result<Vec<String>, ApplyError> {
        let hook = run.hooks[index];
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let name = target.object.kubectl_name();
        let exists = guard
            .call(&format!("get {name}"), || async {
                match target.api.get(&target.object.name).await {
                    Ok(_) => Ok(true),
                    Err(e) if is_status(&e, 404) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| {
                self.call_error(hook, "get", &target.object, e, format!("{name} to be read"))
            })?;
        let replace = hook.deletes_on(BEFORE_HOOK_CREATION);
        let mut actions = Vec::new();
        match (exists, replace, self.options.apply) {
            (true, true, _) => {
                actions.push(format!(
                    "would delete the existing {name} (before-hook-creation) and wait until it is gone"
                ));
                actions.push(format!("would create {}", target.object));
            }
            (true, false, ApplyMethod::ServerSide) => actions.push(format!(
                "would update the existing {} in place (server-side apply as `{}`)",
                target.object, self.options.field_manager
            )),
            (true, false, ApplyMethod::Create) => return Err(self.already_exists(hook, target)),
            (false, _, _) => actions.push(format!("would create {}", target.object)),
        }
        self.describe_rest(hook, target, &mut actions);
        Ok(actions)
    }

    /// The server validates the delete and the apply or create (`dryRun=All`); nothing
    /// changes.
    async fn server_dry_run(
        &self,
        run: &RunState<'_>,
        index: usize,
        target: &Target,
    ) -> Result<Vec<String>, ApplyError> {
        let hook = run.hooks[index];
        let guard = run.guard(index, Instant::now() + self.options.timeout);
        let name = target.object.kubectl_name();
        let mut actions = Vec::new();
        let mut existed = false;
        if hook.deletes_on(BEFORE_HOOK_CREATION) {
            let params = DeleteParams {
                dry_run: true,
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            };
            existed = guard
                .call(&format!("delete {name} (dry run)"), || async {
                    match target.api.delete(&target.object.name, &params).await {
                        Ok(_) => Ok(true),
                        Err(e) if is_status(&e, 404) => Ok(false),
                        Err(e) => Err(e),
                    }
                })
                .await
                .map_err(|e| {
                    self.call_error(
                        hook,
                        "delete",
                        &target.object,
                        e,
                        format!("{name} to be deleted"),
                    )
                })?;
            if existed {
                actions.push(format!(
                    "would delete the existing {name} (before-hook-creation; the server accepted the deletion)"
                ));
            }
        }
        // The dry-run delete did not really remove the object, so the server checks the
        // write against the old one: a collision with it says nothing about the real run.
        let checked = match self.options.apply {
            ApplyMethod::ServerSide => {
                match self.server_side_apply(run, index, target, true).await {
                    Err(ApplyError::Conflict { .. }) if existed => false,
                    result => {
                        result?;
                        true
                    }
                }
            }
            ApplyMethod::Create => {
                let params = PostParams {
                    dry_run: true,
                    field_manager: Some(self.options.field_manager.clone()),
                };
                // Not retried after an ambiguous failure: a dry-run create changes
                // nothing, so repeating it is safe.
                let created = guard
                    .call(&format!("create {name} (dry run)"), || async {
                        match target.api.create(&params, &target.body).await {
                            Ok(_) => Ok(true),
                            Err(e) if existed && is_status(&e, 409) => Ok(false),
                            Err(e) => Err(e),
                        }
                    })
                    .await;
                match created {
                    Ok(checked) => checked,
                    Err(CallError::Api(e)) if is_status(&e, 409) => {
                        return Err(self.already_exists(hook, target));
                    }
                    Err(e) => {
                        return Err(self.call_error(
                            hook,
                            "create",
                            &target.object,
                            e,
                            format!("{name} to be created"),
                        ));
                    }
                }
            }
        };
        actions.push(match (checked, self.options.apply) {
            (true, ApplyMethod::ServerSide) => format!(
                "would apply {} (server-side apply as `{}`; the server accepted it)",
                target.object, self.options.field_manager
            ),
            (true, ApplyMethod::Create) => {
                format!("would create {} (the server accepted it)", target.object)
            }
            (false, _) => format!("would create {}", target.object),
        });
        self.describe_rest(hook, target, &mut actions);
        Ok(actions)
    }

    fn describe_rest(&self, hook: &Hook, target: &Target, actions: &mut Vec<String>) {
        if let Some(waitable) = target.waitable {
            actions.push(format!(
                "would wait up to {} for the {} to {}",
                format_duration(self.options.timeout),
                target.object.kind,
                waitable.goal(),
            ));
        }
        if hook.is_never_deleted() {
            return;
        }
        if hook.has_delete_policy(HOOK_SUCCEEDED) {
            actions.push("would delete it if the event succeeds (hook-succeeded)".into());
        }
        if hook.has_delete_policy(HOOK_FAILED) {
            actions.push("would delete it if it fails (hook-failed)".into());
        }
    }

    /// Helm after a hook that was created and then failed or timed out: its logs, its
    /// deletion on `hook-failed`, and the deletion of the hooks before it that ask for
    /// `hook-succeeded`. Only Ctrl-C stops the clean-up; other errors are reported on the
    /// deletion and the clean-up goes on.
    async fn after_failure(&self, run: &mut RunState<'_>, index: usize) -> Result<(), ApplyError> {
        let hook = run.hooks[index];
        let wanted = hook.has_output_log_policy(HOOK_FAILED)
            || matches!(self.options.show_logs, ShowLogs::Failed | ShowLogs::Always);
        if wanted {
            self.show_logs(run, index).await;
        }
        if hook.deletes_on(HOOK_FAILED) {
            self.cleanup_delete(run, index, DeleteReason::HookFailed)
                .await?;
        }
        for earlier in 0..index {
            let earlier_hook = run.hooks[earlier];
            if run.created[earlier].is_some() && earlier_hook.deletes_on(HOOK_SUCCEEDED) {
                self.cleanup_delete(run, earlier, DeleteReason::HookSucceeded)
                    .await?;
            }
        }
        Ok(())
    }

    /// Helm after every hook succeeded: in reverse order, logs for `hook-succeeded`
    /// output-log policies and deletion for `hook-succeeded` delete policies.
    async fn after_success(&self, run: &mut RunState<'_>) -> Result<(), ApplyError> {
        for index in (0..run.hooks.len()).rev() {
            let hook = run.hooks[index];
            if run.created[index].is_none() {
                continue;
            }
            if hook.has_output_log_policy(HOOK_SUCCEEDED)
                || self.options.show_logs == ShowLogs::Always
            {
                self.show_logs(run, index).await;
            }
            if hook.deletes_on(HOOK_SUCCEEDED) {
                self.cleanup_delete(run, index, DeleteReason::HookSucceeded)
                    .await?;
            }
        }
        Ok(())
    }

    /// A policy deletion after the hooks ran: failures become warnings, Ctrl-C stops.
    async fn cleanup_delete(
        &self,
        run: &mut RunState<'_>,
        index: usize,
        reason: DeleteReason,
    ) -> Result<(), ApplyError> {
        let Some(target) = run.targets[index].take() else {
            return Ok(());
        };
        let result = self.delete(run, index, &target, reason).await;
        run.targets[index] = Some(target);
        match result {
            Ok(_) => Ok(()),
            Err(error @ ApplyError::Interrupted { .. }) => Err(error),
            Err(error) => {
                run.emit(
                    index,
                    EventKind::Warning {
                        message: format!("clean-up ({}) failed: {error}", reason.as_str()),
                    },
                );
                Ok(())
            }
        }
    }

    async fn show_logs(&self, run: &mut RunState<'_>, index: usize) {
        let (Some(target), Some(object)) = (&run.targets[index], &run.created[index]) else {
            return;
        };
        let (Some(waitable), Some(namespace)) = (
            target.waitable.filter(|w| w.has_logs()),
            &target.object.namespace,
        ) else {
            return;
        };
        let (records, problems) = {
            let guard = run.guard(index, Instant::now() + self.options.timeout);
            crate::logs::collect(
                &self.connection.client,
                namespace,
                waitable,
                object,
                self.options.log_tail_lines,
                &guard,
            )
            .await
        };
        for record in &records {
            run.emit(
                index,
                EventKind::LogLines {
                    pod: record.pod.clone(),
                    container: record.container.clone(),
                    lines: record.lines.clone(),
                },
            );
        }
        for message in problems {
            run.emit(index, EventKind::Warning { message });
        }
        run.reports[index].logs.extend(records);
    }
}

/// A 404 on a create in a namespace that does not exist says so in its details.
fn namespace_missing(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .is_some_and(|d| d.kind == "namespaces"),
        _ => false,
    }
}

/// The state of one run, shared by the steps.
struct RunState<'a> {
    hooks: Vec<&'a Hook>,
    reports: Vec<HookReport>,
    targets: Vec<Option<Target>>,
    /// The object this run created for each hook, while it is still there.
    created: Vec<Option<DynamicObject>>,
    emitter: &'a (dyn Emit + Sync + 'a),
    cancel: &'a CancellationToken,
}

impl RunState<'_> {
    fn emit(&self, index: usize, kind: EventKind) {
        self.emitter.emit(
            Some(self.reports[index].position),
            Some(&self.reports[index].id),
            kind,
        );
    }

    /// Bounds one step of hook `index` by `deadline` and Ctrl-C, reporting its retries as
    /// events of that hook.
    fn guard(&self, index: usize, deadline: Instant) -> Guard<'_> {
        Guard {
            cancel: self.cancel,
            deadline: Some(deadline),
            on_retry: Box::new(
                move |what: &str, error: &kube::Error, attempt: u32, delay: Duration| {
                    self.emit(
                        index,
                        EventKind::Retrying {
                            what: what.to_owned(),
                            error: status_message(error),
                            attempt,
                            delay,
                        },
                    )
                },
            ),
        }
    }
}
