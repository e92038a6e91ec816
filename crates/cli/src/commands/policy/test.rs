use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use hooks_policy_suite::{Case, CaseReport, Denial, FinalHook, Outcome, Suite, SuiteError};
use hooks_sandbox::{
    ConfiguredPolicy, FailurePolicy, Instances, Limits, PoliceContext, Policy, PolicySpec,
};

use crate::commands::policies;
use crate::render::junit::{TestCase, TestResult, TestSuite, TestSuites};
use crate::{Failure, exit_codes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestOutput {
    Text,
    Junit,
}

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

    /// `text`: ok/FAIL per case and what did not match; `junit`: a JUnit XML report on
    /// stdout (a test case per suite case), for CI.
    #[arg(short, long, value_enum, default_value_t = TestOutput::Text)]
    output: TestOutput,
}

/// One suite file's results.
struct SuiteRun {
    file: PathBuf,
    policy: String,
    reports: Vec<CaseReport>,
}

impl TestCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let engine = policies::engine(false, Instances::Pooled)?;
        let mut runs = Vec::with_capacity(self.suites.len());
        for file in &self.suites {
            let suite = Suite::read(file).map_err(suite_failure)?;
            let path = match (&self.policy, &suite.policy) {
                (Some(path), _) | (None, Some(path)) => path.clone(),
                (None, None) => {
                    return Err(Failure::new(
                        exit_codes::BAD_INPUT,
                        anyhow::anyhow!("`{}` names no `policy`", file.display()),
                    )
                    .with_hint(Some(
                        "add `policy: PATH.wasm` to the suite or pass `--policy FILE.wasm`".into(),
                    )));
                }
            };
            let name = PolicySpec::from_wasm(&path).name;
            // Interpreters (Python, JavaScript, Rego) need more than a guard's defaults;
            // suites test what a policy decides, the configured limits are `run`'s business.
            let policy = Arc::new(Policy::load(
                &engine,
                &name,
                path.as_path(),
                suite_limits(),
            )?);
            let reports = suite.run(|case| run_case(&policy, case));
            if self.output == TestOutput::Text {
                print_text(file, &name, &reports)?;
            }
            runs.push(SuiteRun {
                file: file.clone(),
                policy: name,
                reports,
            });
        }
        let (passed, failed) =
            runs.iter()
                .flat_map(|run| &run.reports)
                .fold(
                    (0, 0),
                    |(p, f), r| if r.passed() { (p + 1, f) } else { (p, f + 1) },
                );
        let mut stdout = std::io::stdout().lock();
        match self.output {
            TestOutput::Text => writeln!(stdout, "{passed} passed, {failed} failed")?,
            TestOutput::Junit => stdout.write_all(junit(&runs).render().as_bytes())?,
        }
        Ok(if failed == 0 {
            exit_codes::SUCCESS
        } else {
            exit_codes::POLICY_TESTS_FAILED
        })
    }
}

/// The limits every suite runs under: the defaults, with room for an interpreter.
fn suite_limits() -> Limits {
    Limits {
        memory_bytes: 256 * 1024 * 1024,
        timeout: std::time::Duration::from_secs(10),
        ..Limits::default()
    }
}

fn suite_failure(error: SuiteError) -> Failure {
    let hint = error.hint();
    Failure::new(exit_codes::BAD_INPUT, error).with_hint(hint)
}

fn print_text(file: &std::path::Path, policy: &str, reports: &[CaseReport]) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{} ({policy})", file.display())?;
    for report in reports {
        if report.passed() {
            writeln!(stdout, "  ok    {}", report.name)?;
            continue;
        }
        writeln!(stdout, "  FAIL  {}", report.name)?;
        for problem in &report.problems {
            writeln!(
                stdout,
                "        - {}",
                problem.replace('\n', "\n          ")
            )?;
        }
    }
    Ok(())
}

fn junit(runs: &[SuiteRun]) -> TestSuites {
    TestSuites {
        name: "kubectl hooks policy test".into(),
        suites: runs
            .iter()
            .map(|run| TestSuite {
                name: format!("{} ({})", run.file.display(), run.policy),
                file: Some(run.file.display().to_string()),
                cases: run
                    .reports
                    .iter()
                    .map(|report| TestCase {
                        name: report.name.clone(),
                        classname: run.policy.clone(),
                        time: report.duration,
                        result: if report.passed() {
                            TestResult::Passed
                        } else {
                            TestResult::Failed {
                                kind: "expectation".into(),
                                message: report.problems[0]
                                    .lines()
                                    .next()
                                    .unwrap_or_default()
                                    .to_owned(),
                                details: report.problems.join("\n"),
                            }
                        },
                        output: None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Plans the case, runs the policy once in the host's pipeline order, and says what came
/// out; the suite decides whether that matches.
fn run_case(policy: &Arc<Policy>, case: &Case) -> Result<Outcome, String> {
    let plan = case
        .plan()
        .map_err(|e| format!("cannot plan the manifests: {e}"))?;
    let configured = ConfiguredPolicy {
        policy: Arc::clone(policy),
        events: None,
        settings: case.settings.to_string(),
        failure_policy: FailurePolicy::Fail,
        // A suite tests the policy's own decisions; a bound on the timeouts it sets is the
        // deployment's, in the policy config.
        max_hook_timeout: None,
    };
    let ctx = PoliceContext {
        release: String::new(),
        namespace: "default".into(),
        dry_run: true,
    };
    let policed = hooks_sandbox::police(plan, &[configured], &ctx).map_err(|e| e.to_string())?;
    let denials = policed
        .denials()
        .map(|(_, hook, reason)| Denial {
            hook: hook.map(str::to_owned),
            reason: reason.to_owned(),
        })
        .collect();
    let hooks = policed
        .plan
        .hooks
        .iter()
        .map(|planned| {
            let manifest = planned
                .hook
                .manifest()
                .map_err(|e| format!("{}: {e}", planned.hook.id))?;
            Ok(FinalHook {
                id: planned.hook.id.clone(),
                manifest,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Outcome { denials, hooks })
}
