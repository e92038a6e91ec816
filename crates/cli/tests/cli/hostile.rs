//! The binary against hostile policies, measured as an attacker would measure it: for
//! every attack, how long `kubectl hooks plan` took, the peak RSS of the process, the
//! bytes it printed, and what it said and exited with, once with the policy configured
//! `failurePolicy: Fail` and once with `Ignore`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{artifact, kubectl_hooks, workspace_root};

/// The per-call cap given to every hostile policy.
const CAP_MS: u64 = 200;
/// What the threat model promises: a call ends within its cap and this.
const SLACK: Duration = Duration::from_millis(100);
const MAX_RSS_BYTES: u64 = 256 << 20;
const MAX_OUTPUT_BYTES: usize = 1 << 20;

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-5"
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
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/ledger:1.0
"#;

/// One attack: the adversary's settings, extra limits, and what `Fail` must end in.
struct Attack {
    settings: &'static str,
    limits: &'static str,
    /// The guest: the adversary, or another fixture.
    package: &'static str,
    fail_exit: i32,
    fail_says: &'static str,
}

const fn attack(settings: &'static str, fail_says: &'static str) -> Attack {
    Attack {
        settings,
        limits: "",
        package: "adversary-policy",
        fail_exit: 4,
        fail_says,
    }
}

/// What one run of the binary did.
struct Measured {
    exit: i32,
    elapsed: Duration,
    output: String,
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("hooks.yaml");
    std::fs::write(&manifests, MANIFESTS).unwrap();
    (dir, manifests)
}

fn config(dir: &Path, attack: &Attack, failure: &str) -> PathBuf {
    let wasm = workspace_root().join(artifact(attack.package));
    let text = format!(
        "apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n  - name: hostile\n    path: {}\n    settings: {}\n    failurePolicy: {failure}\n    limits: {{timeoutMs: {CAP_MS}{}}}\n",
        wasm.display(),
        attack.settings,
        attack.limits
    );
    let file = dir.join(format!("{failure}.yaml"));
    std::fs::write(&file, text).unwrap();
    file
}

fn plan(manifests: &Path, config: &Path) -> Measured {
    let started = Instant::now();
    let output = kubectl_hooks()
        .args(["plan", "pre-install", "-f"])
        .arg(manifests)
        .arg("--policy-config")
        .arg(config)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    Measured {
        exit: output.status.code().unwrap_or(-1),
        elapsed,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// The largest peak RSS of any child this test process has waited for, in bytes.
#[allow(unsafe_code)]
fn peak_rss_of_children() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes a whole `rusage` into the pointer it is given, which
    // points at one; its result is checked before the value is read.
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(status, 0, "getrusage failed");
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    // Linux reports kilobytes.
    u64::try_from(usage.ru_maxrss).unwrap() * 1024
}

/// Lines that could pass for the tool's verdict: only the tool's own, one at most, may
/// start so.
fn assert_not_forged(output: &str) {
    let verdicts: Vec<&str> = output
        .lines()
        .filter(|line| line.trim_start().starts_with("verdict:"))
        .collect();
    assert!(
        verdicts.len() <= 1,
        "forged verdict lines: {verdicts:?}\n{output}"
    );
    let controls: Vec<char> = output
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        controls.is_empty(),
        "control characters {controls:?} reached the terminal"
    );
    for secret in ["aHVudGVyMg==", "hunter2", "s3cr3t-token"] {
        assert!(!output.contains(secret), "{secret} reached the output");
    }
}

/// Runs the attack with `Fail` and `Ignore` and checks every bound; prints the numbers.
fn check(name: &str, attack: Attack) {
    let (dir, manifests) = scratch();
    // The same command with a well-behaved policy: what the process costs anyway. The
    // slowest of three, so that a slow start of the process is not charged to the guest.
    let calm = Attack {
        settings: "{}",
        package: "adversary-policy",
        ..attack
    };
    let calm_config = config(dir.path(), &calm, "Fail");
    let baseline = (0..3)
        .map(|_| plan(&manifests, &calm_config))
        .max_by_key(|run| run.elapsed)
        .unwrap();
    assert_eq!(baseline.exit, 0, "{}", baseline.output);

    let fail_config = config(dir.path(), &attack, "Fail");
    // Compiling the hostile component on a cache miss is not the call its time cap bounds,
    // and the calm policy's runs above were warm: one run first puts the component in the
    // compile cache. (Charging the compile to the guest failed this test on a loaded
    // machine: 338 ms against a bound of 312.)
    plan(&manifests, &fail_config);
    let failed = plan(&manifests, &fail_config);
    let ignored = plan(&manifests, &config(dir.path(), &attack, "Ignore"));
    let peak = peak_rss_of_children();
    eprintln!(
        "{name}: Fail exit {} in {:?}, Ignore exit {} in {:?}, {} and {} bytes printed, baseline {:?}, peak RSS {} MiB",
        failed.exit,
        failed.elapsed,
        ignored.exit,
        ignored.elapsed,
        failed.output.len(),
        ignored.output.len(),
        baseline.elapsed,
        peak >> 20
    );

    assert_eq!(failed.exit, attack.fail_exit, "{name}: {}", failed.output);
    assert!(
        failed.output.contains("policy `hostile`") || failed.output.contains("hostile: "),
        "{name}: {}",
        failed.output
    );
    assert!(
        failed.output.contains(attack.fail_says),
        "{name}: expected {:?} in\n{}",
        attack.fail_says,
        failed.output
    );
    // With Ignore, a failure is a warning and the event goes on; a denial still denies.
    let ignore_exit = if attack.fail_exit == 4 {
        0
    } else {
        attack.fail_exit
    };
    assert_eq!(ignored.exit, ignore_exit, "{name}: {}", ignored.output);
    if attack.fail_exit == 4 {
        assert!(
            ignored.output.contains("ignored (failurePolicy: Ignore)"),
            "{name}: {}",
            ignored.output
        );
    }
    for run in [&failed, &ignored] {
        assert!(
            run.elapsed <= baseline.elapsed + Duration::from_millis(CAP_MS) + SLACK,
            "{name}: took {:?}; the well-behaved run took {:?}",
            run.elapsed,
            baseline.elapsed
        );
        assert!(
            run.output.len() <= MAX_OUTPUT_BYTES,
            "{name}: printed {} bytes",
            run.output.len()
        );
        assert_not_forged(&run.output);
    }
    assert!(peak <= MAX_RSS_BYTES, "{name}: peak RSS {} MiB", peak >> 20);
}

