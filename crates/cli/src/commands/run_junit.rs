//! `run --junit FILE`: the run as a JUnit test suite, one test case per hook, so CI test
//! reporters show which hook failed and the tail of its logs.

use std::time::Duration;

use hooks_apply::{HookOutcome, LogRecord, Report};
use hooks_plan::Plan;
use hooks_sandbox::Policed;

use crate::render::junit::{TestCase, TestResult, TestSuite, TestSuites};

fn suites(plan: &Plan, cases: Vec<TestCase>) -> TestSuites {
    TestSuites {
        name: "kubectl hooks run".into(),
        suites: vec![TestSuite {
            name: format!("kubectl hooks run {}", plan.event),
            file: None,
            cases,
        }],
    }
}

fn classname(plan: &Plan) -> String {
    format!("kubectl-hooks.{}", plan.event)
}

/// After the hooks ran (or some did): each hook passed, failed (with its message and
/// log tail) or was skipped (not run).
pub(crate) fn from_report(plan: &Plan, report: &Report) -> TestSuites {
    let cases = report
        .hooks
        .iter()
        .map(|hook| {
            let logs = logs(&hook.logs);
            let result = match hook.outcome {
                outcome if outcome.is_success() => TestResult::Passed,
                HookOutcome::NotRun => TestResult::Skipped {
                    message: "not run: an earlier hook failed or the run stopped".into(),
                },
                outcome => {
                    let message = hook
                        .message
                        .clone()
                        .unwrap_or_else(|| outcome.as_str().to_owned());
                    let mut details = message.clone();
                    if let Some(logs) = &logs {
                        details.push_str("\n\n");
                        details.push_str(logs);
                    }
                    TestResult::Failed {
                        kind: outcome.as_str().into(),
                        message,
                        details,
                    }
                }
            };
            // A failure carries its logs in the failure; a success keeps them as output.
            let output = match result {
                TestResult::Failed { .. } => None,
                _ => logs,
            };
            TestCase {
                name: hook.id.clone(),
                classname: classname(plan),
                time: hook.duration.unwrap_or(Duration::ZERO),
                result,
                output,
            }
        })
        .collect();
    suites(plan, cases)
}

/// When a policy vetoed the event: the hooks it denied failed, the others were not run,
/// and denials of the event as a whole are one more case.
pub(crate) fn from_denial(policed: &Policed) -> TestSuites {
    let plan = &policed.plan;
    let failed = |denials: Vec<(&str, &str)>| {
        let lines: Vec<String> = denials
            .iter()
            .map(|(policy, reason)| format!("{policy}: {reason}"))
            .collect();
        TestResult::Failed {
            kind: "denied".into(),
            message: lines[0].clone(),
            details: lines.join("\n"),
        }
    };
    let mut cases: Vec<TestCase> = plan
        .hooks
        .iter()
        .map(|planned| {
            let denials: Vec<(&str, &str)> = policed
                .denials()
                .filter(|(_, hook, _)| *hook == Some(planned.hook.id.as_str()))
                .map(|(policy, _, reason)| (policy, reason))
                .collect();
            TestCase {
                name: planned.hook.id.clone(),
                classname: classname(plan),
                time: Duration::ZERO,
                result: if denials.is_empty() {
                    TestResult::Skipped {
                        message: "not run: the event was denied by policy".into(),
                    }
                } else {
                    failed(denials)
                },
                output: None,
            }
        })
        .collect();
    let about_event: Vec<(&str, &str)> = policed
        .denials()
        .filter(|(_, hook, _)| hook.is_none())
        .map(|(policy, _, reason)| (policy, reason))
        .collect();
    if !about_event.is_empty() {
        cases.push(TestCase {
            name: "(the event)".into(),
            classname: classname(plan),
            time: Duration::ZERO,
            result: failed(about_event),
            output: None,
        });
    }
    suites(plan, cases)
}

/// Every container's log tail, under a header naming it.
fn logs(records: &[LogRecord]) -> Option<String> {
    if records.is_empty() {
        return None;
    }
    let mut text = String::new();
    for record in records {
        text.push_str(&format!(
            "logs of pod/{} container {}:\n",
            record.pod, record.container
        ));
        for line in &record.lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    Some(text)
}
