//! Helpers shared by the topic modules: the binary under test, hermetic clusters (the
//! emulator on a random loopback port, kubeconfig and caches in a temp dir) and real
//! Helm driven through its Python SDK.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use hooks_emulator::{Emulator, EmulatorOptions, RequestRecord};
use serde_json::{Value, json};

/// The namespace releases are installed in; kubeconfigs name `default`, so `-n` matters.
pub const NAMESPACE: &str = "apps";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The workspace's `kubectl-hooks`, which cargo builds beside this test binary whenever
/// it builds the workspace's tests (the `kubectl-hooks` package has tests of its own).
/// Refused when older than its sources, so a stale binary is never what gets tested.
pub fn kubectl_hooks_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = dir.join(format!("kubectl-hooks{}", std::env::consts::EXE_SUFFIX));
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run the workspace's tests (`cargo test --workspace`) or `cargo build -p kubectl-hooks` first",
                    bin.display()
                )
            });
        let root = workspace_root();
        let newest = ["cli", "apply", "plan", "sandbox", "releases"]
            .iter()
            .map(|c| newest_mtime(&root.join("crates").join(c).join("src")))
            .max()
            .unwrap();
        assert!(
            built >= newest,
            "{} is older than its sources: rebuild it (`cargo build -p kubectl-hooks`) or run the workspace's tests",
            bin.display()
        );
        bin
    })
}

fn newest_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let at = if meta.is_dir() {
            newest_mtime(&entry.path())
        } else {
            meta.modified().unwrap()
        };
        newest = newest.max(at);
    }
    newest
}

/// A hermetic cluster: the emulator on its own runtime, a kubeconfig (context namespace
/// `default`) and `HOME` in a temp dir, and the namespace [`NAMESPACE`].
pub struct Cluster {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    // Last, so the emulator (which lives on it) is dropped before the runtime.
    _runtime: tokio::runtime::Runtime,
}

impl Cluster {
    pub fn start(options: EmulatorOptions) -> Cluster {
        // Multi-threaded, so the emulator keeps serving while the test blocks on a child.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = runtime.block_on(Emulator::start(options)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig, "default", None).unwrap();
        emu.put_object(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        )
        .unwrap();
        Cluster {
            emu,
            dir,
            kubeconfig,
            _runtime: runtime,
        }
    }

    /// `kubectl-hooks` pointed at this cluster only, with a scrubbed environment.
    pub fn hooks(&self) -> Command {
        let mut command = Command::new(kubectl_hooks_bin());
        let home = self.dir.path().join("home");
        command
            .current_dir(workspace_root())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.hooks().args(args).output().unwrap()
    }

    /// Writes `text` to a file in the temp dir and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// The writes that may have changed the cluster, in order, as [`describe`] shows them.
    pub fn writes(&self) -> Vec<String> {
        self.emu.mutating_requests().iter().map(describe).collect()
    }

    /// The object in [`NAMESPACE`] (or cluster-scoped), if it is there.
    pub fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.emu
            .get_object(api_version, kind, Some(NAMESPACE), name)
    }

    /// Real Helm talking to this cluster, its releases in [`NAMESPACE`], in Secrets.
    pub fn helm(&self) -> Helm {
        self.helm_with("secret")
    }

    /// Real Helm keeping its releases with `driver` (`secret` or `configmap`).
    pub fn helm_with(&self, driver: &str) -> Helm {
        Helm::start(&self.kubeconfig, NAMESPACE, driver)
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

pub fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

/// Pods that finish in a tenth of a second: the suite waits on many.
pub fn quick() -> EmulatorOptions {
    EmulatorOptions {
        pod_duration: Duration::from_millis(100),
        ..EmulatorOptions::default()
    }
}

/// The Python of the venv `scripts/setup-helm.sh` installs the pinned Helm SDK into.
pub fn helm_python() -> PathBuf {
    let python = workspace_root().join("target/tools/helm-venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `scripts/setup-helm.sh` (scripts/test.sh does) to install the Helm SDK",
        python.display()
    );
    python
}

/// Real Helm 4 (helm-python-sdk) in a child process running `tests/helm/driver.py`, one
/// request at a time.
pub struct Helm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// An action Helm refused or that failed, as the SDK reported it.
#[derive(Debug, Clone)]
pub struct HelmError {
    pub kind: String,
    pub message: String,
}

impl Helm {
    fn start(kubeconfig: &Path, namespace: &str, driver: &str) -> Helm {
        let mut child = Command::new(helm_python())
            .arg(workspace_root().join("tests/helm/driver.py"))
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", kubeconfig.parent().unwrap().join("helm-home"))
            .env(
                "HELM_CACHE_HOME",
                kubeconfig.parent().unwrap().join("helm-cache"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut helm = Helm {
            child,
            stdin,
            stdout,
        };
        helm.request(
            json!({"op": "connect", "kubeconfig": kubeconfig, "namespace": namespace,
                            "storage": driver}),
        )
        .unwrap();
        helm
    }

    /// Sends one request and waits for its answer.
    pub fn request(&mut self, request: Value) -> Result<Value, HelmError> {
        writeln!(self.stdin, "{request}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(
            !line.is_empty(),
            "the Helm driver exited while handling {request}"
        );
        let answer: Value = serde_json::from_str(&line).unwrap();
        if answer["ok"] == true {
            Ok(answer["result"].clone())
        } else {
            Err(HelmError {
                kind: answer["error"]["type"].as_str().unwrap_or("").to_owned(),
                message: answer["error"]["message"].as_str().unwrap_or("").to_owned(),
            })
        }
    }
}

impl Drop for Helm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A write as the request log shows it: `PATCH configmaps/apps/x 200`.
pub fn describe(record: &RequestRecord) -> String {
    let (resource, namespace) = resource_of(&record.path);
    let name = record.name.as_deref().unwrap_or("-");
    let at = match namespace {
        Some(ns) => format!("{resource}/{ns}/{name}"),
        None => format!("{resource}/{name}"),
    };
    format!("{} {at} {}", record.method, record.status)
}

/// The resource (plural) and namespace a resource URL addresses.
pub fn resource_of(path: &str) -> (String, Option<String>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // /api/v1/… or /apis/group/version/…
    let rest = match segments.first() {
        Some(&"api") => &segments[2.min(segments.len())..],
        _ => &segments[3.min(segments.len())..],
    };
    match rest {
        ["namespaces", ns, resource, ..] => (resource.to_string(), Some(ns.to_string())),
        [resource, ..] => (resource.to_string(), None),
        [] => (String::new(), None),
    }
}
