use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use hooks_plan::{Event, Input, LoadOptions, Ordering};
use hooks_sandbox::{
    ConfiguredPolicy, FailurePolicy, Limits, PoliceContext, Policed, Policy, PolicyEngine,
    PolicySpec,
};
use serde_json::Value;

use super::suite::{Case, ExpectedDenial, Suite, relative_to};
use crate::commands::policies;
use crate::{Failure, exit_codes};

/// Run policy test suites: each case plans manifests for an event, runs the policy, and
/// checks the outcome (allowed, denials, order, patched fields, or an expected error).
/// Exit code 7 when any case fails.
#[derive(Debug, Args)]
pub(crate) struct TestCommand {
    /// Suite files (YAML; paths inside are relative to the suite file).
    #[arg(value_name = "SUITE.yaml", required = true)]
    suites: Vec<PathBuf>,

    /// Test this component instead of the suite's `policy`.
    #[arg(long, value_name = "FILE.wasm")]
    policy: Option<PathBuf>,
}

impl TestCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let engine = policies::engine(false)?;
        let (mut passed, mut failed) = (0, 0);
        let mut stdout = std::io::stdout().lock();
        for file in &self.suites {
            let suite = Suite::read(file)
                .map_err(|e| Failure::new(exit_codes::BAD_INPUT, anyhow::anyhow!(e)))?;
            let path = match (&self.policy, &suite.policy) {
                (Some(path), _) => path.clone(),
                (None, Some(path)) => relative_to(file, path),
                (None, None) => {
                    return Err(Failure::new(
                        exit_codes::BAD_INPUT,
                        anyhow::anyhow!("{}: the suite names no `policy`", file.display()),
                    )
                    .with_hint(Some(
                        "add `policy: PATH.wasm` or pass `--policy FILE.wasm`".into(),
                    )));
                }
            };
            let name = PolicySpec::from_wasm(&path).name;
            let policy = Arc::new(Policy::load(
                &engine,
                &name,
                path.as_path(),
                Limits::default(),
            )?);
            writeln!(stdout, "{} ({name})", file.display())?;
            for case in &suite.cases {
                let problems = run_case(&engine, &policy, &suite, file, case);
                if problems.is_empty() {
                    passed += 1;
                    writeln!(stdout, "  ok    {}", case.name)?;
                } else {
                    failed += 1;
                    writeln!(stdout, "  FAIL  {}", case.name)?;
                    for problem in problems {
                        writeln!(
                            stdout,
                            "        - {}",
                            problem.replace('\n', "\n          ")
                        )?;
                    }
                }
            }
        }
        writeln!(stdout, "{passed} passed, {failed} failed")?;
        Ok(if failed == 0 {
            exit_codes::SUCCESS
        } else {
            exit_codes::POLICY_TESTS_FAILED
        })
    }
}

