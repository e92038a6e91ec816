//! `cargo bench -p kubectl-hooks --bench run`: `kubectl hooks run` against the emulator,
//! compared with the real kubectl on the same emulator, in one run.
//!
//! 1. 100 ConfigMap hooks: `kubectl-hooks run` vs one `kubectl create -f all.yaml` (fresh
//!    HOME each round, so kubectl does its full discovery like a first run in CI) vs a loop
//!    of 100 `kubectl create -f one.yaml` (one HOME reused across the loop, so only the
//!    first call pays discovery: the loop's best case).
//! 2. 20 Job hooks that complete at once (pods of ~1 ms): the delay from a Job becoming
//!    Complete in the emulator to the next hook's apply reaching the emulator. Completion
//!    is observed in-process on the emulator's store (polled every 100 µs), apply arrival
//!    from the emulator's request log; both are emulator-side `Instant`s.
//! 3. A chart of 50 ConfigMap hooks and 10 Job hooks (pre-install): real Helm 4 installing
//!    it (helm-python-sdk, the install call timed inside the already-running driver, so
//!    Helm's start-up is not counted) vs `kubectl-hooks run pre-install` on it (the whole
//!    process). Skipped when `scripts/setup-helm.sh` has not installed the SDK.
//!
//! `BENCH_ROUNDS` (default 5) sets the rounds of the timed runs; medians are reported.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{CHART_CONFIGMAPS, CHART_JOBS, Helm, clear_chart, env, median, ms, write_chart};
use hooks_emulator::{Emulator, EmulatorOptions};

