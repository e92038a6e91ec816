//! The instance pool: every call gets a fresh instance from it, however many calls are
//! in flight, and the memory a call dirtied is gone before the next call sees it.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use hooks_sandbox::{Allocation, FailurePolicy, Limits, SandboxError};

use crate::util::{
    adversary_with, assert_calls_do_not_share_memory, configured, engine, run, run_adversary,
};

/// More than the pool's 32 instances.
const CALLS: usize = 48;

#[test]
fn more_calls_at_once_than_the_pool_has_instances_all_run() {
    assert_eq!(
        engine().allocation(),
        Allocation::Pooled,
        "this test is about the instance pool"
    );
    // Each call loops until its cap, so all of them would hold an instance at once.
    let policy = Arc::new(adversary_with(Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    }));
    let start = Barrier::new(CALLS);
    let errors: Vec<SandboxError> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let policy = Arc::clone(&policy);
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    run(&[configured(
                        policy,
                        r#"{"mode": "loop", "role": "validate"}"#,
                        FailurePolicy::Fail,
                    )])
                    .expect_err("the loop must time out")
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    // Every call ran (and was stopped by its own cap); none failed for want of an
    // instance.
    for error in &errors {
        assert!(matches!(error, SandboxError::Timeout { .. }), "{error:?}");
    }
}

#[test]
fn a_call_does_not_see_the_memory_of_the_call_before() {
    // With a recycled slot that was not reset, the second call would find the first
    // call's marker.
    assert_calls_do_not_share_memory(run_adversary);
}
