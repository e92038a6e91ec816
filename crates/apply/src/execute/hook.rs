//! One hook's run: its own state (the hook, its target in the cluster, its report, what it
//! created) and the steps Helm's `execHook` takes for it. Everything a run's hooks share
//! is in [`Ctx`], borrowed, so that the hooks of a wave can be driven concurrently.

use std::time::{Duration, SystemTime};

use hooks_plan::{BEFORE_HOOK_CREATION, Hook, PlannedHook, TimeoutSource};
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, PropagationPolicy,
    ValidationDirective,
};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ApplyMethod, DryRun, ExecuteOptions, RUN_ID_ANNOTATION};
use crate::discovery::{Discovery, Resolved};
use crate::error::{FieldConflict, status_code, status_message};
use crate::events::{Emit, EventKind};
use crate::report::{DeleteReason, Deletion, DeletionResult, HookOutcome, HookReport};
use crate::retry::{Backoff, CallError, Guard, Halt, is_status, is_transient};
use crate::wait::{Completion, UntilGone, Waitable, watch_object};
use crate::{ApplyError, Connection, ObjectRef};

/// What every hook of a run shares: read-only, so that a wave's hooks can borrow it at once.
pub(crate) struct Ctx<'a> {
    pub connection: &'a Connection,
    pub options: &'a ExecuteOptions,
    pub discovery: &'a Discovery,
    pub emitter: &'a (dyn Emit + Sync + 'a),
    pub cancel: &'a CancellationToken,
    /// Hooks in the plan, for "[3/12]".
    pub total: usize,
}

/// A hook resolved against the cluster.
pub(crate) struct Target {
    pub api: Api<DynamicObject>,
    pub object: ObjectRef,
    pub body: DynamicObject,
    pub waitable: Option<Waitable>,
}

/// One hook of the run and everything the run learns about it.
pub(crate) struct HookRun<'p> {
    pub hook: &'p Hook,
    /// Bounds each of its waits: its own annotation, else the run's `--timeout`.
    pub timeout: Duration,
    pub timeout_source: TimeoutSource,
    pub report: HookReport,
    pub target: Option<Target>,
    /// The object this run applied for it, while it is still there.
    pub created: Option<DynamicObject>,
    /// Whether it got into the cluster at all. A hook that never did (its discovery, its
    /// deletion or its apply failed) stops the event with no deletions, as in Helm 4.
    pub applied: bool,
}

