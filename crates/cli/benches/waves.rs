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

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hooks_emulator::{Emulator, EmulatorOptions};

const JOBS: usize = 20;
const CHART_CONFIGMAPS: usize = 50;
const CHART_JOBS: usize = 10;

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/tools/helm-venv/bin/python");
    if !python.is_file() {
        return None;
    }
    let chart = dir.join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: waves\nversion: 0.1.0\n",
    )
    .unwrap();
    let mut text = String::new();
    for i in 0..CHART_CONFIGMAPS {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-cm-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"0\"\ndata:\n  key: value-{i}\n"
        ));
    }
    for i in 0..CHART_JOBS {
        text.push_str(&format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: chart-job-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"1\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{name: main, image: busybox, command: [\"sh\", \"-c\", \"echo {i}\"]}}\n"
        ));
    }
    // Templates without template directives render to themselves.
    std::fs::write(chart.join("templates/hooks.yaml"), &text).unwrap();
    let clear = || {
        for i in 0..CHART_CONFIGMAPS {
            emu.delete_object(
                "v1",
                "ConfigMap",
                Some("default"),
                &format!("chart-cm-{i:02}"),
            );
        }
        for i in 0..CHART_JOBS {
            emu.delete_object(
                "batch/v1",
                "Job",
                Some("default"),
                &format!("chart-job-{i:02}"),
            );
        }
    };

    let mut helm = Command::new(&python)
        .arg(root.join("tests/helm/driver.py"))
        .env("HOME", dir.join("helm-home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = helm.stdin.take().unwrap();
    let mut stdout = BufReader::new(helm.stdout.take().unwrap());
    let mut request = |request: serde_json::Value| {
        writeln!(stdin, "{request}").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], true, "Helm failed: {answer}");
    };
    request(
        serde_json::json!({"op": "connect", "kubeconfig": kubeconfig,
                               "namespace": "default", "storage": "secret"}),
    );
    let (mut helm_times, mut serial, mut parallel) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        clear();
        let started = Instant::now();
        request(serde_json::json!({"op": "install", "chart": chart,
                                   "release": format!("waves-{round}"), "timeout": 60}));
        helm_times.push(started.elapsed());
        clear();
        serial.push(hooks(&[], round));
        clear();
        parallel.push(hooks(&["--parallel"], round));
    }
    drop(stdin);
    let _ = helm.wait();
    Some((
        median(&mut helm_times),
        median(&mut serial),
        median(&mut parallel),
    ))
}

fn env(kubeconfig: &Path, home: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("KUBECONFIG", kubeconfig.to_path_buf()),
        ("HOME", home.to_path_buf()),
        ("XDG_CACHE_HOME", home.join(".cache")),
    ]
}

fn median(values: &mut [Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
