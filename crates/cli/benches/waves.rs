//! `cargo bench -p kubectl-hooks --bench waves`: `kubectl hooks run --parallel` against
//! serial runs and real Helm, on the emulator, in one run.
//!
//! 1. 20 Job hooks of one weight whose pods run 1 s each: `run` (serial, as Helm) vs
//!    `run --parallel` (one wave). Goal: parallel ≤ 0.1× serial.
//! 2. A chart of 50 ConfigMap hooks (weight 0) and 10 short Job hooks (weight 1, pods of
//!    the emulator's default 200 ms): real Helm 4 installing it (helm-python-sdk, the
//!    install call timed inside the running driver, so Helm's start-up is not counted) vs
//!    `kubectl-hooks run pre-install` serial vs `--parallel` (whole processes). Goal:
//!    parallel ≤ 0.3× Helm. Skipped when `scripts/setup-helm.sh` has not installed the SDK.
//!
//! `BENCH_ROUNDS` (default 3) sets the rounds; medians are reported.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{CHART_CONFIGMAPS, CHART_JOBS, Helm, clear_chart, env, median, ms, write_chart};
use hooks_emulator::{Emulator, EmulatorOptions};

const JOBS: usize = 20;

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The emulator's default pods (200 ms); the 20 Jobs ask for 1 s each.
    let emu = runtime
        .block_on(Emulator::start(EmulatorOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig, "default", None).unwrap();
    let hooks_bin = env!("CARGO_BIN_EXE_kubectl-hooks");

    let mut jobs = String::new();
    for i in 0..JOBS {
        jobs.push_str(&format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: wave-job-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    emulator.kubectl-hooks.dev/duration: 1s\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{name: main, image: busybox, command: [\"sh\", \"-c\", \"echo {i}\"]}}\n"
        ));
    }
    let jobs_file = dir.path().join("jobs.yaml");
    std::fs::write(&jobs_file, jobs).unwrap();
    let clear_jobs = || {
        for i in 0..JOBS {
            emu.delete_object(
                "batch/v1",
                "Job",
                Some("default"),
                &format!("wave-job-{i:02}"),
            );
        }
    };
    let hooks = |file: &Path, extra: &[&str], home: &Path| {
        let started = Instant::now();
        let status = Command::new(hooks_bin)
            .args(["run", "pre-install", "--timeout", "120s", "-f"])
            .arg(file)
            .args(extra)
            .envs(env(&kubeconfig, home))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "kubectl-hooks run {extra:?} failed");
        started.elapsed()
    };
    let mut serial = Vec::new();
    let mut parallel = Vec::new();
    for round in 0..rounds {
        clear_jobs();
        serial.push(hooks(
            &jobs_file,
            &[],
            &dir.path().join(format!("s-{round}")),
        ));
        clear_jobs();
        parallel.push(hooks(
            &jobs_file,
            &["--parallel"],
            &dir.path().join(format!("p-{round}")),
        ));
    }
    let serial = median(&mut serial);
    let parallel = median(&mut parallel);

    let chart = versus_helm(&emu, dir.path(), &kubeconfig, rounds, |extra, round| {
        hooks(
            &dir.path().join("chart/templates"),
            extra,
            &dir.path().join(format!("chart-{round}-{}", extra.len())),
        )
    });

    println!();
    println!("kubectl-hooks waves benchmark ({rounds} rounds, medians; emulator on loopback)");
    println!();
    println!("{:<66} {:>12}", "case", "time");
    println!(
        "{:<66} {:>12}",
        format!("{JOBS} Jobs of 1 s, one weight: kubectl-hooks run (serial)"),
        ms(serial)
    );
    println!(
        "{:<66} {:>12}",
        format!("{JOBS} Jobs of 1 s, one weight: kubectl-hooks run --parallel"),
        ms(parallel)
    );
    let mut goals = Vec::new();
    let ratio = parallel.as_secs_f64() / serial.as_secs_f64();
    goals.push((
        format!("≤ 0.1× serial on the {JOBS} Jobs: {ratio:.3}×"),
        ratio <= 0.1,
    ));
    let name = format!("{CHART_CONFIGMAPS} ConfigMap + {CHART_JOBS} Job hooks");
    match chart {
        Some((helm, serial, parallel)) => {
            println!(
                "{:<66} {:>12}",
                format!("Helm 4 install of a chart of {name}"),
                ms(helm)
            );
            println!(
                "{:<66} {:>12}",
                "kubectl-hooks run pre-install of the chart (serial)",
                ms(serial)
            );
            println!(
                "{:<66} {:>12}",
                "kubectl-hooks run pre-install --parallel of the chart",
                ms(parallel)
            );
            let ratio = parallel.as_secs_f64() / helm.as_secs_f64();
            let serial_ratio = serial.as_secs_f64() / helm.as_secs_f64();
            println!("(serial: {serial_ratio:.2}× Helm)");
            goals.push((
                format!("≤ 0.3× Helm on the chart with --parallel: {ratio:.2}×"),
                ratio <= 0.3,
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

/// Median wall times of Helm installing the chart, and of kubectl-hooks running it
/// serially and with `--parallel`, the objects cleared before every run; `None` without
/// the Helm SDK.
fn versus_helm(
    emu: &Emulator,
    dir: &Path,
    kubeconfig: &Path,
    rounds: usize,
    hooks: impl Fn(&[&str], usize) -> Duration,
) -> Option<(Duration, Duration, Duration)> {
    let mut helm = Helm::start(dir, kubeconfig)?;
    // The ConfigMaps are one wave (weight 0), the Jobs the next (weight 1).
    let chart = write_chart(dir, "waves", |i| usize::from(i >= CHART_CONFIGMAPS));
    let (mut helm_times, mut serial, mut parallel) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        clear_chart(emu);
        helm_times.push(helm.install(&chart, &format!("waves-{round}")));
        clear_chart(emu);
        serial.push(hooks(&[], round));
        clear_chart(emu);
        parallel.push(hooks(&["--parallel"], round));
    }
    Some((
        median(&mut helm_times),
        median(&mut serial),
        median(&mut parallel),
    ))
}
