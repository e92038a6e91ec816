//! Matching what a policy did against what a case expects.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{Case, ExpectedDenial, FieldExpectation};

/// What running one case produced: every denial, and the final hooks in their final
/// order with their final manifests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub denials: Vec<Denial>,
    pub hooks: Vec<FinalHook>,
}

/// A denial as the policy gave it: on a hook, or on the event (`hook: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub hook: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinalHook {
    pub id: String,
    pub manifest: Value,
}

impl Case {
    /// What did not match, one line per problem; empty when the case passed. `outcome`
    /// is `Err` with the message when the policy failed.
    pub fn check(&self, outcome: Result<Outcome, String>) -> Vec<String> {
        let expect = &self.expect;
        let outcome = match (outcome, &expect.error) {
            (Err(message), Some(wanted)) => {
                return if message.contains(wanted.as_str()) {
                    Vec::new()
                } else {
                    vec![format!(
                        "expected an error containing `{wanted}`, got: {message}"
                    )]
                };
            }
            (Err(message), None) => return vec![format!("the policy failed: {message}")],
            (Ok(_), Some(wanted)) => {
                return vec![format!(
                    "expected an error containing `{wanted}`, but the policy answered"
                )];
            }
            (Ok(outcome), None) => outcome,
        };
        let mut problems = Vec::new();
        let denied = !outcome.denials.is_empty();
        if let Some(allowed) = expect.allowed
            && allowed == denied
        {
            problems.push(if allowed {
                format!("expected allowed, but denied:{}", list(&outcome.denials))
            } else {
                "expected denied, but allowed".to_owned()
            });
        }
        if let Some(expected) = &expect.denials
            && !matches_one_to_one(expected, &outcome.denials)
        {
            let wanted: Vec<String> = expected.iter().map(describe).collect();
            problems.push(format!(
                "expected denials (one-to-one): {}\n  got:{}",
                if wanted.is_empty() {
                    "none".to_owned()
                } else {
                    wanted.join("; ")
                },
                list(&outcome.denials)
            ));
        }
        if let Some(order) = &expect.order {
            let actual: Vec<&str> = outcome.hooks.iter().map(|h| h.id.as_str()).collect();
            if actual != order.iter().map(String::as_str).collect::<Vec<_>>() {
                problems.push(format!(
                    "expected order [{}], got [{}]",
                    order.join(", "),
                    actual.join(", ")
                ));
            }
        }
        for field in &expect.patched {
            let Some(hook) = outcome.hooks.iter().find(|h| h.id == field.hook) else {
                problems.push(format!("no hook `{}` in the plan", field.hook));
                continue;
            };
            let found = hook.manifest.pointer(&field.path);
            match (&field.expect, found) {
                (FieldExpectation::Absent, None) => {}
                (FieldExpectation::Absent, Some(found)) => problems.push(format!(
                    "{} {}: expected absent, found {found}",
                    field.hook, field.path
                )),
                (FieldExpectation::Equals(wanted), Some(found)) if wanted == found => {}
                (FieldExpectation::Equals(wanted), found) => problems.push(format!(
                    "{} {}: expected {wanted}, found {}",
                    field.hook,
                    field.path,
                    found.map_or("nothing".to_owned(), Value::to_string)
                )),
            }
        }
        problems
    }
}

