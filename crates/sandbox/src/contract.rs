//! What a call gives a guest, in the types of the contract version its role was built
//! against. The pipeline keeps the plan's hooks in 0.1.0's types (converted once);
//! a 0.2.0 role gets them with what 0.2.0 adds, from the plan as it is at the call.

use hooks_plan::Plan;

use crate::bindings::kubectl_hooks::policy::types as wit;
use crate::bindings::v2::kubectl_hooks::policy::types as wit2;
use crate::call::Input;
use crate::role::Contract;

/// The call's input for a role built against `contract`. `hooks` are the plan's hooks
/// in plan order, as 0.1.0 shows them.
pub(crate) fn input<'a>(
    contract: Contract,
    ctx: &'a wit::Context,
    hooks: &'a [wit::Hook],
    plan: &Plan,
) -> Input<'a> {
    match contract {
        Contract::V0_1 => Input::V1 { ctx, hooks },
        Contract::V0_2 => Input::V2 {
            ctx: context(ctx),
            hooks: hooks
                .iter()
                .zip(&plan.hooks)
                .map(|(hook, planned)| hook_v2(hook, planned))
                .collect(),
        },
    }
}

fn context(ctx: &wit::Context) -> wit2::Context {
    wit2::Context {
        event: event(ctx.event),
        release: ctx.release.clone(),
        namespace: ctx.namespace.clone(),
        settings: ctx.settings.clone(),
        dry_run: ctx.dry_run,
    }
}

fn hook_v2(hook: &wit::Hook, planned: &hooks_plan::PlannedHook) -> wit2::Hook {
    wit2::Hook {
        id: hook.id.clone(),
        api_version: hook.api_version.clone(),
        kind: hook.kind.clone(),
        name: hook.name.clone(),
        namespace: hook.namespace.clone(),
        weight: hook.weight,
        events: hook.events.iter().map(|e| event(*e)).collect(),
        delete_policies: hook.delete_policies.clone(),
        output_log_policies: hook.output_log_policies.clone(),
        source: hook.source.clone(),
        manifest: hook.manifest.clone(),
        wave: u32::try_from(planned.wave).unwrap_or(u32::MAX),
        timeout_ms: planned
            .hook
            .timeout
            .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
    }
}

fn event(event: wit::Event) -> wit2::Event {
    match event {
        wit::Event::PreInstall => wit2::Event::PreInstall,
        wit::Event::PostInstall => wit2::Event::PostInstall,
        wit::Event::PreUpgrade => wit2::Event::PreUpgrade,
        wit::Event::PostUpgrade => wit2::Event::PostUpgrade,
        wit::Event::PreDelete => wit2::Event::PreDelete,
        wit::Event::PostDelete => wit2::Event::PostDelete,
        wit::Event::PreRollback => wit2::Event::PreRollback,
        wit::Event::PostRollback => wit2::Event::PostRollback,
        wit::Event::Test => wit2::Event::Test,
    }
}