impl<'p> HookRun<'p> {
    pub fn new(planned: &'p PlannedHook, timeout: (Duration, TimeoutSource)) -> HookRun<'p> {
        let hook = &planned.hook;
        HookRun {
            hook,
            timeout: timeout.0,
            timeout_source: timeout.1,
            report: HookReport {
                position: planned.position,
                id: hook.id.clone(),
                wave: planned.wave,
                object: ObjectRef {
                    api_version: hook.api_version.clone(),
                    kind: hook.kind.clone(),
                    resource: String::new(),
                    namespace: hook.namespace.clone(),
                    name: hook.name.clone(),
                },
                timeout: timeout.0,
                timeout_from: timeout.1,
                started_at: None,
                ended_at: None,
                duration: None,
                outcome: HookOutcome::NotRun,
                message: None,
                uid: None,
                deletions: Vec::new(),
                logs: Vec::new(),
                dry_run_actions: Vec::new(),
            },
            target: None,
            created: None,
            applied: false,
        }
    }

    /// Whether this hook is a Job or a Pod, which a parallel wave starts together once
    /// the wave's other objects are in place. Known from the manifest, before discovery.
    pub fn runs_containers(&self) -> bool {
        Waitable::of(self.hook.group(), &self.hook.kind).is_some_and(Waitable::has_logs)
    }

    pub fn emit(&self, ctx: &Ctx<'_>, kind: EventKind) {
        ctx.emitter
            .emit(Some(self.report.position), Some(&self.report.id), kind);
    }

    /// Bounds one step of this hook by its timeout and Ctrl-C, reporting retries as events
    /// of this hook.
    pub fn guard<'a>(&self, ctx: &'a Ctx<'a>) -> Guard<'a> {
        let position = self.report.position;
        let id = self.report.id.clone();
        let emitter = ctx.emitter;
        Guard {
            cancel: ctx.cancel,
            deadline: Some(Instant::now() + self.timeout),
            on_retry: Box::new(
                move |what: &str, error: &kube::Error, attempt: u32, delay: Duration| {
                    emitter.emit(
                        Some(position),
                        Some(&id),
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

    /// Runs the hook: delete (`before-hook-creation`), apply, wait; records its start,
    /// end and outcome. The error is what stopped it.
    pub async fn run(&mut self, ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        let started = Instant::now();
        self.report.started_at = Some(SystemTime::now());
        self.report.outcome = HookOutcome::Running;
        self.emit(
            ctx,
            EventKind::HookStarted {
                total: ctx.total,
                wave: self.report.wave,
            },
        );
        let result = self.steps(ctx).await;
        self.report.ended_at = Some(SystemTime::now());
        let duration = started.elapsed();
        self.report.duration = Some(duration);
        let (outcome, message) = match &result {
            Ok(outcome) => (*outcome, None),
            Err(error) => (HookOutcome::of(error), Some(error.to_string())),
        };
        self.report.outcome = outcome;
        self.report.message.clone_from(&message);
        self.emit(
            ctx,
            EventKind::HookFinished {
                outcome,
                message,
                duration,
            },
        );
        result.map(|_| ())
    }

    async fn steps(&mut self, ctx: &Ctx<'_>) -> Result<HookOutcome, ApplyError> {
        let target = self.resolve(ctx).await?;
        self.report.object = target.object.clone();
        self.target = Some(target);

        if ctx.options.dry_run != DryRun::None {
            let actions = match ctx.options.dry_run {
                DryRun::Client => self.client_dry_run(ctx).await?,
                _ => self.server_dry_run(ctx).await?,
            };
            self.report.dry_run_actions.clone_from(&actions);
            self.emit(ctx, EventKind::DryRun { actions });
            return Ok(HookOutcome::DryRun);
        }

        if self.hook.deletes_on(BEFORE_HOOK_CREATION) {
            self.delete(ctx, DeleteReason::BeforeHookCreation).await?;
        }
        let created = match ctx.options.apply {
            ApplyMethod::ServerSide => self.server_side_apply(ctx, false).await?,
            ApplyMethod::Create => self.create(ctx).await?,
        };
        self.applied = true;
        self.report.uid.clone_from(&created.metadata.uid);
        self.created = Some(created.clone());
        let target = self.target.as_ref().expect("resolved above");
        self.emit(
            ctx,
            EventKind::Created {
                object: target.object.clone(),
            },
        );
        let Some(mut waitable) = target.waitable else {
            return Ok(HookOutcome::Created);
        };
        self.emit(
            ctx,
            EventKind::Waiting {
                object: target.object.clone(),
            },
        );
        let guard = self.guard(ctx);
        let waited = watch_object(
            &target.api,
            &target.object.name,
            created.metadata.uid.clone(),
            Some(created),
            &guard,
            &mut waitable,
        )
        .await;
        match waited {
            Ok(Completion::Succeeded) => Ok(HookOutcome::Succeeded),
            Ok(Completion::Failed(reason)) => Err(ApplyError::HookFailed {
                hook: self.hook.id.clone(),
                reason,
            }),
            Err(error) => Err(self.call_error(
                "watch",
                error,
                format!(
                    "{} to {}",
                    target.object.kubectl_name(),
                    waitable.goal().as_str()
                ),
            )),
        }
    }

    async fn resolve(&self, ctx: &Ctx<'_>) -> Result<Target, ApplyError> {
        let hook = self.hook;
        let manifest = hook.manifest().map_err(|source| ApplyError::Manifest {
            hook: hook.id.clone(),
            source: Box::new(source),
        })?;
        let guard = self.guard(ctx);
        let resolved = ctx
            .discovery
            .resolve(
                &ctx.connection.client,
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
            Err(CallError::Api(source)) => {
                return Err(ApplyError::Discovery {
                    hook: hook.id.clone(),
                    api_version: hook.api_version.clone(),
                    source,
                });
            }
            Err(halt) => {
                return Err(self.call_error(
                    "get",
                    halt,
                    format!("discovery of `{}`", hook.api_version),
                ));
            }
        };
        let namespace = namespaced.then(|| {
            hook.namespace
                .clone()
                .unwrap_or_else(|| ctx.connection.namespace.clone())
        });
        let body = self.body(ctx, manifest, namespace.as_deref())?;
        let api = match &namespace {
            Some(ns) => Api::namespaced_with(ctx.connection.client.clone(), ns, &resource),
            None => Api::all_with(ctx.connection.client.clone(), &resource),
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
        ctx: &Ctx<'_>,
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
                    Value::String(ctx.options.run_id.clone()),
                );
            }
        }
        serde_json::from_value(manifest).map_err(|e| ApplyError::HookFailed {
            hook: self.hook.id.clone(),
            reason: format!("its manifest is not a Kubernetes object: {e}"),
        })
    }

    pub fn target(&self) -> &Target {
        self.target
            .as_ref()
            .expect("a hook's steps run after it was resolved")
    }

    /// Deletes the hook's object (background propagation) and waits until it is gone.
    pub async fn delete(
        &mut self,
        ctx: &Ctx<'_>,
        reason: DeleteReason,
    ) -> Result<DeletionResult, ApplyError> {
        let started_at = SystemTime::now();
        let started = Instant::now();
        let object = self.target().object.clone();
        self.emit(
            ctx,
            EventKind::Deleting {
                object: object.clone(),
                reason,
            },
        );
        let result = match self.delete_and_wait(ctx).await {
            Ok(true) => DeletionResult::Deleted,
            Ok(false) => DeletionResult::NotFound,
            Err(error) => {
                let error = self.call_error(
                    "delete",
                    error,
                    format!("{} to be deleted", object.kubectl_name()),
                );
                self.report.deletions.push(Deletion {
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
            self.created = None;
        }
        self.report.deletions.push(Deletion {
            reason,
            started_at,
            ended_at: SystemTime::now(),
            result,
            message: None,
        });
        self.emit(
            ctx,
            EventKind::Deleted {
                object,
                reason,
                existed: result == DeletionResult::Deleted,
                waited: started.elapsed(),
            },
        );
        Ok(result)
    }

    /// `Ok(true)` when there was an object and it is now gone.
    async fn delete_and_wait(&self, ctx: &Ctx<'_>) -> Result<bool, CallError> {
        let target = self.target();
        let guard = self.guard(ctx);
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        let name = &target.object.name;
        let what = format!("delete {}", target.object.kubectl_name());
        let Some(answered) = guard.delete_opt(&what, &target.api, name, &params).await? else {
            return Ok(false);
        };
        // The DELETE's answer does not say whether the object is gone (finalizers, a
        // graceful deletion); a list by name does, and gives the version to watch from.
        let uid = answered
            .and_then(|o| o.metadata.uid)
            .or_else(|| self.created.as_ref().and_then(|o| o.metadata.uid.clone()));
        watch_object(&target.api, name, uid, None, &guard, &mut UntilGone).await?;
        Ok(true)
    }

    /// Server-side applies the manifest: creates the object, or updates the one that is
    /// there in place. An apply is idempotent (the same manager sending the same fields
    /// again changes nothing), so one that failed ambiguously (a 5xx, a broken
    /// connection: it may have landed) is simply sent again.
    pub async fn server_side_apply(
        &self,
        ctx: &Ctx<'_>,
        dry_run: bool,
    ) -> Result<DynamicObject, ApplyError> {
        let target = self.target();
        let guard = self.guard(ctx);
        let name = target.object.kubectl_name();
        let params = PatchParams {
            dry_run,
            force: ctx.options.force_conflicts,
            field_manager: Some(ctx.options.field_manager.clone()),
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
                if is_status(&error, 409) && conflicts_only_with(ctx, &error) =>
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
            CallError::Api(error) if is_status(&error, 409) => self.conflict(ctx, &error),
            error => self.call_error("patch", error, format!("{name} to be applied")),
        })
    }

    /// A 409 to an apply: fields other managers own with other values.
    fn conflict(&self, ctx: &Ctx<'_>, error: &kube::Error) -> ApplyError {
        ApplyError::Conflict {
            hook: self.hook.id.clone(),
            object: Box::new(self.target().object.clone()),
            conflicts: FieldConflict::from_status(error),
            message: status_message(error),
            field_manager: ctx.options.field_manager.clone(),
        }
    }

    /// Creates the object. After a transient failure the create may or may not have
    /// happened, so it is repeated only once a GET shows the object is not there; an object
    /// that is there and carries this run's id is the one we created.
    async fn create(&self, ctx: &Ctx<'_>) -> Result<DynamicObject, ApplyError> {
        let target = self.target();
        let guard = self.guard(ctx);
        let name = target.object.kubectl_name();
        let what = format!("{name} to be created");
        let fail = |verb, error| self.call_error(verb, error, what.clone());
        let params = PostParams {
            dry_run: false,
            field_manager: Some(ctx.options.field_manager.clone()),
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
                    return Err(self.already_exists());
                }
                Err(error) if is_transient(&error) || is_status(&error, 409) => {
                    let Some(delay) = backoff.next() else {
                        return Err(fail("create", CallError::Api(error)));
                    };
                    (guard.on_retry)(&format!("create {name}"), &error, backoff.attempt, delay);
                    guard
                        .pause(delay)
                        .await
                        .map_err(|h| fail("create", CallError::Halt(h)))?;
                    let existing = guard
                        .get_opt(&format!("get {name}"), &target.api, &target.object.name)
                        .await
                        .map_err(|e| fail("get", e))?;
                    match existing {
                        Some(object) if is_ours(ctx, &object) => return Ok(object),
                        Some(_) => return Err(self.already_exists()),
                        None => continue,
                    }
                }
                Err(error) => return Err(fail("create", CallError::Api(error))),
            }
        }
    }

    pub fn already_exists(&self) -> ApplyError {
        ApplyError::AlreadyExists {
            hook: self.hook.id.clone(),
            object: Box::new(self.target().object.clone()),
            never_deleted: self.hook.is_never_deleted(),
        }
    }

    /// Names the request, the hook and the object in an API error; `waiting_for` says
    /// what a wait that ran out of time was waiting for.
    pub fn call_error(
        &self,
        verb: &'static str,
        error: CallError,
        waiting_for: String,
    ) -> ApplyError {
        let hook = self.hook.id.clone();
        let object = || {
            Box::new(
                self.target
                    .as_ref()
                    .map_or_else(|| self.report.object.clone(), |t| t.object.clone()),
            )
        };
        match error {
            CallError::Halt(Halt::Cancelled) => ApplyError::Interrupted { hooks: vec![hook] },
            CallError::Halt(Halt::TimedOut) => ApplyError::Timeout {
                hook,
                what: waiting_for,
                timeout: self.timeout,
                from: self.timeout_source,
            },
            CallError::Api(error) => match status_code(&error) {
                Some(403) => ApplyError::Forbidden {
                    hook,
                    verb,
                    object: object(),
                    message: status_message(&error),
                },
                Some(401) => ApplyError::Unauthorized {
                    hook,
                    verb,
                    object: object(),
                },
                Some(404) if namespace_missing(&error) => ApplyError::NamespaceMissing {
                    hook,
                    namespace: object().namespace.unwrap_or_default(),
                },
                _ => ApplyError::Api {
                    hook,
                    verb,
                    object: object(),
                    source: error,
                },
            },
        }
    }

    /// Reads the last lines of its containers' logs into the report, and shows them.
    pub async fn show_logs(&mut self, ctx: &Ctx<'_>) {
        let (Some(target), Some(object)) = (&self.target, &self.created) else {
            return;
        };
        let (Some(waitable), Some(namespace)) = (
            target.waitable.filter(|w| w.has_logs()),
            &target.object.namespace,
        ) else {
            return;
        };
        let (records, problems) = {
            let guard = self.guard(ctx);
            crate::logs::collect(
                &ctx.connection.client,
                namespace,
                waitable,
                object,
                ctx.options.log_tail_lines,
                &guard,
            )
            .await
        };
        for record in &records {
            self.emit(
                ctx,
                EventKind::LogLines {
                    pod: record.pod.clone(),
                    container: record.container.clone(),
                    lines: record.lines.clone(),
                },
            );
        }
        for message in problems {
            self.emit(ctx, EventKind::Warning { message });
        }
        self.report.logs.extend(records);
    }

    /// A policy deletion after the hooks ran: failures become warnings, Ctrl-C stops.
    pub async fn cleanup_delete(
        &mut self,
        ctx: &Ctx<'_>,
        reason: DeleteReason,
    ) -> Result<(), ApplyError> {
        if self.target.is_none() {
            return Ok(());
        }
        match self.delete(ctx, reason).await {
            Ok(_) => Ok(()),
            Err(error @ ApplyError::Interrupted { .. }) => Err(error),
            Err(error) => {
                self.emit(
                    ctx,
                    EventKind::Warning {
                        message: format!("clean-up ({}) failed: {error}", reason.as_str()),
                    },
                );
                Ok(())
            }
        }
    }
}

fn is_ours(ctx: &Ctx<'_>, object: &DynamicObject) -> bool {
    object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(RUN_ID_ANNOTATION))
        .is_some_and(|id| *id == ctx.options.run_id)
}

fn conflicts_only_with(ctx: &Ctx<'_>, error: &kube::Error) -> bool {
    let conflicts = FieldConflict::from_status(error);
    !conflicts.is_empty()
        && conflicts
            .iter()
            .all(|c| c.manager == ctx.options.field_manager)
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