#[test]
fn sleeping_in_a_wasi_call() {
    check(
        "sleep",
        attack(
            r#"{"mode": "sleep", "role": "validate"}"#,
            "ran out of time",
        ),
    );
}

#[test]
fn blocking_on_a_pollable_that_is_never_ready() {
    check(
        "block-forever",
        attack(
            r#"{"mode": "block-forever", "role": "validate"}"#,
            "ran out of time",
        ),
    );
}

#[test]
fn sleeping_while_being_instantiated() {
    check(
        "sleep at instantiation",
        Attack {
            package: "adversary-init-policy",
            ..attack("{}", "validate ran out of time")
        },
    );
}

#[test]
fn spinning_in_guest_code() {
    check(
        "loop",
        attack(
            r#"{"mode": "loop", "role": "order"}"#,
            "order ran out of time",
        ),
    );
}

#[test]
fn growing_memory_without_end() {
    check(
        "memory-bomb",
        attack(r#"{"mode": "memory-bomb"}"#, "hit the memory cap of 64 MiB"),
    );
}

#[test]
fn holding_host_resources() {
    check(
        "hold-resources",
        attack(r#"{"mode": "hold-resources"}"#, "mutate trapped"),
    );
}

#[test]
fn asking_for_a_gibibyte_of_random_bytes() {
    check(
        "random-bomb",
        attack(r#"{"mode": "random-bomb"}"#, "mutate trapped"),
    );
}

#[test]
fn flooding_the_log() {
    check(
        "log-flood",
        attack(
            r#"{"mode": "log-flood", "role": "validate"}"#,
            "ran out of time",
        ),
    );
}

#[test]
fn flooding_stdout_and_stderr() {
    check(
        "print-flood",
        attack(
            r#"{"mode": "print-flood", "role": "validate"}"#,
            "ran out of time",
        ),
    );
}

#[test]
fn a_48_mib_error() {
    check(
        "huge-error",
        Attack {
            limits: ", memoryMiB: 256",
            ..attack(
                r#"{"mode": "huge-error", "role": "order"}"#,
                "the first 4096 are kept",
            )
        },
    );
}

#[test]
fn a_million_empty_denials() {
    check(
        "denial-flood",
        attack(
            r#"{"mode": "denial-flood", "role": "validate"}"#,
            "over `limits.answerItems` (1000)",
        ),
    );
}

#[test]
fn a_patch_of_small_json_values() {
    check(
        "json-bomb",
        attack(
            r#"{"mode": "json-bomb", "size": 900000}"#,
            "over `limits.jsonNodes` (100000)",
        ),
    );
}

#[test]
fn forged_verdict_lines() {
    check(
        "forge",
        Attack {
            fail_exit: 3,
            ..attack(r#"{"mode": "forge"}"#, "verdict: DENIED")
        },
    );
}

#[test]
fn repeating_secret_values() {
    check(
        "leak-secret",
        Attack {
            fail_exit: 3,
            ..attack(r#"{"mode": "leak-secret"}"#, "***")
        },
    );
}

#[test]
fn an_annotation_of_empty_entries() {
    check(
        "empty-entries",
        Attack {
            fail_exit: 0,
            ..attack(r#"{"mode": "empty-entries"}"#, "20001 empty entries")
        },
    );
}

#[test]
fn a_patch_of_100k_lines() {
    check(
        "long-diff",
        Attack {
            limits: ", patchKiB: 16384, jsonNodes: 1000000",
            fail_exit: 0,
            ..attack(r#"{"mode": "long-diff"}"#, "diff too large, 1000")
        },
    );
}