const CONFIGMAPS: usize = 100;
const JOBS: usize = 20;

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emu = runtime
        .block_on(Emulator::start(EmulatorOptions {
            pod_duration: Duration::from_millis(1),
            ..EmulatorOptions::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig, "default", None).unwrap();

    let all = dir.path().join("all.yaml");
    let mut one_files = Vec::new();
    let mut text = String::new();
    for i in 0..CONFIGMAPS {
        let doc = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-{i:03}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{i}\"\ndata:\n  key: value-{i}\n"
        );
        let one = dir.path().join(format!("one-{i:03}.yaml"));
        std::fs::write(&one, &doc).unwrap();
        one_files.push(one);
        text.push_str("---\n");
        text.push_str(&doc);
    }
    std::fs::write(&all, text).unwrap();

    let clear = |emu: &Emulator| {
        for i in 0..CONFIGMAPS {
            emu.delete_object("v1", "ConfigMap", Some("default"), &format!("bench-{i:03}"));
        }
        // Deletion is immediate without a deletion delay; make sure.
        assert!(
            emu.list_objects("v1", "ConfigMap", Some("default"))
                .iter()
                .all(|o| !o["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("bench-"))
        );
    };

    let hooks_bin = env!("CARGO_BIN_EXE_kubectl-hooks");
    let mut hooks_times = Vec::new();
    for round in 0..rounds {
        clear(&emu);
        let home = dir.path().join(format!("hooks-home-{round}"));
        let started = Instant::now();
        let status = Command::new(hooks_bin)
            .args(["run", "pre-install", "-f"])
            .arg(&all)
            .envs(env(&kubeconfig, &home))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        hooks_times.push(started.elapsed());
        assert!(status.success(), "kubectl-hooks run failed");
    }

    let kubectl = kubectl_available();
    let mut create_times = Vec::new();
    let mut loop_time = None;
    if kubectl {
        for round in 0..rounds {
            clear(&emu);
            let home = dir.path().join(format!("kubectl-home-{round}"));
            let started = Instant::now();
            let status = Command::new("kubectl")
                .args(["create", "-f"])
                .arg(&all)
                .envs(env(&kubeconfig, &home))
                .stdout(Stdio::null())
                .status()
                .unwrap();
            create_times.push(started.elapsed());
            assert!(status.success(), "kubectl create -f all.yaml failed");
        }
        clear(&emu);
        let home = dir.path().join("kubectl-loop-home");
        let started = Instant::now();
        for file in &one_files {
            let status = Command::new("kubectl")
                .args(["create", "-f"])
                .arg(file)
                .envs(env(&kubeconfig, &home))
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(
                status.success(),
                "kubectl create -f {} failed",
                file.display()
            );
        }
        loop_time = Some(started.elapsed());
    }

    let (to_create, to_any) = completion_to_next(&emu, dir.path(), &kubeconfig, hooks_bin);
    let versus_helm = versus_helm(&emu, dir.path(), &kubeconfig, hooks_bin, rounds);

    let hooks = median(&mut hooks_times);
    println!();
    println!("kubectl-hooks run benchmark ({rounds} rounds, medians; emulator on loopback)");
    println!();
    println!("{:<58} {:>12}", "case", "time");
    println!(
        "{:<58} {:>12}",
        format!("kubectl-hooks run: {CONFIGMAPS} ConfigMap hooks"),
        ms(hooks)
    );
    let mut goals = Vec::new();
    if kubectl {
        let create = median(&mut create_times);
        let looped = loop_time.unwrap();
        println!(
            "{:<58} {:>12}",
            format!("kubectl create -f all.yaml ({CONFIGMAPS} objects, fresh HOME)"),
            ms(create)
        );
        println!(
            "{:<58} {:>12}",
            format!("loop of {CONFIGMAPS} kubectl create -f (one HOME reused)"),
            ms(looped)
        );
        let vs_create = hooks.as_secs_f64() / create.as_secs_f64();
        let vs_loop = hooks.as_secs_f64() / looped.as_secs_f64();
        goals.push((
            format!("≤ 1.0× one kubectl create: {vs_create:.2}×"),
            vs_create <= 1.0,
        ));
        goals.push((
            format!("≤ 0.1× the kubectl loop: {vs_loop:.3}×"),
            vs_loop <= 0.1,
        ));
    } else {
        println!("kubectl not on PATH: the kubectl comparisons were skipped");
    }
    println!(
        "{:<58} {:>12}",
        format!("{JOBS} Jobs: median Job Complete → next hook's apply"),
        ms(to_create)
    );
    println!(
        "{:<58} {:>12}",
        format!("{JOBS} Jobs: median Job Complete → next request (its delete)"),
        ms(to_any)
    );
    goals.push((
        format!("≤ 5 ms completion → next apply: {}", ms(to_create)),
        to_create <= Duration::from_millis(5),
    ));
    let chart = format!("{CHART_CONFIGMAPS} ConfigMap + {CHART_JOBS} Job hooks");
    match versus_helm {
        Some((helm, ours)) => {
            println!(
                "{:<58} {:>12}",
                format!("Helm 4 install of a chart of {chart}"),
                ms(helm)
            );
            println!(
                "{:<58} {:>12}",
                format!("kubectl-hooks run pre-install of the same {chart}"),
                ms(ours)
            );
            let ratio = ours.as_secs_f64() / helm.as_secs_f64();
            goals.push((
                format!("≤ 1.0× Helm's install of the same chart: {ratio:.2}×"),
                ratio <= 1.0,
            ));
        }
        None => println!(
            "the Helm SDK is not installed (scripts/setup-helm.sh): the Helm comparison was skipped"
        ),
    }
    println!();
    for (goal, met) in goals {
        println!("[{}] {goal}", if met { "met" } else { "NOT met" });
    }
}

/// Runs 20 Job hooks whose pods finish at once and measures, for each Job but the last,
/// the emulator-side delay from its completion to the next hook's apply (and to the next
/// request of any kind, which is the next hook's before-hook-creation delete).
fn completion_to_next(
    emu: &Emulator,
    dir: &Path,
    kubeconfig: &Path,
    hooks_bin: &str,
) -> (Duration, Duration) {
    let mut text = String::new();
    for i in 0..JOBS {
        text.push_str(&format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: job-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{i}\"\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{name: main, image: busybox, command: [\"sh\", \"-c\", \"echo {i}\"]}}\n"
        ));
    }
    let file = dir.join("jobs.yaml");
    std::fs::write(&file, text).unwrap();
    emu.clear_requests();
    let home = dir.join("jobs-home");
    let mut completed: Vec<Option<Instant>> = vec![None; JOBS];
    std::thread::scope(|scope| {
        let mut child = Command::new(hooks_bin)
            .args(["run", "pre-install", "-f"])
            .arg(&file)
            .envs(env(kubeconfig, &home))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let watcher = scope.spawn(|| {
            let mut seen = vec![None; JOBS];
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut next = 0;
            while next < JOBS && Instant::now() < deadline {
                let name = format!("job-{next:02}");
                let done = emu
                    .get_object("batch/v1", "Job", Some("default"), &name)
                    .is_some_and(|job| {
                        job["status"]["conditions"].as_array().is_some_and(|c| {
                            c.iter()
                                .any(|c| c["type"] == "Complete" && c["status"] == "True")
                        })
                    });
                if done {
                    seen[next] = Some(Instant::now());
                    next += 1;
                } else {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            seen
        });
        assert!(child.wait().unwrap().success(), "the Job run failed");
        completed = watcher.join().unwrap();
    });
    let requests = emu.requests();
    let mut to_create = Vec::new();
    let mut to_any = Vec::new();
    for at in completed.iter().take(JOBS - 1).flatten() {
        if let Some(create) = requests.iter().find(|r| {
            matches!(r.method.as_str(), "POST" | "PATCH")
                && r.path.contains("/jobs")
                && r.received >= *at
        }) {
            to_create.push(create.received.duration_since(*at));
        }
        if let Some(any) = requests
            .iter()
            .find(|r| r.received >= *at && !r.query.contains("watch=true"))
        {
            to_any.push(any.received.duration_since(*at));
        }
    }
    (median(&mut to_create), median(&mut to_any))
}

/// Median wall times of Helm installing a chart of ConfigMap and Job hooks and of
/// kubectl-hooks running the same hooks, on the same emulator, the objects cleared
/// before every round; `None` without the Helm SDK.
fn versus_helm(
    emu: &Emulator,
    dir: &Path,
    kubeconfig: &Path,
    hooks_bin: &str,
    rounds: usize,
) -> Option<(Duration, Duration)> {
    let mut helm = Helm::start(dir, kubeconfig)?;
    // Every hook its own weight: each runs alone, in order.
    let chart = write_chart(dir, "bench", |i| i);
    let mut helm_times = Vec::new();
    let mut hooks_times = Vec::new();
    for round in 0..rounds {
        clear_chart(emu);
        helm_times.push(helm.install(&chart, &format!("bench-{round}")));

        clear_chart(emu);
        let home = dir.join(format!("chart-home-{round}"));
        let started = Instant::now();
        let status = Command::new(hooks_bin)
            .args(["run", "pre-install", "--timeout", "60s", "-f"])
            .arg(chart.join("templates"))
            .envs(env(kubeconfig, &home))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        hooks_times.push(started.elapsed());
        assert!(status.success(), "kubectl-hooks run of the chart failed");
    }
    Some((median(&mut helm_times), median(&mut hooks_times)))
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
