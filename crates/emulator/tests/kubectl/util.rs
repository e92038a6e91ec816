//! Harness: one emulator per test, the real kubectl as a child process with its own
//! KUBECONFIG and a fresh HOME per invocation (no discovery cache carried between calls).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hooks_emulator::{Emulator, EmulatorOptions};
use tempfile::TempDir;

const KUBECTL_TIMEOUT: Duration = Duration::from_secs(40);

/// The kubectl on PATH. Missing kubectl is a broken test machine, not a reason to skip.
pub fn kubectl_path() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "kubectl was not found on PATH. These tests drive the real kubectl against the \
                 emulator; run the project's setup (it installs Debian's `kubernetes-client` \
                 package) and try again."
            )
        })
}

#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Out {
    /// Panics with everything kubectl said unless it succeeded.
    #[track_caller]
    pub fn success(self) -> Self {
        assert!(
            self.ok,
            "kubectl failed\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(self) -> Self {
        assert!(
            !self.ok,
            "kubectl unexpectedly succeeded\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

#[derive(Debug)]
pub struct Kube {
    pub emu: Emulator,
    dir: TempDir,
    kubeconfig: PathBuf,
    calls: AtomicUsize,
}

impl Kube {
    pub async fn start(opts: EmulatorOptions) -> Self {
        Self::start_with_token(opts, None).await
    }

    pub async fn start_with_token(opts: EmulatorOptions, token: Option<&str>) -> Self {
        let emu = Emulator::start(opts).await.expect("emulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        emu.write_kubeconfig(&kubeconfig, "default", token)
            .expect("kubeconfig written");
        Self {
            emu,
            dir,
            kubeconfig,
            calls: AtomicUsize::new(0),
        }
    }

    /// Opts with fast pods, the usual starting point.
    pub fn fast() -> EmulatorOptions {
        EmulatorOptions {
            pod_duration: Duration::from_millis(150),
            ..EmulatorOptions::default()
        }
    }

    /// Writes a file (a manifest) into the test's temp dir.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write manifest");
        p
    }

    pub fn kubeconfig_with_token(&self, name: &str, token: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        self.emu
            .write_kubeconfig(&p, "default", Some(token))
            .expect("kubeconfig written");
        p
    }

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_with(&self.kubeconfig, args).await
    }

    pub async fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Out {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let home = self.dir.path().join(format!("home-{n}"));
        std::fs::create_dir_all(&home).expect("home dir");
        let started = Instant::now();
        let child = tokio::process::Command::new(kubectl_path())
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", &home)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(KUBECTL_TIMEOUT, child)
            .await
            .unwrap_or_else(|_| {
                panic!("kubectl {args:?} did not finish within {KUBECTL_TIMEOUT:?}")
            })
            .expect("kubectl runs");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: started.elapsed(),
        }
    }

    /// Polls the emulator's store (not the API) until `f` holds.
    pub async fn eventually(&self, what: &str, mut f: impl FnMut(&Emulator) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f(&self.emu) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub const CM: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
data:
  k: v
";

/// A Job manifest; `script` runs under `sh -c`, `extra_spec` is indented spec YAML.
pub fn job(name: &str, script: &str, extra_spec: &str, annotations: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations: {{{annotations}}}
spec:
{extra_spec}  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [\"sh\", \"-c\", {script:?}]
"
    )
}

pub fn job_condition(emu: &Emulator, name: &str, cond: &str) -> bool {
    emu.get_object("batch/v1", "Job", Some("default"), name)
        .and_then(|j| {
            j.pointer("/status/conditions")
                .and_then(|c| c.as_array())
                .cloned()
        })
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == cond && c["status"] == "True")
        })
}
