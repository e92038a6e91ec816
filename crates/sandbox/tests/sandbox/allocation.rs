//! Instances allocated per call (what `plan` and `run` use) hold every limit the pool's
//! do: the allocator changes where a call's memory comes from, not what a guest may do
//! with it. The same attacks as in `containment.rs`, on a per-call engine.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hooks_sandbox::{
    Allocation, CacheDir, EngineOptions, FailurePolicy, Instances, Limits, Policed, Policy,
    PolicyEngine, SandboxError,
};

use crate::util::{
    ADVERSARY, artifact, assert_calls_do_not_share_memory, configured, ids, plan, run,
};

fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        PolicyEngine::new(EngineOptions {
            cache: CacheDir::At(Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache")),
            instances: Instances::PerCall,
            ..EngineOptions::default()
        })
        .unwrap()
    })
}

fn adversary() -> Arc<Policy> {
    static POLICY: OnceLock<Arc<Policy>> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            Arc::new(
                Policy::load(
                    engine(),
                    "adversary",
                    artifact(ADVERSARY),
                    Limits::default(),
                )
                .unwrap(),
            )
        })
        .clone()
}

fn run_adversary(settings: &str) -> Result<Policed, SandboxError> {
    run(&[configured(adversary(), settings, FailurePolicy::Fail)])
}

#[test]
fn a_per_call_engine_allocates_per_call_with_guard_regions() {
    // Not the bounds-checked fallback: this machine lets a memory reserve its 4 GiB.
    assert_eq!(engine().allocation(), Allocation::PerCall);
}

#[test]
fn an_endless_loop_stops_within_the_cap() {
    let cap = adversary().limits().timeout;
    let started = Instant::now();
    let error = run_adversary(r#"{"mode": "loop"}"#).expect_err("the loop must time out");
    let elapsed = started.elapsed();
    assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed >= cap && elapsed <= cap + Duration::from_millis(100),
        "stopped {elapsed:?} after start, cap {cap:?}"
    );
}

#[test]
fn a_guest_blocked_in_a_host_call_stops_within_the_cap() {
    let cap = adversary().limits().timeout;
    let started = Instant::now();
    let error = run_adversary(r#"{"mode": "block-forever"}"#).expect_err("must time out");
    let elapsed = started.elapsed();
    assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
    assert!(
        elapsed <= cap + Duration::from_millis(100),
        "stopped {elapsed:?} after start, cap {cap:?}"
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let error = run_adversary(r#"{"mode": "memory-bomb"}"#).expect_err("must hit the cap");
    assert!(matches!(error, SandboxError::MemoryCap { .. }), "{error:?}");
    assert!(
        error.to_string().contains("memory cap of 64 MiB"),
        "{error}"
    );
}

#[test]
fn deep_recursion_traps_on_the_guard_page() {
    let error = run_adversary(r#"{"mode": "recursion", "role": "order"}"#)
        .expect_err("the recursion must trap");
    assert!(matches!(error, SandboxError::Trap { .. }), "{error:?}");
}

#[test]
fn huge_output_is_refused() {
    let error = run_adversary(r#"{"mode": "huge-output", "role": "validate"}"#)
        .expect_err("the answer is over its limit");
    assert!(matches!(error, SandboxError::Limit { .. }), "{error:?}");
}

#[test]
fn a_call_does_not_see_the_memory_of_the_call_before() {
    assert_calls_do_not_share_memory(run_adversary);
    // And the host is still fine for a well-behaved call.
    let policed = run_adversary(r#"{"mode": "well-behaved"}"#).expect("well-behaved run");
    assert_eq!(ids(&policed.plan), ids(&plan()));
}
