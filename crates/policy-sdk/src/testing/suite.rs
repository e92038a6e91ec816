//! Runs a policy test suite (`tests.yaml`, format in `policies/README.md`) against a
//! policy's native build, so a suite's fixtures and expectations are checked by
//! `cargo test` as well as by `kubectl hooks policy test` against the component.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    #[allow(dead_code)] // the component; the native run uses the functions given
    policy: String,
    #[serde(default)]
    settings: Option<Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    event: Event,
    manifests: String,
    #[serde(default)]
    settings: Option<Value>,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Expect {
    allowed: Option<bool>,
    denials: Option<Vec<ExpectedDenial>>,
    order: Option<Vec<String>>,
    patched: Option<Vec<ExpectedField>>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpectedDenial {
    #[serde(default)]
    hook: Option<String>,
    #[serde(default)]
    reason_contains: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedField {
    hook: String,
    path: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    absent: bool,
}

/// Runs every case of the suite at `path`; the error lists every failing case.
pub fn run_suite(path: impl AsRef<Path>, policy: &NativePolicy) -> Result<(), String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let suite: Suite =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let failures: Vec<String> = suite
        .cases
        .iter()
        .filter_map(|case| {
            let settings = case.settings.as_ref().or(suite.settings.as_ref());
            run_case(dir, case, settings, policy)
                .err()
                .map(|e| format!("case `{}`: {e}", case.name))
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn run_case(
    dir: &Path,
    case: &Case,
    settings: Option<&Value>,
    policy: &NativePolicy,
) -> Result<(), String> {
    let mut hooks = super::load_hooks(dir.join(&case.manifests), case.event)?;
    let settings = settings
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let ctx = Context::new(case.event).with_settings(settings);
    let denials = match run_pipeline(&ctx, &mut hooks, policy) {
        Ok(denials) => denials,
        Err(e) => {
            return match &case.expect.error {
                Some(want) if e.contains(want.as_str()) => Ok(()),
                Some(want) => Err(format!("error `{e}` does not contain `{want}`")),
                None => Err(format!("policy failed: {e}")),
            };
        }
    };
    let expect = &case.expect;
    if let Some(want) = &expect.error {
        return Err(format!(
            "expected an error containing `{want}`, the policy succeeded"
        ));
    }
    if let Some(allowed) = expect.allowed
        && allowed != denials.is_empty()
    {
        return Err(format!(
            "expected allowed: {allowed}, got denials {denials:?}"
        ));
    }
    if let Some(want) = &expect.denials {
        match_denials(want, &denials)?;
    }
    if let Some(want) = &expect.order {
        let got: Vec<&str> = hooks.iter().map(|h| h.id.as_str()).collect();
        if got != *want {
            return Err(format!("expected order {want:?}, got {got:?}"));
        }
    }
    for field in expect.patched.iter().flatten() {
        check_field(field, &hooks)?;
    }
    Ok(())
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

fn match_denials(want: &[ExpectedDenial], got: &[Denial]) -> Result<(), String> {
    let mut unmatched: Vec<&Denial> = got.iter().collect();
    for w in want {
        let found = unmatched.iter().position(|d| {
            d.hook_id == w.hook
                && w.reason_contains
                    .as_deref()
                    .is_none_or(|r| d.reason.contains(r))
        });
        match found {
            Some(i) => {
                unmatched.remove(i);
            }
            None => return Err(format!("no denial matches {w:?}; got {got:?}")),
        }
    }
    if unmatched.is_empty() {
        Ok(())
    } else {
        Err(format!("unexpected denials {unmatched:?}"))
    }
}

fn check_field(field: &ExpectedField, hooks: &[Hook]) -> Result<(), String> {
    let hook = hooks
        .iter()
        .find(|h| h.id == field.hook)
        .ok_or_else(|| format!("no hook {}", field.hook))?;
    let got = hook.manifest.pointer(&field.path);
    match (got, field.absent, &field.value) {
        (None, true, _) => Ok(()),
        (Some(got), true, _) => Err(format!(
            "{} {}: expected absent, got {got}",
            field.hook, field.path
        )),
        (got, false, Some(want)) if got == Some(want) => Ok(()),
        (got, false, want) => Err(format!(
            "{} {}: expected {want:?}, got {got:?}",
            field.hook, field.path
        )),
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
            validate: Some(deny_jobs),
            order: Some(reverse),
            ..Default::default()
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
  - name: passes
    event: post-delete
    manifests: LEDGER
    expect: {allowed: false}
"#)
        .unwrap_err();
        let failed: Vec<&str> = err.lines().map(|l| l.split('`').nth(1).unwrap()).collect();
        assert_eq!(
            failed,
            ["wrong order", "missing denial", "allowed", "error expected"],
            "{err}"
        );
    }
}
