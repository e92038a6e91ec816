//! Dry runs of one hook: what a real run would do, as [`DryRunAction`] values.

use hooks_plan::{BEFORE_HOOK_CREATION, HOOK_FAILED, HOOK_SUCCEEDED};
use kube::api::{DeleteParams, PostParams, PropagationPolicy};

use super::ApplyMethod;
use super::hook::{Ctx, HookRun};
use crate::report::DeleteReason;
use crate::retry::{CallError, is_status};
use crate::{ApplyError, DryRunAction};

impl HookRun<'_> {
    /// Reads only: says whether the object exists and what a real run would do.
    pub(super) async fn client_dry_run(
        &self,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<DryRunAction>, ApplyError> {
        let target = self.target();
        let guard = self.guard(ctx);
        let name = target.object.kubectl_name();
        let exists = guard
            .get_opt(&format!("get {name}"), &target.api, &target.object.name)
            .await
            .map_err(|e| self.call_error("get", e, format!("{name} to be read")))?
            .is_some();
        let replace = self.hook.deletes_on(BEFORE_HOOK_CREATION);
        let object = target.object.clone();
        let mut actions = Vec::new();
        match (exists, replace, ctx.options.apply) {
            (true, true, _) => {
                actions.push(DryRunAction::DeleteExisting {
                    object: object.clone(),
                    server_checked: false,
                });
                actions.push(DryRunAction::Create {
                    object,
                    server_checked: false,
                });
            }
            (true, false, ApplyMethod::ServerSide) => actions.push(DryRunAction::UpdateInPlace {
                object,
                field_manager: ctx.options.field_manager.clone(),
            }),
            (true, false, ApplyMethod::Create) => return Err(self.already_exists()),
            (false, _, _) => actions.push(DryRunAction::Create {
                object,
                server_checked: false,
            }),
        }
        self.describe_rest(&mut actions);
        Ok(actions)
    }

    /// The server validates the delete and the apply or create (`dryRun=All`); nothing
    /// changes.
    pub(super) async fn server_dry_run(
        &self,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<DryRunAction>, ApplyError> {
        let target = self.target();
        let guard = self.guard(ctx);
        let name = target.object.kubectl_name();
        let object = target.object.clone();
        let mut actions = Vec::new();
        let mut existed = false;
        if self.hook.deletes_on(BEFORE_HOOK_CREATION) {
            let params = DeleteParams {
                dry_run: true,
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            };
            existed = guard
                .delete_opt(
                    &format!("delete {name} (dry run)"),
                    &target.api,
                    &target.object.name,
                    &params,
                )
                .await
                .map_err(|e| self.call_error("delete", e, format!("{name} to be deleted")))?
                .is_some();
            if existed {
                actions.push(DryRunAction::DeleteExisting {
                    object: object.clone(),
                    server_checked: true,
                });
            }
        }
        // The dry-run delete did not really remove the object, so the server checks the
        // write against the old one: a collision with it says nothing about the real run.
        let checked = match ctx.options.apply {
            ApplyMethod::ServerSide => match self.server_side_apply(ctx, true).await {
                Err(ApplyError::Conflict { .. }) if existed => false,
                result => {
                    result?;
                    true
                }
            },
            ApplyMethod::Create => {
                let params = PostParams {
                    dry_run: true,
                    field_manager: Some(ctx.options.field_manager.clone()),
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
                        return Err(self.already_exists());
                    }
                    Err(e) => {
                        return Err(self.call_error("create", e, format!("{name} to be created")));
                    }
                }
            }
        };
        actions.push(match (checked, ctx.options.apply) {
            (true, ApplyMethod::ServerSide) => DryRunAction::Apply {
                object,
                field_manager: ctx.options.field_manager.clone(),
            },
            (true, ApplyMethod::Create) => DryRunAction::Create {
                object,
                server_checked: true,
            },
            (false, _) => DryRunAction::Create {
                object,
                server_checked: false,
            },
        });
        self.describe_rest(&mut actions);
        Ok(actions)
    }

    /// The wait, and the delete policies that would apply afterwards.
    fn describe_rest(&self, actions: &mut Vec<DryRunAction>) {
        let target = self.target();
        if let Some(waitable) = target.waitable {
            actions.push(DryRunAction::Wait {
                object: target.object.clone(),
                until: waitable.goal(),
                timeout: self.timeout,
            });
        }
        if self.hook.is_never_deleted() {
            return;
        }
        if self.hook.has_delete_policy(HOOK_SUCCEEDED) {
            actions.push(DryRunAction::DeleteAfter {
                policy: DeleteReason::HookSucceeded,
            });
        }
        if self.hook.has_delete_policy(HOOK_FAILED) {
            actions.push(DryRunAction::DeleteAfter {
                policy: DeleteReason::HookFailed,
            });
        }
    }
}
