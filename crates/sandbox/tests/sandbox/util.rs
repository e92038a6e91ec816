//! Fixtures shared by the topic modules.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hooks_plan::{Event, Input, LoadOptions, Ordering, Plan};
use hooks_sandbox::{
    CacheDir, ConfiguredPolicy, Decision, EngineOptions, FailurePolicy, Limits, PoliceContext,
    Policed, Policy, PolicyEngine, SandboxError, police,
};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A component built by `scripts/build-policies.sh`. Missing artifacts fail the test with
/// the command that builds them: skipping would hide that nothing was tested.
pub fn artifact(package: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| {
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("wasm32-wasip2/release");
    let path = dir.join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-policies.sh {package}` first",
        path.display()
    );
    path
}

pub const ADVERSARY: &str = "adversary-policy";
pub const ADVERSARY_V2: &str = "adversary-v2-policy";

/// One engine for the whole test binary. Its cache lives under cargo's per-target temp
/// dir: hermetic (never the user's cache) and content-addressed, so reusing it across
/// runs is correct and only saves compile time. Cache behaviour itself is tested with
/// fresh directories in `cache.rs`.
pub fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        PolicyEngine::new(EngineOptions {
            cache: CacheDir::At(Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-cache")),
            fuel: false,
            ..EngineOptions::default()
        })
        .unwrap()
    })
}

/// The adversary with default limits, loaded once.
pub fn adversary() -> Arc<Policy> {
    static POLICY: OnceLock<Arc<Policy>> = OnceLock::new();
    POLICY
        .get_or_init(|| Arc::new(adversary_with(Limits::default())))
        .clone()
}

pub fn adversary_with(limits: Limits) -> Policy {
    Policy::load(engine(), "adversary", artifact(ADVERSARY), limits).unwrap()
}

/// The adversary configured with `settings` (JSON text).
pub fn configured(policy: Arc<Policy>, settings: &str, failure: FailurePolicy) -> ConfiguredPolicy {
    ConfiguredPolicy {
        policy,
        events: None,
        settings: settings.to_owned(),
        failure_policy: failure,
        max_hook_timeout: None,
    }
}

pub const JOBS: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "1"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/ledger:1.0
---
apiVersion: batch/v1
kind: Job
metadata:
  name: backup
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "5"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: backup
          image: registry.example.com/backup:2.3
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-1"
data:
  a: b
"#;

/// The pre-install plan of [`JOBS`]: ConfigMap/settings, Job/migrate, Job/backup.
pub fn plan() -> Plan {
    plan_of(JOBS, Event::PreInstall)
}

pub fn plan_of(manifests: &str, event: Event) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, manifests).unwrap();
    hooks_plan::plan_inputs(
        &[Input::from_arg(file.to_str().unwrap())],
        &LoadOptions::default(),
        event,
        Ordering::Helm,
    )
    .unwrap()
}

pub fn ids(plan: &Plan) -> Vec<String> {
    plan.hooks.iter().map(|h| h.hook.id.clone()).collect()
}

pub fn run(policies: &[ConfiguredPolicy]) -> Result<Policed, SandboxError> {
    police(plan(), policies, &PoliceContext::default())
}

/// Runs the adversary in `settings` as the only policy, failing the event on error.
pub fn run_adversary(settings: &str) -> Result<Policed, SandboxError> {
    run(&[configured(adversary(), settings, FailurePolicy::Fail)])
}

/// The adversary's `remember` mode writes a marker at the top of its heap and reports
/// whether the marker was already there: where a call's memory outlived it (a recycled
/// slot not reset), the next call would find the marker. `run` runs the adversary with
/// the settings given, on the engine under test.
pub fn assert_calls_do_not_share_memory(run: impl Fn(&str) -> Result<Policed, SandboxError>) {
    for _ in 0..3 {
        let policed = run(r#"{"mode": "remember"}"#).expect("remember runs");
        assert!(!policed.denied, "{:?}", policed.decisions);
        assert!(
            policed
                .decisions
                .iter()
                .any(|d| matches!(d, Decision::Log(log) if log.message == "remembered")),
            "the adversary did not run its `remember` mode: {:?}",
            policed.decisions
        );
    }
}

/// After any misbehaviour the host must still work: a well-behaved call succeeds.
pub fn assert_host_healthy() {
    let policed = run_adversary(r#"{"mode": "well-behaved"}"#).expect("well-behaved run");
    assert!(!policed.denied);
    assert_eq!(ids(&policed.plan), ids(&plan()));
}