/// Runs one case; returns what did not match (empty when it passed).
fn run_case(
    _engine: &PolicyEngine,
    policy: &Arc<Policy>,
    suite: &Suite,
    file: &std::path::Path,
    case: &Case,
) -> Vec<String> {
    let event: Event = match case.event.parse() {
        Ok(event) => event,
        Err(e) => return vec![e.to_string()],
    };
    let manifests = relative_to(file, &case.manifests);
    let plan = match hooks_plan::plan_inputs(
        &[Input::from_arg(&manifests.to_string_lossy())],
        &LoadOptions::default(),
        event,
        Ordering::Helm,
    ) {
        Ok(plan) => plan,
        Err(e) => return vec![format!("cannot plan the manifests: {e}")],
    };
    let settings = case
        .settings
        .as_ref()
        .or(suite.settings.as_ref())
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let configured = ConfiguredPolicy {
        policy: Arc::clone(policy),
        events: None,
        settings: settings.to_string(),
        failure_policy: FailurePolicy::Fail,
    };
    let ctx = PoliceContext {
        release: String::new(),
        namespace: "default".into(),
        dry_run: true,
    };
    let outcome = hooks_sandbox::police(plan, &[configured], &ctx);
    let expect = &case.expect;
    let policed = match (outcome, &expect.error) {
        (Err(error), Some(wanted)) => {
            let message = error.to_string();
            return if message.contains(wanted.as_str()) {
                Vec::new()
            } else {
                vec![format!(
                    "expected an error containing `{wanted}`, got: {message}"
                )]
            };
        }
        (Err(error), None) => return vec![format!("the policy failed: {error}")],
        (Ok(_), Some(wanted)) => {
            return vec![format!(
                "expected an error containing `{wanted}`, but the policy answered"
            )];
        }
        (Ok(policed), None) => policed,
    };
    let mut problems = Vec::new();
    if let Some(allowed) = expect.allowed
        && allowed == policed.denied
    {
        problems.push(if allowed {
            format!("expected allowed, but denied:{}", denial_list(&policed))
        } else {
            "expected denied, but allowed".to_owned()
        });
    }
    if let Some(expected) = &expect.denials {
        let actual: Vec<(Option<&str>, &str)> = policed
            .denials()
            .map(|(_, hook, reason)| (hook, reason))
            .collect();
        if !matches_one_to_one(expected, &actual, &mut vec![false; actual.len()]) {
            let wanted: Vec<String> = expected.iter().map(describe).collect();
            problems.push(format!(
                "expected denials (one-to-one): {}\n  got:{}",
                wanted.join("; "),
                denial_list(&policed)
            ));
        }
    }
    if let Some(order) = &expect.order {
        let actual: Vec<&str> = policed
            .plan
            .hooks
            .iter()
            .map(|h| h.hook.id.as_str())
            .collect();
        if actual != order.iter().map(String::as_str).collect::<Vec<_>>() {
            problems.push(format!(
                "expected order [{}], got [{}]",
                order.join(", "),
                actual.join(", ")
            ));
        }
    }
    for patch in expect.patched.iter().flatten() {
        let Some(planned) = policed.plan.hooks.iter().find(|h| h.hook.id == patch.hook) else {
            problems.push(format!("no hook `{}` in the plan", patch.hook));
            continue;
        };
        let manifest = match planned.hook.manifest() {
            Ok(manifest) => manifest,
            Err(e) => {
                problems.push(format!("{}: {e}", patch.hook));
                continue;
            }
        };
        let found = manifest.pointer(&patch.path);
        match (&patch.value, found) {
            (None, None) => {}
            (None, Some(found)) => problems.push(format!(
                "{} {}: expected absent, found {found}",
                patch.hook, patch.path
            )),
            (Some(wanted), Some(found)) if wanted == found => {}
            (Some(wanted), found) => problems.push(format!(
                "{} {}: expected {wanted}, found {}",
                patch.hook,
                patch.path,
                found.map_or("nothing".to_owned(), Value::to_string)
            )),
        }
    }
    problems
}

/// Pairs every expected denial with a distinct actual one, and leaves none over.
fn matches_one_to_one(
    expected: &[ExpectedDenial],
    actual: &[(Option<&str>, &str)],
    used: &mut Vec<bool>,
) -> bool {
    let Some((first, rest)) = expected.split_first() else {
        return used.iter().all(|u| *u);
    };
    for (i, (hook, reason)) in actual.iter().enumerate() {
        let fits = !used[i]
            && first.hook.as_deref().is_none_or(|h| Some(h) == *hook)
            && first
                .reason_contains
                .as_deref()
                .is_none_or(|r| reason.contains(r));
        if fits {
            used[i] = true;
            if matches_one_to_one(rest, actual, used) {
                return true;
            }
            used[i] = false;
        }
    }
    false
}

fn describe(denial: &ExpectedDenial) -> String {
    format!(
        "{} with reason containing `{}`",
        denial.hook.as_deref().unwrap_or("any hook"),
        denial.reason_contains.as_deref().unwrap_or("")
    )
}

fn denial_list(policed: &Policed) -> String {
    let mut out = String::new();
    for (_, hook, reason) in policed.denials() {
        let _ = write!(out, "\n    {}: {reason}", hook.unwrap_or("(the event)"));
    }
    if out.is_empty() {
        out.push_str(" none");
    }
    out
}
