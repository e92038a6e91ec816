//! The adversary misbehaves in every way it knows; each time the host stops it, names it,
//! stays healthy, and with `failurePolicy: Ignore` goes on with a warning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hooks_sandbox::{
    CacheDir, Decision, EngineOptions, FailurePolicy, Limit, Limits, LogLevel, Policy,
    PolicyEngine, Role, SandboxError,
};

use crate::util::{
    ADVERSARY, adversary, adversary_with, artifact, assert_host_healthy, configured, ids, plan,
    run, run_adversary,
};

fn failure(settings: &str) -> SandboxError {
    let error = run_adversary(settings).expect_err("the adversary must fail the event");
    assert_eq!(error.policy(), Some("adversary"), "{error}");
    assert!(!error.is_bad_input(), "{error:?}");
    error
}

#[test]
fn endless_loop_stops_within_the_cap() {
    let policy = adversary();
    let cap = policy.limits().timeout;
    let started = Instant::now();
    let error = failure(r#"{"mode": "loop"}"#);
    let elapsed = started.elapsed();
    assert!(
        matches!(
            error,
            SandboxError::Timeout {
                role: Role::Mutate,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("wall-clock cap of 1000 ms"),
        "{error}"
    );
    assert!(elapsed >= cap, "stopped early: {elapsed:?}");
    assert!(
        elapsed <= cap + Duration::from_millis(100),
        "stopped {elapsed:?} after start, cap {cap:?}"
    );
    assert_host_healthy();
}

#[test]
fn shorter_timeout_is_honoured() {
    let policy = Arc::new(adversary_with(Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    }));
    let started = Instant::now();
    let error = run(&[configured(
        policy,
        r#"{"mode": "loop", "role": "validate"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap_err();
    let elapsed = started.elapsed();
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
    assert!(
        elapsed >= Duration::from_millis(200) && elapsed <= Duration::from_millis(300),
        "{elapsed:?}"
    );
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    let error = failure(r#"{"mode": "memory-bomb"}"#);
    assert!(matches!(error, SandboxError::MemoryCap { .. }), "{error:?}");
    assert!(
        error.to_string().contains("memory cap of 64 MiB"),
        "{error}"
    );
    assert!(error.hint().unwrap().contains("memoryMiB"));
    assert_host_healthy();
}

#[test]
fn memory_cap_is_configurable() {
    let policy = Arc::new(adversary_with(Limits {
        memory_bytes: 16 * 1024 * 1024,
        ..Limits::default()
    }));
    let error = run(&[configured(
        policy.clone(),
        r#"{"mode": "memory-bomb"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap_err();
    assert!(
        error.to_string().contains("memory cap of 16 MiB"),
        "{error}"
    );
    run(&[configured(policy, "{}", FailurePolicy::Fail)]).unwrap();
}

#[test]
fn deep_recursion_traps() {
    let error = failure(r#"{"mode": "recursion", "role": "order"}"#);
    assert!(
        matches!(
            error,
            SandboxError::Trap {
                role: Role::Order,
                ..
            }
        ),
        "{error:?}"
    );
    assert_host_healthy();
}

#[test]
fn panic_message_reaches_the_user() {
    let error = failure(r#"{"mode": "panic", "role": "validate"}"#);
    assert!(
        matches!(
            error,
            SandboxError::Trap {
                role: Role::Validate,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("policy `adversary`: validate trapped"),
        "{message}"
    );
    assert!(
        message.contains("adversary panicked on purpose in validate"),
        "{message}"
    );
    assert_host_healthy();
}

#[test]
fn exit_is_a_policy_error() {
    let error = failure(r#"{"mode": "exit"}"#);
    assert!(error.to_string().contains("called exit("), "{error}");
    assert_host_healthy();
}

#[test]
fn guest_error_is_a_policy_error() {
    let error = failure(r#"{"mode": "error", "role": "order"}"#);
    assert!(
        matches!(
            error,
            SandboxError::Guest {
                role: Role::Order,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("refusing on purpose in order"),
        "{error}"
    );
    assert_host_healthy();
}

#[test]
fn huge_output_is_refused() {
    let error = failure(r#"{"mode": "huge-output", "role": "validate"}"#);
    assert!(
        matches!(
            error,
            SandboxError::Limit {
                role: Role::Validate,
                limit: Limit::StringBytes,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("over `limits.stringBytes` (4096)"),
        "{error}"
    );
    assert_host_healthy();
}

#[test]
fn noisy_policy_is_bounded_but_not_failed() {
    let policed = run_adversary(r#"{"mode": "noisy"}"#).unwrap();
    let logs: Vec<_> = policed
        .decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Log(log) => Some(log),
            _ => None,
        })
        .collect();
    let info = logs.iter().filter(|l| l.level == LogLevel::Info).count();
    let stdout = logs.iter().filter(|l| l.level == LogLevel::Stdout).count();
    assert_eq!(info, 100, "host.log messages beyond the limit are dropped");
    assert_eq!(stdout, 0, "printed lines share the log's budget");
    // 9,900 messages, 16 lines of the 16 KiB of stdout kept, and the note that the rest
    // of stdout was dropped.
    assert!(
        logs.iter().any(|l| l.message
            == "9917 more log messages and printed lines dropped (`limits.logMessages` is 100)"),
        "{:?}",
        logs.last()
    );
    assert_host_healthy();
}

#[test]
fn fuel_limit_stops_a_loop() {
    let engine = PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache"),
        ),
        fuel: true,
        ..EngineOptions::default()
    })
    .unwrap();
    let limits = Limits {
        fuel: Some(5_000_000),
        ..Limits::default()
    };
    let policy = Arc::new(Policy::load(&engine, "adversary", artifact(ADVERSARY), limits).unwrap());
    let started = Instant::now();
    let error = run(&[configured(
        policy.clone(),
        r#"{"mode": "loop"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap_err();
    assert!(matches!(error, SandboxError::OutOfFuel { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "fuel, not the clock, stopped it"
    );
    run(&[configured(policy, "{}", FailurePolicy::Fail)]).unwrap();
}

/// Every failure mode, with `failurePolicy: Ignore`: a warning each, and the event goes on
/// to the next policy (here a second, well-behaved adversary that denies).
#[test]
fn ignored_failures_are_warnings_and_the_event_goes_on() {
    let quick = Arc::new(adversary_with(Limits {
        timeout: Duration::from_millis(100),
        ..Limits::default()
    }));
    for (mode, role) in [
        ("loop", Role::Mutate),
        ("memory-bomb", Role::Mutate),
        ("recursion", Role::Mutate),
        ("panic", Role::Mutate),
        ("exit", Role::Mutate),
        ("error", Role::Mutate),
        ("not-permutation", Role::Order),
        ("rename", Role::Mutate),
        ("retarget", Role::Mutate),
        ("unknown-id", Role::Mutate),
        ("invalid-json", Role::Mutate),
        ("huge-output", Role::Validate),
    ] {
        let settings = format!(r#"{{"mode": "{mode}"}}"#);
        let policed = run(&[
            configured(quick.clone(), &settings, FailurePolicy::Ignore),
            configured(adversary(), r#"{"mode": "deny"}"#, FailurePolicy::Fail),
        ])
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        let ignored: Vec<_> = policed
            .decisions
            .iter()
            .filter_map(|d| match d {
                Decision::IgnoredFailure {
                    policy,
                    role,
                    error,
                } => Some((policy, *role, error)),
                _ => None,
            })
            .collect();
        assert_eq!(ignored.len(), 1, "{mode}: {ignored:?}");
        assert_eq!(ignored[0].1, Some(role), "{mode}");
        assert!(
            ignored[0].2.contains("policy `adversary`"),
            "{mode}: {}",
            ignored[0].2
        );
        // The event went on: the plan is intact and the next policy still decided.
        assert_eq!(ids(&policed.plan), ids(&plan()), "{mode}");
        assert!(policed.denied, "{mode}");
        assert_eq!(policed.denials().count(), 3, "{mode}");
    }
    assert_host_healthy();
}
