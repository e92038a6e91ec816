//! Native helpers for policy tests and benchmarks (feature `testing`).

mod suite;

pub use suite::{NativePolicy, run_suite};

use std::path::Path;

use hooks_plan::{Input, LoadOptions, Ordering};

use crate::{Event, Hook};

/// The hooks of `event` in `path` (a file or directory of manifests), in Helm's
/// execution order, as kubectl-hooks hands them to a policy.
pub fn load_hooks(path: impl AsRef<Path>, event: Event) -> Result<Vec<Hook>, String> {
    let path = path.as_ref();
    let event = hooks_plan::Event::from_annotation_value(event.as_str())
        .ok_or_else(|| format!("the planner does not know event {event}"))?;
    let inputs = [Input::Path(path.to_owned())];
    let plan = hooks_plan::plan_inputs(&inputs, &LoadOptions::default(), event, Ordering::Helm)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    plan.hooks.into_iter().map(convert).collect()
}

fn convert(planned: hooks_plan::PlannedHook) -> Result<Hook, String> {
    let wave = u32::try_from(planned.wave).unwrap_or(u32::MAX);
    let hook = planned.hook;
    let timeout_ms = hook
        .timeout
        .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let manifest = hook.manifest().map_err(|e| format!("{}: {e}", hook.id))?;
    Ok(Hook {
        events: hook
            .events
            .iter()
            .map(|e| e.as_str().parse())
            .collect::<Result<_, _>>()?,
        source: hook.source.to_string(),
        id: hook.id,
        api_version: hook.api_version,
        kind: hook.kind,
        name: hook.name,
        namespace: hook.namespace,
        weight: hook.weight,
        delete_policies: hook.delete_policies,
        output_log_policies: hook.output_log_policies,
        manifest,
        wave,
        timeout_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_example_chart_in_helm_order() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/ledger/rendered.yaml"
        );
        let hooks = load_hooks(path, Event::PreDelete).unwrap();
        let ids: Vec<_> = hooks.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["Job/ledger-drain", "Job/ledger-backup"]);
        assert_eq!(
            hooks[1].label("hooks.kubectl-hooks.dev/backup"),
            Some("true")
        );
        assert_eq!(hooks[0].source, "ledger/templates/hooks/pre-delete.yaml");
    }
}
