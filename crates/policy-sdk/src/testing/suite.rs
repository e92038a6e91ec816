//! Runs a policy test suite (`tests.yaml`, format in `policies/README.md`) against a
//! policy's native build, so a suite's fixtures and expectations are checked by
//! `cargo test` as well as by `kubectl hooks policy test` against the component. The
//! format and the matching are `hooks-policy-suite`'s, the same code `policy test` uses.

use std::collections::HashMap;
use std::path::Path;

use hooks_policy_suite::{Case, FinalHook, Outcome, Suite};

use crate::{Context, Denial, Event, Hook, Patch};

type Role<T> = fn(&Context, &[Hook]) -> Result<Vec<T>, String>;

/// A policy's roles as plain functions, e.g.
/// `NativePolicy { validate: Some(DenyPrivileged::validate), ..Default::default() }`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativePolicy {
    pub mutate: Option<Role<Patch>>,
    pub order: Option<Role<String>>,
    pub validate: Option<Role<Denial>>,
}

/// Runs every case of the suite at `path`; the error lists every failing case.
pub fn run_suite(path: impl AsRef<Path>, policy: &NativePolicy) -> Result<(), String> {
    let path = path.as_ref();
    let suite = Suite::read(path).map_err(|e| match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    })?;
    let failures: Vec<String> = suite
        .run(|case| run_case(case, policy))
        .into_iter()
        .filter(|report| !report.passed())
        .map(|report| {
            format!(
                "case `{}`: {}",
                report.name,
                report.problems.join("; ").replace('\n', "\n    ")
            )
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn run_case(case: &Case, policy: &NativePolicy) -> Result<Outcome, String> {
    let event: Event = case.event.as_str().parse()?;
    let plan = case
        .plan()
        .map_err(|e| format!("cannot plan the manifests: {e}"))?;
    let mut hooks = plan
        .hooks
        .into_iter()
        .map(super::convert)
        .collect::<Result<Vec<_>, _>>()?;
    let ctx = Context::new(event).with_settings(case.settings.clone());
    let denials = run_pipeline(&ctx, &mut hooks, policy)?;
    Ok(Outcome {
        denials: denials
            .into_iter()
            .map(|d| hooks_policy_suite::Denial {
                hook: d.hook_id,
                reason: d.reason,
            })
            .collect(),
        hooks: hooks
            .into_iter()
            .map(|h| FinalHook {
                id: h.id,
                manifest: h.manifest,
            })
            .collect(),
    })
}

/// Mutate, order, validate: the host's pipeline for one policy.
fn run_pipeline(
    ctx: &Context,
    hooks: &mut Vec<Hook>,
    policy: &NativePolicy,
) -> Result<Vec<Denial>, String> {
    if let Some(mutate) = policy.mutate {
        for patch in mutate(ctx, hooks)? {
            let hook = hooks
                .iter_mut()
                .find(|h| h.id == patch.hook_id)
                .ok_or_else(|| format!("patch for unknown hook {}", patch.hook_id))?;
            hook.manifest = patch.manifest;
        }
    }
    if let Some(order) = policy.order {
        let ids = order(ctx, hooks)?;
        let mut by_id: HashMap<String, Hook> = hooks.drain(..).map(|h| (h.id.clone(), h)).collect();
        for id in &ids {
            let hook = by_id
                .remove(id)
                .ok_or_else(|| format!("order names {id} twice or names an unknown hook"))?;
            hooks.push(hook);
        }
        if !by_id.is_empty() {
            return Err(format!("order leaves out {:?}", by_id.keys()));
        }
    }
    match policy.validate {
        Some(validate) => validate(ctx, hooks),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny_jobs(_: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String> {
        Ok(hooks
            .iter()
            .filter(|h| h.kind == "Job")
            .map(|h| Denial::hook(h, format!("no jobs ({})", h.name)))
            .collect())
    }

    fn reverse(_: &Context, hooks: &[Hook]) -> Result<Vec<String>, String> {
        Ok(hooks.iter().rev().map(|h| h.id.clone()).collect())
    }

    fn null_deadline(_: &Context, hooks: &[Hook]) -> Result<Vec<Patch>, String> {
        Ok(hooks
            .iter()
            .filter(|h| h.kind == "Job")
            .map(|h| {
                let mut manifest = h.manifest.clone();
                manifest["spec"]["activeDeadlineSeconds"] = serde_json::Value::Null;
                Patch::new(h, manifest)
            })
            .collect())
    }

    fn run(cases: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let ledger = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/ledger/rendered.yaml"
        );
        let suite = format!(
            "policy: p.wasm\ncases:\n{}",
            cases.replace("LEDGER", ledger)
        );
        let path = dir.path().join("tests.yaml");
        std::fs::write(&path, suite).unwrap();
        let policy = NativePolicy {
            mutate: Some(null_deadline),
            validate: Some(deny_jobs),
            order: Some(reverse),
        };
        run_suite(&path, &policy)
    }

    #[test]
    fn passing_expectations() {
        run(r#"
  - name: ok
    event: pre-delete
    manifests: LEDGER
    expect:
      allowed: false
      order: [Job/ledger-backup, Job/ledger-drain]
      denials:
        - {hook: Job/ledger-drain, reasonContains: drain}
        - {hook: Job/ledger-backup}
      patched:
        - {hook: Job/ledger-drain, path: /spec/template/spec/restartPolicy, value: Never}
        - {hook: Job/ledger-drain, path: /spec/backoffLimit, absent: true}
        - {hook: Job/ledger-drain, path: /spec/activeDeadlineSeconds, value: null}
"#)
        .unwrap();
    }

    #[test]
    fn failing_expectations_are_reported() {
        let err = run(r#"
  - name: wrong order
    event: pre-delete
    manifests: LEDGER
    expect: {order: [Job/ledger-drain, Job/ledger-backup]}
  - name: missing denial
    event: pre-delete
    manifests: LEDGER
    expect:
      denials: [{hook: Job/ledger-drain}]
  - name: allowed
    event: pre-delete
    manifests: LEDGER
    expect: {allowed: true}
  - name: error expected
    event: pre-delete
    manifests: LEDGER
    expect: {error: boom}
  - name: null is not absent
    event: pre-delete
    manifests: LEDGER
    expect:
      patched: [{hook: Job/ledger-drain, path: /spec/activeDeadlineSeconds, absent: true}]
  - name: passes
    event: post-delete
    manifests: LEDGER
    expect: {allowed: false}
"#)
        .unwrap_err();
        let failed: Vec<&str> = err
            .lines()
            .filter_map(|l| l.strip_prefix("case `"))
            .map(|l| l.split('`').next().unwrap())
            .collect();
        assert_eq!(
            failed,
            [
                "wrong order",
                "missing denial",
                "allowed",
                "error expected",
                "null is not absent"
            ],
            "{err}"
        );
    }
}
