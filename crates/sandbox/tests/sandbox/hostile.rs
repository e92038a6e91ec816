//! The sandbox against a policy that attacks the host rather than misbehaving by accident:
//! blocking where no epoch deadline reaches, flooding what the host keeps, answering
//! more than the host should lift, forging terminal lines, repeating Secret values, and
//! shapes that dodge the memory cap. Each attack is stopped at its limit, named, and
//! leaves the host healthy. (Time, peak RSS and bytes printed are measured for the whole
//! binary in the CLI's `hostile` tests.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use hooks_plan::Event;
use hooks_sandbox::{
    Decision, FailurePolicy, Limit, Limits, PoliceContext, Policy, Role, SandboxError, police,
};

use crate::util::{
    adversary, adversary_with, artifact, assert_host_healthy, configured, engine, plan_of, run,
    run_adversary,
};

const CAP: Duration = Duration::from_millis(300);
/// How far past its cap a call may end: one epoch tick and the deadline's own slack.
const SLACK: Duration = Duration::from_millis(100);

fn quick() -> Arc<Policy> {
    Arc::new(adversary_with(Limits {
        timeout: CAP,
        ..Limits::default()
    }))
}

/// Runs `settings` on a policy with a 300 ms cap; returns the error and how long it took.
fn timed(settings: &str) -> (SandboxError, Duration) {
    let started = Instant::now();
    let error = run(&[configured(quick(), settings, FailurePolicy::Fail)])
        .expect_err("the attack must fail the event");
    (error, started.elapsed())
}

/// Every piece of text a decision or an error could show the user.
fn all_text(decisions: &[Decision]) -> String {
    serde_json::to_string(decisions).unwrap()
}

fn assert_no_control_characters(text: &str) {
    let found: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(found.is_empty(), "control characters {found:?} in {text:?}");
}