/// Whether every expected denial can be paired with a distinct actual one that it
/// matches, with no actual denial left over. Searched with backtracking: a greedy pass
/// fails when an entry with a loose match takes the denial a stricter entry needed.
fn matches_one_to_one(expected: &[ExpectedDenial], actual: &[Denial]) -> bool {
    fn assign(expected: &[ExpectedDenial], actual: &[Denial], used: &mut [bool]) -> bool {
        let Some((first, rest)) = expected.split_first() else {
            return used.iter().all(|u| *u);
        };
        for i in 0..actual.len() {
            if !used[i] && fits(first, &actual[i]) {
                used[i] = true;
                if assign(rest, actual, used) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    expected.len() == actual.len() && assign(expected, actual, &mut vec![false; actual.len()])
}

/// An entry without `hook` is an event-level denial, as the format says: it does not
/// match a denial of some hook.
fn fits(expected: &ExpectedDenial, actual: &Denial) -> bool {
    expected.hook == actual.hook
        && expected
            .reason_contains
            .as_deref()
            .is_none_or(|r| actual.reason.contains(r))
}

fn describe(denial: &ExpectedDenial) -> String {
    format!(
        "{} with reason containing `{}`",
        denial.hook.as_deref().unwrap_or("(the event)"),
        denial.reason_contains.as_deref().unwrap_or("")
    )
}

fn list(denials: &[Denial]) -> String {
    let mut out = String::new();
    for denial in denials {
        let _ = write!(
            out,
            "\n    {}: {}",
            denial.hook.as_deref().unwrap_or("(the event)"),
            denial.reason
        );
    }
    if out.is_empty() {
        out.push_str(" none");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use hooks_plan::Event;
    use serde_json::json;

    use super::*;
    use crate::{Expect, ExpectedField};

    fn case(expect: Expect) -> Case {
        Case {
            name: "c".into(),
            event: Event::PreInstall,
            manifests: PathBuf::from("m.yaml"),
            settings: json!({}),
            expect,
        }
    }

    fn denial(hook: Option<&str>, reason: &str) -> Denial {
        Denial {
            hook: hook.map(str::to_owned),
            reason: reason.into(),
        }
    }

    fn expected(hook: Option<&str>, reason: Option<&str>) -> ExpectedDenial {
        ExpectedDenial {
            hook: hook.map(str::to_owned),
            reason_contains: reason.map(str::to_owned),
        }
    }

    fn denials(expect: Vec<ExpectedDenial>, actual: Vec<Denial>) -> Vec<String> {
        case(Expect {
            denials: Some(expect),
            ..Expect::default()
        })
        .check(Ok(Outcome {
            denials: actual,
            hooks: Vec::new(),
        }))
    }

    /// Regression (the CLI's copy): an entry without `hook` matched a denial of any hook,
    /// although the format says it expects an event-level denial.
    #[test]
    fn regression_omitted_hook_matches_only_event_level_denials() {
        let on_hook = denials(
            vec![expected(None, Some("root"))],
            vec![denial(Some("Job/a"), "runs as root")],
        );
        assert_eq!(on_hook.len(), 1, "{on_hook:?}");
        assert!(on_hook[0].contains("(the event) with reason containing `root`"));
        let on_event = denials(
            vec![expected(None, Some("root"))],
            vec![denial(None, "runs as root")],
        );
        assert!(on_event.is_empty(), "{on_event:?}");
    }

    /// Regression (the SDK's copy): denials were paired greedily, so an entry with a
    /// loose match took the denial a stricter entry after it needed, and a suite that
    /// can be satisfied failed.
    #[test]
    fn regression_denials_pair_one_to_one_not_greedily() {
        let problems = denials(
            vec![
                expected(Some("Job/a"), None),
                expected(Some("Job/a"), Some("privileged")),
            ],
            vec![
                denial(Some("Job/a"), "is privileged"),
                denial(Some("Job/a"), "may run as root"),
            ],
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn denials_left_over_or_missing_fail() {
        let extra = denials(
            vec![expected(Some("Job/a"), None)],
            vec![denial(Some("Job/a"), "x"), denial(Some("Job/b"), "y")],
        );
        assert_eq!(extra.len(), 1);
        assert!(extra[0].contains("Job/b: y"), "{extra:?}");
        let missing = denials(vec![expected(Some("Job/a"), None)], Vec::new());
        assert_eq!(missing.len(), 1);
        let none_expected = denials(Vec::new(), Vec::new());
        assert!(none_expected.is_empty());
    }

    #[test]
    fn errors_are_expected_or_reported() {
        let wants_error = case(Expect {
            error: Some("boom".into()),
            ..Expect::default()
        });
        assert!(wants_error.check(Err("it went boom".into())).is_empty());
        assert_eq!(
            wants_error.check(Err("other".into())),
            ["expected an error containing `boom`, got: other"]
        );
        assert_eq!(
            wants_error.check(Ok(Outcome::default())),
            ["expected an error containing `boom`, but the policy answered"]
        );
        assert_eq!(
            case(Expect::default()).check(Err("trap".into())),
            ["the policy failed: trap"]
        );
    }

    #[test]
    fn allowed_order_and_fields() {
        let outcome = Outcome {
            denials: vec![denial(Some("Job/a"), "no")],
            hooks: vec![
                FinalHook {
                    id: "Job/b".into(),
                    manifest: json!({"spec": {"x": null, "n": 1}}),
                },
                FinalHook {
                    id: "Job/a".into(),
                    manifest: json!({}),
                },
            ],
        };
        let field = |path: &str, expect| ExpectedField {
            hook: "Job/b".into(),
            path: path.into(),
            expect,
        };
        let passing = case(Expect {
            allowed: Some(false),
            order: Some(vec!["Job/b".into(), "Job/a".into()]),
            patched: vec![
                field("/spec/x", FieldExpectation::Equals(Value::Null)),
                field("/spec/n", FieldExpectation::Equals(json!(1))),
                field("/spec/y", FieldExpectation::Absent),
            ],
            ..Expect::default()
        });
        assert_eq!(passing.check(Ok(outcome.clone())), Vec::<String>::new());

        let failing = case(Expect {
            allowed: Some(true),
            order: Some(vec!["Job/a".into(), "Job/b".into()]),
            patched: vec![
                // null is not absent, and absent is not null.
                field("/spec/x", FieldExpectation::Absent),
                field("/spec/y", FieldExpectation::Equals(Value::Null)),
            ],
            ..Expect::default()
        });
        assert_eq!(
            failing.check(Ok(outcome)),
            [
                "expected allowed, but denied:\n    Job/a: no",
                "expected order [Job/a, Job/b], got [Job/b, Job/a]",
                "Job/b /spec/x: expected absent, found null",
                "Job/b /spec/y: expected null, found nothing",
            ]
        );
    }
}
