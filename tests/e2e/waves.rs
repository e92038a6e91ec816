//! `run --parallel`: waves of equal weight, their Jobs and Pods together; per-hook
//! timeouts; waves answered by a policy. Concurrency is asserted from the emulator's
//! request log and the report's start and end times, never from how long a test took.

use std::process::Stdio;
use std::time::{Duration, Instant};

use hooks_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::{Cluster, NAMESPACE, code, quick, report, stderr};

/// A Job hook of `weight` that runs `duration` and succeeds, or fails when `fail`.
fn job(name: &str, weight: i64, duration: &str, fail: bool, extra: &str) -> String {
    let outcome = if fail { "fail" } else { "succeed" };
    format!(
        r#"---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "{weight}"
    emulator.kubectl-hooks.dev/duration: "{duration}"
    emulator.kubectl-hooks.dev/outcome: "{outcome}"
{extra}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - {{name: main, image: busybox, command: ["sh", "-c", "echo {name}"]}}
"#
    )
}

fn config_map(name: &str, weight: i64) -> String {
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{weight}\"\ndata:\n  a: b\n"
    )
}

fn run(cluster: &Cluster, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "run",
        "pre-install",
        "-f",
        file,
        "-n",
        NAMESPACE,
        "-o",
        "json",
    ];
    args.extend_from_slice(extra);
    cluster.run(&args)
}

/// The report's hooks by id.
fn hook<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == id)
        .unwrap_or_else(|| panic!("no hook {id} in {json:#}"))
}

