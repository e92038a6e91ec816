//! The component side: wit-bindgen bindings and conversion between them and the plain
//! SDK types. Compiled for wasm32 only; natively there is no host to call.
//!
//! Each role's world is generated separately so a component exports only the roles it
//! implements: with `pub_export_macro`, wit-bindgen emits a world's exports into the
//! component type only where its export macro is invoked (in the policy crate). The
//! mutator and orderer worlds reuse the validator world's `types` and `host` so there
//! is one set of types to convert.

#![allow(unsafe_code)] // generated bindings; nothing else here is unsafe

use std::marker::PhantomData;

use crate::{
    Context, Denial, Event, Hook, Mutator, Orderer, Patch, Schedule, Scheduler, Validator,
    log::Level,
};

pub mod validator {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "validator",
        pub_export_macro: true,
        runtime_path: "::hooks_policy_sdk::__private::wit_bindgen::rt",
    });
}

pub mod mutator {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "mutator",
        pub_export_macro: true,
        runtime_path: "::hooks_policy_sdk::__private::wit_bindgen::rt",
        with: {
            "kubectl-hooks:policy/types@0.1.0": crate::wasm::validator::kubectl_hooks::policy::types,
            "kubectl-hooks:policy/host@0.1.0": crate::wasm::validator::kubectl_hooks::policy::host,
        },
    });
}

pub mod orderer {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "orderer",
        pub_export_macro: true,
        runtime_path: "::hooks_policy_sdk::__private::wit_bindgen::rt",
        with: {
            "kubectl-hooks:policy/types@0.1.0": crate::wasm::validator::kubectl_hooks::policy::types,
            "kubectl-hooks:policy/host@0.1.0": crate::wasm::validator::kubectl_hooks::policy::host,
        },
    });
}

/// Contract 0.2.0's orderer world, for a [`Scheduler`](crate::Scheduler): its own types
/// (0.2.0's hook carries its wave and timeout), converted below.
pub mod scheduler {
    // A world of the SDK's own that is 0.2.0's orderer: wit-bindgen names a world's
    // export macro after the world, and the 0.1.0 orderer's already has that name.
    wit_bindgen::generate!({
        path: "../../wit/v0.2.0",
        inline: "
            package hooks-policy-sdk:scheduler;
            world scheduler {
                include kubectl-hooks:policy/orderer@0.2.0;
            }
        ",
        world: "hooks-policy-sdk:scheduler/scheduler",
        pub_export_macro: true,
        generate_all,
        runtime_path: "::hooks_policy_sdk::__private::wit_bindgen::rt",
    });
}

use validator::kubectl_hooks::policy::{host, types as wit};

pub(crate) fn host_log(level: Level, message: &str) {
    let level = match level {
        Level::Debug => host::Level::Debug,
        Level::Info => host::Level::Info,
        Level::Warn => host::Level::Warn,
        Level::Error => host::Level::Error,
    };
    host::log(level, message);
}

/// Implements a role's generated `Guest` trait for the policy type `T`.
#[derive(Debug)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: Validator> validator::exports::kubectl_hooks::policy::validate::Guest for Adapter<T> {
    fn validate(ctx: wit::Context, hooks: Vec<wit::Hook>) -> Result<Vec<wit::Denial>, String> {
        let (ctx, hooks) = convert_input(ctx, hooks)?;
        let denials = T::validate(&ctx, &hooks);
        discard((ctx, hooks));
        Ok(denials?.into_iter().map(denial_out).collect())
    }
}

impl<T: Mutator> mutator::exports::kubectl_hooks::policy::mutate::Guest for Adapter<T> {
    fn mutate(ctx: wit::Context, hooks: Vec<wit::Hook>) -> Result<Vec<wit::Patch>, String> {
        let (ctx, hooks) = convert_input(ctx, hooks)?;
        let patches = T::mutate(&ctx, &hooks);
        discard((ctx, hooks));
        Ok(patches?.into_iter().map(patch_out).collect())
    }
}

impl<T: Orderer> orderer::exports::kubectl_hooks::policy::order::Guest for Adapter<T> {
    fn order(ctx: wit::Context, hooks: Vec<wit::Hook>) -> Result<Vec<String>, String> {
        let (ctx, hooks) = convert_input(ctx, hooks)?;
        let order = T::order(&ctx, &hooks);
        discard((ctx, hooks));
        order
    }
}

