//! A hermetic cluster for end-to-end tests: the emulator on a random loopback port, a
//! kubeconfig, HOME and cache dirs in a temp dir, all set only on the child process.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use hooks_emulator::{Emulator, EmulatorOptions, RequestRecord};

pub struct Cluster {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    // Last, so the emulator (which lives on it) is dropped before the runtime.
    _runtime: tokio::runtime::Runtime,
}

impl Cluster {
    pub fn start(options: EmulatorOptions) -> Cluster {
        Cluster::start_with_token(options, None)
    }

    pub fn start_with_token(options: EmulatorOptions, token: Option<&str>) -> Cluster {
        // Multi-threaded, so the emulator keeps serving while the test blocks on the child.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = runtime.block_on(Emulator::start(options)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig, "default", token).unwrap();
        Cluster {
            emu,
            dir,
            kubeconfig,
            _runtime: runtime,
        }
    }

    /// `kubectl-hooks` pointed at this cluster only.
    pub fn hooks(&self) -> Command {
        let mut command = crate::util::kubectl_hooks();
        let home = self.dir.path().join("home");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env_remove("RUST_BACKTRACE");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.hooks().args(args).output().unwrap()
    }

    /// Writes `text` to a manifest file in the temp dir and returns its path.
    pub fn manifest(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Non-dry-run writes in order, as `POST jobs 201` or `DELETE jobs/x 404`: a POST's
    /// path does not name the object, so order checks go by resource.
    pub fn writes(&self) -> Vec<String> {
        self.emu
            .mutating_requests()
            .iter()
            .map(|r| format!("{} {}", describe(r), r.status))
            .collect()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.emu.requests()
    }

    pub fn exists(&self, api_version: &str, kind: &str, name: &str) -> bool {
        self.emu
            .get_object(api_version, kind, Some("default"), name)
            .is_some()
    }
}

/// `POST jobs`, `DELETE jobs/x`: the resource's plural and, for a DELETE, the name.
pub fn describe(record: &RequestRecord) -> String {
    let mut parts = record.path.rsplit('/');
    let last = parts.next().unwrap_or_default();
    match record.method.as_str() {
        "POST" => format!("POST {last}"),
        method => {
            let resource = parts.next().unwrap_or_default();
            format!("{method} {resource}/{last}")
        }
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

pub fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

pub fn quick() -> EmulatorOptions {
    EmulatorOptions {
        pod_duration: Duration::from_millis(100),
        ..EmulatorOptions::default()
    }
}