fn outcomes(json: &Value) -> Vec<(String, String)> {
    json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_owned(),
                h["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// When each applied Job's apply reached the emulator, in order.
fn job_applies(cluster: &Cluster) -> Vec<(String, Instant)> {
    cluster
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("/jobs/") && r.status < 300)
        .map(|r| (r.name.unwrap_or_default(), r.received))
        .collect()
}

/// A report timestamp (RFC 3339, UTC, fractional seconds with trailing zeros trimmed) as
/// seconds since the epoch: compared as text, `…:01.5Z` would sort after `…:01.51Z`.
fn timestamp(value: &Value) -> f64 {
    let text = value.as_str().unwrap();
    let (date, time) = text.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let t: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    days as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}

#[test]
fn a_wave_of_jobs_is_created_before_any_of_them_completes() {
    // Jobs of 1 s: the emulator completes none before a second after its create, so all
    // five applies inside that second means none waited for another.
    let cluster = Cluster::start(quick());
    let manifests: String = (1..=5)
        .map(|i| job(&format!("job-{i}"), 0, "1s", false, ""))
        .chain([config_map("settings", 0)])
        .collect();
    let file = cluster.file("wave.yaml", &manifests);
    let output = run(&cluster, &file, &["--parallel"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let json = report(&output);
    assert_eq!(json["parallel"], serde_json::json!({"maxParallel": null}));

    let applies = job_applies(&cluster);
    assert_eq!(applies.len(), 5, "{applies:?}");
    let first = applies.iter().map(|a| a.1).min().unwrap();
    let last = applies.iter().map(|a| a.1).max().unwrap();
    assert!(
        last - first < Duration::from_millis(900),
        "the applies spread over {:?}: {applies:?}",
        last - first
    );
    // The ConfigMap the Jobs may mount came first.
    let requests = cluster.emu.requests();
    let config_map_at = requests
        .iter()
        .find(|r| r.method == "PATCH" && r.path.contains("/configmaps/"))
        .unwrap()
        .received;
    assert!(config_map_at < first);
    // And in the report: all in wave 1, every Job started before the first one ended.
    let hooks = json["hooks"].as_array().unwrap();
    assert!(hooks.iter().all(|h| h["wave"] == 1));
    let jobs: Vec<&Value> = hooks
        .iter()
        .filter(|h| h["object"]["kind"] == "Job")
        .collect();
    let first_end = jobs
        .iter()
        .map(|h| timestamp(&h["endedAt"]))
        .fold(f64::INFINITY, f64::min);
    for job in &jobs {
        assert!(timestamp(&job["startedAt"]) <= first_end, "{job:#}");
    }
    assert!(stderr(&output).contains("wave 1/1: 6 hooks, 5 Jobs/Pods together"));
}

#[test]
fn a_failure_in_a_wave_lets_siblings_finish_and_starts_no_later_wave() {
    let cluster = Cluster::start(quick());
    let succeeded = "    helm.sh/hook-delete-policy: hook-succeeded\n";
    let failed = "    helm.sh/hook-delete-policy: hook-failed\n";
    let manifests = [
        job("slow-sibling", 0, "1s", false, succeeded),
        job("broken", 0, "100ms", true, failed),
        job("kept-sibling", 0, "300ms", false, ""),
        job("later", 1, "100ms", false, ""),
    ]
    .concat();
    let file = cluster.file("failing.yaml", &manifests);
    let output = run(&cluster, &file, &["--parallel"]);
    assert_eq!(code(&output), Some(5), "{}", stderr(&output));
    let json = report(&output);
    assert_eq!(
        outcomes(&json),
        [
            ("Job/broken".to_owned(), "failed".to_owned()),
            ("Job/kept-sibling".to_owned(), "succeeded".to_owned()),
            ("Job/slow-sibling".to_owned(), "succeeded".to_owned()),
            ("Job/later".to_owned(), "not-run".to_owned()),
        ]
    );
    // The sibling that outlived the failure finished after it.
    assert!(
        timestamp(&hook(&json, "Job/slow-sibling")["endedAt"])
            >= timestamp(&hook(&json, "Job/broken")["endedAt"])
    );
    // No later wave: `later` was never sent.
    assert!(
        job_applies(&cluster)
            .iter()
            .all(|(name, _)| name != "later")
    );
    // Helm on failure: the failed hook goes by hook-failed, the succeeded ones by
    // hook-succeeded; the one without either stays.
    assert!(cluster.get("batch/v1", "Job", "broken").is_none());
    assert!(cluster.get("batch/v1", "Job", "slow-sibling").is_none());
    assert!(cluster.get("batch/v1", "Job", "kept-sibling").is_some());
    let left: Vec<&str> = json["leftInCluster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["kept-sibling"]);
}

#[test]
fn max_parallel_bounds_the_jobs_running_at_once() {
    let cluster = Cluster::start(quick());
    let manifests: String = (1..=6)
        .map(|i| job(&format!("job-{i}"), 0, "400ms", false, ""))
        .collect();
    let file = cluster.file("six.yaml", &manifests);
    let output = run(&cluster, &file, &["--parallel", "--max-parallel", "2"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let json = report(&output);
    assert_eq!(json["parallel"]["maxParallel"], 2);
    let spans: Vec<(f64, f64)> = json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (timestamp(&h["startedAt"]), timestamp(&h["endedAt"])))
        .collect();
    // At each start, at most two hooks (that one included) are between start and end.
    for (start, _) in &spans {
        let running = spans
            .iter()
            .filter(|(s, e)| s <= start && start < e)
            .count();
        assert!(running <= 2, "{running} running at {start}: {spans:?}");
    }
    // And it did run two at once: not serial.
    let overlapping = spans
        .iter()
        .any(|(s, _)| spans.iter().filter(|(s2, e2)| s2 <= s && s < e2).count() == 2);
    assert!(overlapping, "{spans:?}");
}

#[test]
fn a_hooks_own_timeout_bounds_its_wait_instead_of_the_runs() {
    let cluster = Cluster::start(quick());
    let own = "    kubectl-hooks.dev/timeout: 1s\n";
    let manifests = [job("stuck", 0, "60s", false, own), config_map("cm", 1)].concat();
    let file = cluster.file("stuck.yaml", &manifests);
    let started = Instant::now();
    let output = run(&cluster, &file, &["--timeout", "10m"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(code(&output), Some(5), "{}", stderr(&output));
    let json = report(&output);
    let stuck = hook(&json, "Job/stuck");
    assert_eq!(stuck["outcome"], "timed-out");
    assert_eq!(stuck["timeoutMs"], 1000);
    assert_eq!(stuck["timeoutFrom"], "annotation");
    assert_eq!(hook(&json, "ConfigMap/cm")["timeoutFrom"], "default");
    assert_eq!(hook(&json, "ConfigMap/cm")["timeoutMs"], 600_000);
    let err = stderr(&output);
    assert!(err.contains("hook Job/stuck: timed out after 1s"), "{err}");
    assert!(
        err.contains("raise the hook's `kubectl-hooks.dev/timeout`"),
        "{err}"
    );

    // `plan` shows the effective timeouts.
    let plan = cluster.run(&["plan", "pre-install", "-f", &file, "--timeout", "10m"]);
    let table = String::from_utf8_lossy(&plan.stdout);
    assert!(table.contains("1s (own)"), "{table}");
    assert!(table.contains("10m"), "{table}");
}

#[test]
fn a_bad_timeout_annotation_is_bad_input_naming_the_hook_and_applies_nothing() {
    let cluster = Cluster::start(quick());
    let bad = "    kubectl-hooks.dev/timeout: soon\n";
    let manifests = [
        config_map("first", 0),
        job("impatient", 1, "1s", false, bad),
    ]
    .concat();
    let file = cluster.file("bad.yaml", &manifests);
    let output = run(&cluster, &file, &["--parallel"]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("hook `Job/impatient`"), "{err}");
    assert!(
        err.contains("`kubectl-hooks.dev/timeout: \"soon\"` is not a duration"),
        "{err}"
    );
    assert!(cluster.writes().is_empty(), "{:?}", cluster.writes());
}

#[test]
fn plan_parallel_shows_the_waves() {
    let cluster = Cluster::start(quick());
    let manifests = [
        config_map("cm", 0),
        job("a", 0, "1s", false, ""),
        job("b", 0, "1s", false, ""),
        job("c", 5, "1s", false, ""),
    ]
    .concat();
    let file = cluster.file("plan.yaml", &manifests);
    let output = cluster.run(&["plan", "pre-install", "-f", &file, "--parallel"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("2 waves by weight"), "{table}");
    let waves: Vec<&str> = table
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(waves, ["1", "1", "1", "2"], "{table}");
}

#[test]
fn ctrl_c_during_a_wave_reports_every_running_hook_and_what_is_left() {
    let cluster = Cluster::start(EmulatorOptions {
        pod_duration: Duration::from_millis(100),
        ..EmulatorOptions::default()
    });
    let manifests = [
        config_map("cm", 0),
        job("sleepy-a", 0, "60s", false, ""),
        job("sleepy-b", 0, "60s", false, ""),
        job("never", 1, "100ms", false, ""),
    ]
    .concat();
    let file = cluster.file("sleepy.yaml", &manifests);
    let child = cluster
        .hooks()
        .args([
            "run",
            "pre-install",
            "-f",
            &file,
            "-n",
            NAMESPACE,
            "-o",
            "json",
        ])
        .arg("--parallel")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while job_applies(&cluster).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the wave's Jobs were never applied"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = stderr(&output);
    assert_eq!(code(&output), Some(130), "{err}");
    assert!(
        err.contains("interrupted while Job/sleepy-a and Job/sleepy-b were running"),
        "{err}"
    );
    let json = report(&output);
    assert_eq!(json["outcome"], "interrupted");
    assert_eq!(
        outcomes(&json),
        [
            ("ConfigMap/cm".to_owned(), "created".to_owned()),
            ("Job/sleepy-a".to_owned(), "interrupted".to_owned()),
            ("Job/sleepy-b".to_owned(), "interrupted".to_owned()),
            ("Job/never".to_owned(), "not-run".to_owned()),
        ]
    );
    let left: Vec<&str> = json["leftInCluster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["cm", "sleepy-a", "sleepy-b"]);
    assert!(err.contains("left in the cluster by this run:"), "{err}");
}

/// A component built for `wasm32-wasip2` by `scripts/build-policies.sh`.
fn policy(name: &str) -> String {
    let path =
        crate::util::workspace_root().join(format!("target/wasm32-wasip2/release/{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-policies.sh`",
        path.display()
    );
    path.to_str().unwrap().to_owned()
}

fn test_pod(name: &str, weight: i64) -> String {
    format!(
        r#"---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    hooks.kubectl-hooks.dev/backup: "{backup}"
  annotations:
    helm.sh/hook: test
    helm.sh/hook-weight: "{weight}"
    emulator.kubectl-hooks.dev/duration: "1s"
spec:
  restartPolicy: Never
  containers:
    - {{name: main, image: busybox, command: ["sh", "-c", "echo {name}"]}}
"#,
        backup = name == "z-backup"
    )
}

#[test]
fn waves_answered_by_a_policy_run_together_beside_a_0_1_0_orderer() {
    let cluster = Cluster::start(quick());
    // Three weights: three waves by weight. tests-together (0.2.0) makes the test Pods
    // one wave; backups-first (0.1.0, unchanged) moves the backup first before it.
    let manifests = [
        test_pod("a-smoke", 0),
        test_pod("b-api", 5),
        test_pod("z-backup", 10),
    ]
    .concat();
    let file = cluster.file("tests.yaml", &manifests);
    let plan = cluster.run(&[
        "plan",
        "test",
        "-f",
        &file,
        "--parallel",
        "--policy",
        &policy("backups_first"),
        "--policy",
        &policy("tests_together"),
    ]);
    let table = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(code(&plan), Some(0), "{table}{}", stderr(&plan));
    assert!(
        table.contains("1 wave from policy `tests-together`"),
        "{table}"
    );

    let output = cluster.run(&[
        "run",
        "test",
        "-f",
        &file,
        "-n",
        NAMESPACE,
        "-o",
        "json",
        "--parallel",
        "--policy",
        &policy("backups_first"),
        "--policy",
        &policy("tests_together"),
    ]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let json = report(&output);
    let hooks = json["hooks"].as_array().unwrap();
    let ids: Vec<&str> = hooks.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Pod/z-backup", "Pod/a-smoke", "Pod/b-api"]);
    assert!(hooks.iter().all(|h| h["wave"] == 1), "{json:#}");
    // Pods of 1 s, all started before the first ended: they ran together.
    let first_end = hooks
        .iter()
        .map(|h| timestamp(&h["endedAt"]))
        .fold(f64::INFINITY, f64::min);
    assert!(
        hooks
            .iter()
            .all(|h| timestamp(&h["startedAt"]) <= first_end)
    );
    let decisions = json["policies"]["decisions"].as_array().unwrap();
    assert!(
        decisions.iter().any(|d| d["policy"] == "backups-first"),
        "{decisions:#?}"
    );
    assert!(
        decisions
            .iter()
            .any(|d| d["policy"] == "tests-together" && d["changed"] == true),
        "{decisions:#?}"
    );
}

/// A policy configuration of job-defaults setting `hookTimeout`, with `maxHookTimeout`
/// when `max` is given.
fn job_defaults_config(cluster: &Cluster, hook_timeout: &str, max: Option<&str>) -> String {
    let max = max
        .map(|m| format!("    maxHookTimeout: {m}\n"))
        .unwrap_or_default();
    cluster.file(
        "policies.yaml",
        &format!(
            "apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n  - name: job-defaults\n    path: {}\n    settings: {{hookTimeout: \"{hook_timeout}\"}}\n{max}",
            policy("job_defaults")
        ),
    )
}

#[test]
fn a_mutator_sets_a_hooks_timeout_only_within_its_configured_bound() {
    let cluster = Cluster::start(quick());
    let file = cluster.file("stuck.yaml", &job("stuck", 0, "60s", false, ""));

    // No `maxHookTimeout`: the patch is refused, naming the policy; nothing applied.
    let config = job_defaults_config(&cluster, "1s", None);
    let refused = run(&cluster, &file, &["--policy-config", &config]);
    let err = stderr(&refused);
    assert_eq!(code(&refused), Some(4), "{err}");
    assert!(err.contains("policy `job-defaults`"), "{err}");
    assert!(err.contains("no `maxHookTimeout`"), "{err}");
    assert!(cluster.writes().is_empty(), "{:?}", cluster.writes());

    // Over the bound: refused too.
    let config = job_defaults_config(&cluster, "20m", Some("10m"));
    let over = run(&cluster, &file, &["--policy-config", &config]);
    assert_eq!(code(&over), Some(4), "{}", stderr(&over));
    assert!(
        stderr(&over).contains("over its `maxHookTimeout` (10m)"),
        "{}",
        stderr(&over)
    );

    // Within it: the hook waits 1 s instead of `--timeout`.
    let config = job_defaults_config(&cluster, "1s", Some("10m"));
    let output = run(
        &cluster,
        &file,
        &["--policy-config", &config, "--timeout", "10m"],
    );
    assert_eq!(code(&output), Some(5), "{}", stderr(&output));
    let json = report(&output);
    let stuck = hook(&json, "Job/stuck");
    assert_eq!(stuck["outcome"], "timed-out");
    assert_eq!(stuck["timeoutMs"], 1000);
    assert_eq!(stuck["timeoutFrom"], "annotation");
}