impl<T: Scheduler> scheduler::exports::kubectl_hooks::policy::order::Guest for Adapter<T> {
    fn order(ctx: wit2::Context, hooks: Vec<wit2::Hook>) -> Result<wit2::Schedule, String> {
        let ctx = context_in(wit::Context {
            event: event_in_v2(ctx.event),
            release: ctx.release,
            namespace: ctx.namespace,
            settings: ctx.settings,
            dry_run: ctx.dry_run,
        })?;
        let hooks = hooks
            .into_iter()
            .map(|hook| {
                let (wave, timeout_ms) = (hook.wave, hook.timeout_ms);
                let hook = hook_in(wit::Hook {
                    id: hook.id,
                    api_version: hook.api_version,
                    kind: hook.kind,
                    name: hook.name,
                    namespace: hook.namespace,
                    weight: hook.weight,
                    events: hook.events.into_iter().map(event_in_v2).collect(),
                    delete_policies: hook.delete_policies,
                    output_log_policies: hook.output_log_policies,
                    source: hook.source,
                    manifest: hook.manifest,
                })?;
                Ok(Hook {
                    wave,
                    timeout_ms,
                    ..hook
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let schedule = T::schedule(&ctx, &hooks);
        discard((ctx, hooks));
        Ok(match schedule? {
            Schedule::Order(ids) => wit2::Schedule::Order(ids),
            Schedule::Waves(waves) => wit2::Schedule::Waves(waves),
        })
    }
}

use scheduler::kubectl_hooks::policy::types as wit2;

/// 0.2.0's event is 0.1.0's: the same cases in the same order.
fn event_in_v2(event: wit2::Event) -> wit::Event {
    match event {
        wit2::Event::PreInstall => wit::Event::PreInstall,
        wit2::Event::PostInstall => wit::Event::PostInstall,
        wit2::Event::PreUpgrade => wit::Event::PreUpgrade,
        wit2::Event::PostUpgrade => wit::Event::PostUpgrade,
        wit2::Event::PreDelete => wit::Event::PreDelete,
        wit2::Event::PostDelete => wit::Event::PostDelete,
        wit2::Event::PreRollback => wit::Event::PreRollback,
        wit2::Event::PostRollback => wit::Event::PostRollback,
        wit2::Event::Test => wit::Event::Test,
    }
}

/// Leaves the call's inputs unfreed. kubectl-hooks instantiates a policy afresh for every
/// call and throws the instance away after it, so walking every parsed manifest to free
/// it is work nobody benefits from (about a tenth of a guard's time). Under a host that
/// reuses instances this leaks the inputs of each call, nothing worse.
fn discard<T>(inputs: T) {
    std::mem::forget(inputs);
}

fn convert_input(ctx: wit::Context, hooks: Vec<wit::Hook>) -> Result<(Context, Vec<Hook>), String> {
    let ctx = context_in(ctx)?;
    let mut hooks: Vec<Hook> = hooks.into_iter().map(hook_in).collect::<Result<_, _>>()?;
    // 0.1.0 tells no waves: number runs of equal weight, as the host does before any
    // orderer answered waves.
    let mut wave = 0;
    let mut previous = None;
    for hook in &mut hooks {
        if previous != Some(hook.weight) {
            wave += 1;
            previous = Some(hook.weight);
        }
        hook.wave = wave;
    }
    Ok((ctx, hooks))
}

fn context_in(ctx: wit::Context) -> Result<Context, String> {
    let settings = if ctx.settings.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(&ctx.settings)
            .map_err(|e| format!("settings are not valid JSON: {e}"))?
    };
    Ok(Context {
        event: event_in(ctx.event),
        release: ctx.release,
        namespace: ctx.namespace,
        settings,
        dry_run: ctx.dry_run,
    })
}

fn hook_in(hook: wit::Hook) -> Result<Hook, String> {
    let manifest = serde_json::from_str(&hook.manifest)
        .map_err(|e| format!("hook {}: manifest is not valid JSON: {e}", hook.id))?;
    discard(hook.manifest);
    Ok(Hook {
        id: hook.id,
        api_version: hook.api_version,
        kind: hook.kind,
        name: hook.name,
        namespace: hook.namespace,
        weight: hook.weight,
        events: hook.events.into_iter().map(event_in).collect(),
        delete_policies: hook.delete_policies,
        output_log_policies: hook.output_log_policies,
        source: hook.source,
        manifest,
        wave: 0,
        timeout_ms: None,
    })
}

fn event_in(event: wit::Event) -> Event {
    match event {
        wit::Event::PreInstall => Event::PreInstall,
        wit::Event::PostInstall => Event::PostInstall,
        wit::Event::PreUpgrade => Event::PreUpgrade,
        wit::Event::PostUpgrade => Event::PostUpgrade,
        wit::Event::PreDelete => Event::PreDelete,
        wit::Event::PostDelete => Event::PostDelete,
        wit::Event::PreRollback => Event::PreRollback,
        wit::Event::PostRollback => Event::PostRollback,
        wit::Event::Test => Event::Test,
    }
}

fn denial_out(denial: Denial) -> wit::Denial {
    wit::Denial {
        hook_id: denial.hook_id,
        reason: denial.reason,
    }
}

fn patch_out(patch: Patch) -> wit::Patch {
    wit::Patch {
        hook_id: patch.hook_id,
        manifest: patch.manifest.to_string(),
    }
}