#[test]
fn a_guest_asleep_in_a_host_call_ends_at_its_cap() {
    for mode in ["sleep", "block-forever"] {
        let (error, elapsed) = timed(&format!(r#"{{"mode": "{mode}", "role": "validate"}}"#));
        assert!(
            matches!(
                error,
                SandboxError::Timeout {
                    role: Role::Validate,
                    ..
                }
            ),
            "{mode}: {error:?}"
        );
        assert!(
            elapsed >= CAP && elapsed <= CAP + SLACK,
            "{mode}: ended {elapsed:?} after it started, cap {CAP:?}"
        );
    }
    assert_host_healthy();
}

#[test]
fn regression_sleep_with_failure_policy_ignore_no_longer_hangs_the_event() {
    let started = Instant::now();
    let policed = run(&[
        configured(quick(), r#"{"mode": "sleep"}"#, FailurePolicy::Ignore),
        configured(adversary(), r#"{"mode": "deny"}"#, FailurePolicy::Fail),
    ])
    .unwrap();
    assert!(started.elapsed() <= CAP + SLACK, "{:?}", started.elapsed());
    assert!(
        policed.decisions.iter().any(|d| matches!(
            d,
            Decision::IgnoredFailure {
                role: Some(Role::Mutate),
                ..
            }
        )),
        "{:?}",
        policed.decisions
    );
    assert!(policed.denied, "the event went on to the next policy");
}

#[test]
fn instantiation_is_under_the_cap_too() {
    let limits = Limits {
        timeout: CAP,
        ..Limits::default()
    };
    let sleeper = Arc::new(
        Policy::load(
            engine(),
            "sleeper",
            artifact("adversary-init-policy"),
            limits,
        )
        .unwrap(),
    );
    let started = Instant::now();
    let error = sleeper.instantiate().unwrap_err();
    assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() <= CAP + SLACK, "{:?}", started.elapsed());

    let started = Instant::now();
    let error = run(&[configured(sleeper, "{}", FailurePolicy::Fail)]).unwrap_err();
    assert!(
        matches!(
            error,
            SandboxError::Timeout {
                role: Role::Validate,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() <= CAP + SLACK, "{:?}", started.elapsed());
}

/// A start function that never returns runs while the component is instantiated, before
/// any export is looked at.
#[test]
fn a_start_function_that_loops_is_stopped_at_the_cap() {
    let wat = r#"(component
        (core module $m
            (func $spin (loop $again (br $again)))
            (start $spin)
            (func (export "validate")))
        (core instance $i (instantiate $m))
        (func $validate (canon lift (core func $i "validate")))
        (instance $role (export "validate" (func $validate)))
        (export "kubectl-hooks:policy/validate@0.1.0" (instance $role))
    )"#;
    let policy = Policy::load(
        engine(),
        "spinner",
        hooks_sandbox::Source::Bytes {
            label: "spinner.wat".into(),
            bytes: wat::parse_str(wat).unwrap(),
        },
        Limits {
            timeout: CAP,
            ..Limits::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let error = policy.instantiate().unwrap_err();
    assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() <= CAP + SLACK, "{:?}", started.elapsed());
}

#[test]
fn host_resources_a_guest_can_hold_are_bounded() {
    for mode in ["hold-resources", "random-bomb"] {
        let (error, _) = timed(&format!(r#"{{"mode": "{mode}"}}"#));
        assert!(
            matches!(
                error,
                SandboxError::Trap {
                    role: Role::Mutate,
                    ..
                }
            ),
            "{mode}: {error:?}"
        );
    }
    assert_host_healthy();
}

#[test]
fn a_log_flood_keeps_a_bounded_log() {
    for mode in ["log-flood", "print-flood"] {
        let settings = format!(r#"{{"mode": "{mode}"}}"#);
        let (error, elapsed) = timed(&settings);
        assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
        assert!(elapsed <= CAP + SLACK, "{mode}: {elapsed:?}");
        // The error quotes the end of the output, a few KiB at most.
        assert!(
            error.to_string().len() < 8 * 1024,
            "{mode}: {}",
            error.to_string().len()
        );

        let policed = run(&[configured(quick(), &settings, FailurePolicy::Ignore)]).unwrap();
        let logs: Vec<&str> = policed
            .decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Log(log) => Some(log.message.as_str()),
                _ => None,
            })
            .collect();
        let limits = Limits::default();
        // The flood's lines, the note on what was dropped, and the well-behaved
        // validate's one line.
        assert!(
            logs.len() <= limits.log_messages + 2,
            "{mode}: {}",
            logs.len()
        );
        assert!(
            logs.iter().all(|l| l.len() <= limits.log_bytes + 32),
            "{mode}: {:?}",
            logs.iter().map(|l| l.len()).max()
        );
        let dropped_note = if mode == "log-flood" {
            "more log messages and printed lines dropped"
        } else {
            "output beyond 16384 bytes dropped"
        };
        assert!(
            logs.iter().any(|l| l.contains(dropped_note)),
            "{mode}: {logs:?}"
        );
    }
    assert_host_healthy();
}

#[test]
fn regression_a_48_mib_error_is_cut_not_printed_whole() {
    // Room for the guest to build it: the host's bound must not rest on the memory cap.
    let roomy = Arc::new(adversary_with(Limits {
        memory_bytes: 256 << 20,
        ..Limits::default()
    }));
    let error = run(&[configured(
        roomy,
        r#"{"mode": "huge-error", "role": "order"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap_err();
    let SandboxError::Guest { message, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(message.len() < 8 * 1024, "{}", message.len());
    assert!(
        message.contains("the message has 503316")
            && message.contains("bytes; the first 4096 are kept"),
        "{}",
        &message[message.len() - 200..]
    );
    assert_no_control_characters(&error.to_string());
    assert_host_healthy();
}

#[test]
fn regression_millions_of_denials_are_refused_before_they_are_lifted() {
    let error = run_adversary(r#"{"mode": "denial-flood", "role": "validate"}"#).unwrap_err();
    assert!(
        matches!(
            error,
            SandboxError::Limit {
                limit: Limit::AnswerItems,
                size: 1_000_000,
                max: 1000,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.hint().unwrap().contains("limits.answerItems"));
    // Within its limit, a long answer is fine.
    let policy = Arc::new(adversary_with(Limits {
        answer_items: 5000,
        ..Limits::default()
    }));
    let policed = run(&[configured(
        policy,
        r#"{"mode": "denial-flood", "size": 5000}"#,
        FailurePolicy::Fail,
    )])
    .unwrap();
    assert_eq!(policed.denials().count(), 5000);
    assert_host_healthy();
}

#[test]
fn regression_forged_verdict_lines_are_escaped() {
    let policed = run_adversary(r#"{"mode": "forge"}"#).unwrap();
    let text = all_text(&policed.decisions);
    assert!(
        text.contains(r"\\r\\u{1b}[2K\\u{1b}[32mverdict: allowed"),
        "{text}"
    );
    for decision in &policed.decisions {
        let shown = match decision {
            Decision::Denial { hook, reason, .. } => {
                format!("{}{reason}", hook.as_deref().unwrap_or_default())
            }
            Decision::Log(log) => log.message.clone(),
            _ => continue,
        };
        assert_no_control_characters(&shown);
        assert!(!shown.contains('\n'), "{shown:?}");
    }
    // An error quoting the guest's output is escaped too, each line under the policy's name.
    let error = run_adversary(r#"{"mode": "huge-error", "size": 10}"#).unwrap_err();
    assert_no_control_characters(&error.to_string());
    assert_host_healthy();
}

const SECRET_PLAN: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    helm.sh/hook: pre-install
data:
  password: aHVudGVyMg==
stringData:
  token: s3cr3t-token
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec: {}
"#;

#[test]
fn secret_values_never_reach_what_a_policy_says() {
    let plan = plan_of(SECRET_PLAN, Event::PreInstall);
    let policed = police(
        plan.clone(),
        &[configured(
            adversary(),
            r#"{"mode": "leak-secret"}"#,
            FailurePolicy::Fail,
        )],
        &PoliceContext::default(),
    )
    .unwrap();
    let text = all_text(&policed.decisions);
    assert!(text.contains("***"), "{text}");
    for secret in ["aHVudGVyMg==", "hunter2", "s3cr3t-token"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // In an error's quoted output too.
    let error = police(
        plan,
        &[
            configured(
                adversary(),
                r#"{"mode": "leak-secret", "role": "validate"}"#,
                FailurePolicy::Fail,
            ),
            configured(
                adversary(),
                r#"{"mode": "panic", "role": "validate"}"#,
                FailurePolicy::Fail,
            ),
        ],
        &PoliceContext::default(),
    )
    .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[test]
fn regression_a_patch_of_small_json_values_is_refused_before_it_is_parsed() {
    let error = run_adversary(r#"{"mode": "json-bomb", "size": 4000000}"#).unwrap_err();
    assert!(
        matches!(
            error,
            SandboxError::Limit {
                limit: Limit::PatchBytes,
                ..
            }
        ),
        "{error:?}"
    );
    let error = run_adversary(r#"{"mode": "json-bomb", "size": 1000000}"#).unwrap_err();
    assert!(
        matches!(
            error,
            SandboxError::Limit {
                limit: Limit::JsonNodes,
                max: 100_000,
                ..
            }
        ),
        "{error:?}"
    );
    assert_host_healthy();
}

#[test]
fn regression_an_annotation_of_empty_entries_gives_one_short_warning() {
    let policed = run_adversary(r#"{"mode": "empty-entries"}"#).unwrap();
    let warnings: Vec<&String> = policed
        .decisions
        .iter()
        .flat_map(|d| match d {
            Decision::Mutation { warnings, .. } => warnings.iter().collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("20001 empty entries"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].len() < 512, "{}", warnings[0].len());
}

#[test]
fn regression_a_100k_line_patch_gives_a_summary_not_a_quadratic_diff() {
    let policy = Arc::new(adversary_with(Limits {
        patch_bytes: 16 << 20,
        json_nodes: 1_000_000,
        ..Limits::default()
    }));
    let policed = run(&[configured(
        policy,
        r#"{"mode": "long-diff"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap();
    let diff = policed
        .decisions
        .iter()
        .find_map(|d| match d {
            Decision::Mutation { diff, .. } => Some(diff),
            _ => None,
        })
        .expect("a mutation");
    assert!(diff.starts_with("diff too large, 1000"), "{diff}");
    assert!(diff.len() < 200);
}

/// Core modules instantiated five times: five memories, over the default of four, however
/// small each is. Refused when loaded, before any of it runs.
#[test]
fn a_component_with_more_memories_than_allowed_is_refused_at_load() {
    let wat = r#"(component
        (core module $m (memory 1))
        (core instance (instantiate $m))
        (core instance (instantiate $m))
        (core instance (instantiate $m))
        (core instance (instantiate $m))
        (core instance (instantiate $m))
    )"#;
    let bytes = wat::parse_str(wat).unwrap();
    let error = Policy::load(
        engine(),
        "memories",
        hooks_sandbox::Source::Bytes {
            label: "memories.wat".into(),
            bytes,
        },
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            SandboxError::Structure {
                limit: Limit::Memories,
                size: 5,
                max: 4,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("declares 5 linear memories"),
        "{error}"
    );
}

/// A component minting handles of a resource type of its own: the host's handle table
/// would grow with every one, outside any memory cap.
#[test]
fn a_component_with_its_own_resource_types_is_refused_at_load() {
    let wat = r#"(component
        (type $r (resource (rep i32)))
        (core func $new (canon resource.new $r))
        (core module $m (import "" "new" (func (param i32) (result i32))))
        (core instance $f (export "new" (func $new)))
        (core instance (instantiate $m (with "" (instance $f))))
    )"#;
    let bytes = wat::parse_str(wat).unwrap();
    let error = Policy::load(
        engine(),
        "resources",
        hooks_sandbox::Source::Bytes {
            label: "resources.wat".into(),
            bytes,
        },
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(error, SandboxError::OwnResources { .. }),
        "{error:?}"
    );
}
