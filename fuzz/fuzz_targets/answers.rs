//! The host's checks on what a policy answers, on any answer: patches (shape, JSON budget,
//! frozen fields), orders and patch targets (permutations), and denials and logs as they
//! are shown (masked, escaped, bounded). Answers are refused, never a panic.

#![no_main]

use hooks_sandbox::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line picks hooks, the rest is the answer.
    let (head, answer) = text.split_once('\n').unwrap_or((&text, ""));
    let current: Vec<&str> = head.split(',').filter(|id| !id.is_empty()).collect();
    fuzzing::answer(&current, answer);
});
