//! What the `run` and `waves` benchmarks share: the chart of ConfigMap and Job hooks both
//! compare with real Helm, the Helm SDK driver that installs it, and the numbers' helpers.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use hooks_emulator::Emulator;

pub const CHART_CONFIGMAPS: usize = 50;
pub const CHART_JOBS: usize = 10;

/// Writes a chart named `name` of `CHART_CONFIGMAPS` ConfigMap and `CHART_JOBS` short Job
/// pre-install hooks, each weighted by `weight(i)` (ConfigMaps first, then Jobs, `i`
/// counting across both); returns the chart's directory.
pub fn write_chart(dir: &Path, name: &str, weight: impl Fn(usize) -> usize) -> PathBuf {
    let chart = dir.join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
    )
    .unwrap();
    let mut text = String::new();
    for i in 0..CHART_CONFIGMAPS {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-cm-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{}\"\ndata:\n  key: value-{i}\n",
            weight(i)
        ));
    }
    for i in 0..CHART_JOBS {
        text.push_str(&format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: chart-job-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{}\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{name: main, image: busybox, command: [\"sh\", \"-c\", \"echo {i}\"]}}\n",
            weight(CHART_CONFIGMAPS + i)
        ));
    }
    // Templates without template directives render to themselves.
    std::fs::write(chart.join("templates/hooks.yaml"), &text).unwrap();
    chart
}

/// Deletes the chart's objects from the emulator, so every round starts empty.
pub fn clear_chart(emu: &Emulator) {
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
}

/// Real Helm 4 through `tests/helm/driver.py`, connected to the emulator once, so an
/// install is timed without Helm's start-up.
pub struct Helm {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Helm {
    /// `None` when `scripts/setup-helm.sh` has not installed the SDK.
    pub fn start(dir: &Path, kubeconfig: &Path) -> Option<Helm> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join("target/tools/helm-venv/bin/python");
        if !python.is_file() {
            return None;
        }
        let mut child = Command::new(&python)
            .arg(root.join("tests/helm/driver.py"))
            .env("HOME", dir.join("helm-home"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut helm = Helm {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        helm.request(
            serde_json::json!({"op": "connect", "kubeconfig": kubeconfig,
                                        "namespace": "default", "storage": "secret"}),
        );
        Some(helm)
    }

    /// How long Helm takes to install `chart` as `release`.
    pub fn install(&mut self, chart: &Path, release: &str) -> Duration {
        let started = Instant::now();
        self.request(serde_json::json!({"op": "install", "chart": chart,
                                        "release": release, "timeout": 60}));
        started.elapsed()
    }

    fn request(&mut self, request: serde_json::Value) {
        writeln!(self.stdin.as_mut().unwrap(), "{request}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], true, "Helm failed: {answer}");
    }
}

impl Drop for Helm {
    fn drop(&mut self) {
        // Closing its stdin ends the driver.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

pub fn env(kubeconfig: &Path, home: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("KUBECONFIG", kubeconfig.to_path_buf()),
        ("HOME", home.to_path_buf()),
        ("XDG_CACHE_HOME", home.join(".cache")),
    ]
}

pub fn median(values: &mut [Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    values[values.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
