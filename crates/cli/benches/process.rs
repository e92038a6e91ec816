//! `cargo bench -p kubectl-hooks --bench process`: what `kubectl hooks plan` costs as users
//! run it, as whole processes, next to the same work in-process, in one run.
//!
//! Input: 1, 100 and 1,000 realistic hook Jobs of about 3 KB (a full pod spec: init
//! container, env from Secrets, resources, volumes, security contexts), as `helm template`
//! writes them. For each size, `plan pre-install -f FILE -o json` is timed as a process
//! (warm compile cache, `BENCH_ROUNDS` rounds, default 30, the commands taking turns
//! round by round, medians):
//!
//! - without policies: planning as users pay it (process start included);
//! - with each example policy alone (deny-privileged, allowed-registries, backups-first,
//!   job-defaults) and with the four together: a policy's share is the difference, per
//!   hook.
//!
//! Next to them, in this process: planning the same file (`hooks_plan::plan_inputs`), the
//! plan benchmark's own input (10,000 Jobs of 1 KB) for its throughput, and
//! deny-privileged policing the same plan in the sandbox (`hooks_sandbox::police`, with
//! manifests already JSON text, as the sandbox benchmark measures it), which is the
//! in-process figure the policy's process share is compared with (`ratio`, the goal).
//! And the same work as the share in-process (`same work`: reading the hooks whole, as
//! planning does when a policy is given, and policing, less reading heads), so the
//! second ratio is what being a process costs: start-up, loading the policy, the engine.
//!
//! Run `scripts/build-policies.sh` first.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hooks_plan::{Event, Input, LoadOptions, Ordering, Plan, Reading};
use hooks_sandbox::{
    CacheDir, ConfiguredPolicy, EngineOptions, Limits, PoliceContext, Policy, PolicyEngine, police,
};

const SIZES: [usize; 3] = [1, 100, 1000];
const EXAMPLES: [&str; 4] = [
    "deny-privileged",
    "allowed-registries",
    "backups-first",
    "job-defaults",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn artifact(package: &str) -> PathBuf {
    let path = workspace_root()
        .join("target/wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-policies.sh` first",
        path.display()
    );
    path
}

/// One hook Job of about 3 KB; every tenth is privileged, so there is something to deny.
fn job(i: usize) -> String {
    let privileged = i % 10 == 9;
    format!(
        r#"# Source: ledger/templates/hooks/migrate-{i:04}.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: ledger-migrate-{i:04}
  namespace: ledger
  labels:
    app.kubernetes.io/name: ledger
    app.kubernetes.io/instance: ledger-prod
    app.kubernetes.io/component: migrations
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: ledger-1.4.2
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "{weight}"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 1
  activeDeadlineSeconds: 600
  ttlSecondsAfterFinished: 300
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ledger
        app.kubernetes.io/instance: ledger-prod
        app.kubernetes.io/component: migrations
      annotations:
        checksum/config: 3f1c9a7e2b4d6f8a0c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a
    spec:
      restartPolicy: Never
      serviceAccountName: ledger-hooks
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        seccompProfile:
          type: RuntimeDefault
      initContainers:
        - name: wait-for-db
          image: registry.example.com/tools/wait-for:2.1.0
          args: ["ledger-db.ledger.svc.cluster.local:5432", "--timeout", "120"]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
      containers:
        - name: migrate
          image: registry.example.com/ledger/migrate:1.4.2
          imagePullPolicy: IfNotPresent
          command: ["/bin/migrate"]
          args: ["--database", "ledger", "--step", "{i}", "--lock-timeout", "30s"]
          env:
            - name: LEDGER_DB_HOST
              value: ledger-db.ledger.svc.cluster.local
            - name: LEDGER_DB_PORT
              value: "5432"
            - name: LEDGER_DB_USER
              valueFrom:
                secretKeyRef:
                  name: ledger-db
                  key: username
            - name: LEDGER_DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: ledger-db
                  key: password
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: 500m
              memory: 256Mi
          volumeMounts:
            - name: scripts
              mountPath: /scripts
              readOnly: true
            - name: tmp
              mountPath: /tmp
          securityContext:
            allowPrivilegeEscalation: false
            privileged: {privileged}
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop: [ALL]
      volumes:
        - name: scripts
          configMap:
            name: ledger-migrate-scripts
            defaultMode: 0555
        - name: tmp
          emptyDir:
            medium: Memory
            sizeLimit: 64Mi
"#,
        weight = i % 7,
    )
}

fn jobs(n: usize) -> String {
    (0..n).map(|i| format!("---\n{}", job(i))).collect()
}

/// One thing timed in every round: `plan` as a process, or work in this process (run
/// twice back to back, the second timed).
enum Sample<'a> {
    Process(Command),
    InProcess(Box<dyn FnMut() + 'a>),
}

impl From<Command> for Sample<'_> {
    fn from(command: Command) -> Self {
        Sample::Process(command)
    }
}

impl Sample<'_> {
    fn time(&mut self) -> Duration {
        let started = Instant::now();
        match self {
            Sample::Process(command) => {
                let status = command.status().unwrap();
                // 3: deny-privileged denies the privileged Jobs, as it should.
                assert!(
                    matches!(status.code(), Some(0 | 3)),
                    "kubectl-hooks plan failed: {status}"
                );
            }
            // Warm, as the sandbox and plan benchmarks measure it: the call before has
            // just run, so caches hold what the one timed needs, not the processes'.
            Sample::InProcess(work) => {
                work();
                let started = Instant::now();
                work();
                return started.elapsed();
            }
        }
        started.elapsed()
    }
}

/// Times each sample `rounds` times, after one warm-up round (which also fills the
/// compile cache), taking turns; the median of each.
fn interleaved(rounds: usize, samples: &mut [Sample<'_>]) -> Vec<Duration> {
    let mut times = vec![Vec::with_capacity(rounds); samples.len()];
    for round in 0..=rounds {
        for (sample, times) in samples.iter_mut().zip(&mut times) {
            let took = sample.time();
            if round > 0 {
                times.push(took);
            }
        }
    }
    times
        .into_iter()
        .map(|mut times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect()
}

fn plan_of(file: &Path) -> Plan {
    read_plan(file, Reading::Heads)
}

fn read_plan(file: &Path, reading: Reading) -> Plan {
    let documents = hooks_plan::load(
        &[Input::from_arg(file.to_str().unwrap())],
        &LoadOptions::default(),
    )
    .unwrap();
    hooks_plan::parse_with(&documents, reading)
        .unwrap()
        .into_plan(Event::PreInstall, Ordering::Helm)
        .unwrap()
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn per(d: Duration, n: usize) -> Duration {
    d / u32::try_from(n).unwrap()
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let deny = dir.path().join("deny.yaml");
    let examples = dir.path().join("examples.yaml");
    // Settings as in the example chart's configuration (allowed-registries needs its list).
    let config = |names: &[&str]| {
        let mut text =
            String::from("apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n");
        for name in names {
            let settings = match *name {
                "allowed-registries" => "{registries: [registry.example.com]}",
                "job-defaults" => "{activeDeadlineSeconds: 600, backoffLimit: 1}",
                _ => "{}",
            };
            text.push_str(&format!(
                "  - name: {name}\n    path: {}\n    settings: {settings}\n",
                artifact(name).display()
            ));
        }
        text
    };
    std::fs::write(&deny, config(&["deny-privileged"])).unwrap();
    std::fs::write(&examples, config(&EXAMPLES)).unwrap();
    // Each of the other examples alone, for its own share.
    let singles: Vec<PathBuf> = EXAMPLES[1..]
        .iter()
        .map(|name| {
            let path = dir.path().join(format!("{name}.yaml"));
            std::fs::write(&path, config(&[name])).unwrap();
            path
        })
        .collect();

    let binary = env!("CARGO_BIN_EXE_kubectl-hooks");
    let command = |file: &Path, policies: Option<&Path>| {
        let mut command = Command::new(binary);
        command
            .args(["plan", "pre-install", "-o", "json", "-f"])
            .arg(file)
            .env("KUBECTL_HOOKS_CACHE_DIR", &cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(policies) = policies {
            command.arg("--policy-config").arg(policies);
        }
        command
    };

    let engine = PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(dir.path().join("in-process-cache")),
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap();
    let guard = ConfiguredPolicy::with_defaults(
        Policy::load(
            &engine,
            "deny-privileged",
            artifact("deny-privileged"),
            Limits::default(),
        )
        .unwrap(),
    );

    println!();
    println!(
        "what `kubectl hooks plan` costs, whole processes vs in-process ({rounds} rounds, medians)"
    );
    println!();
    println!(
        "{:>6} {:>6} {:>10} {:>10} | policy's share per hook: {:>10} {:>10} {:>10} {:>10} {:>10} | {:>12} {:>7} | {:>10} {:>7}",
        "hooks",
        "KB",
        "plan",
        "plan/hook",
        "deny-priv.",
        "registries",
        "backups",
        "job-def.",
        "all four",
        "in-proc deny",
        "ratio",
        "same work",
        "ratio"
    );
    // The plan benchmark's input, for its throughput in this run.
    let big = dir.path().join("plan-bench.yaml");
    let big_text = hooks_plan_bench_input();
    std::fs::write(&big, &big_text).unwrap();

    let mut goals = Vec::new();
    for n in SIZES {
        let file = dir.path().join(format!("jobs-{n}.yaml"));
        let text = jobs(n);
        std::fs::write(&file, &text).unwrap();
        let bytes = text.len();

        // In-process: the sandbox policing this plan, with its manifests already JSON text,
        // as the sandbox benchmark measures it: the guest's work and the call, nothing of
        // the host's reading of YAML.
        let mut plan = plan_of(&file);
        for planned in &mut plan.hooks {
            let manifest = planned.hook.manifest().unwrap();
            planned.hook.replace_manifest(&manifest).unwrap();
        }
        let police_plan = |plan: Plan| {
            black_box(
                police(
                    plan,
                    std::slice::from_ref(&guard),
                    &PoliceContext::default(),
                )
                .unwrap(),
            );
        };
        // Round by round, every command and every in-process figure in turn, so that a
        // machine slowing down or speeding up during the run moves them all alike and
        // their ratios hold.
        let mut samples: Vec<Sample<'_>> = vec![
            command(&file, None).into(),
            command(&file, Some(&deny)).into(),
        ];
        samples.extend(
            singles
                .iter()
                .map(|c| Sample::from(command(&file, Some(c)))),
        );
        samples.push(command(&file, Some(&examples)).into());
        samples.push(Sample::InProcess(Box::new(|| police_plan(plan.clone()))));
        samples.push(Sample::InProcess(Box::new(|| {
            black_box(plan_of(&file));
        })));
        // The same work as the process's share, in-process: reading the hooks whole (as
        // planning does when a policy is given) and policing; less reading heads, below.
        samples.push(Sample::InProcess(Box::new(|| {
            police_plan(read_plan(&file, Reading::Whole));
        })));
        // The plan benchmark's input, a round in every few, for its throughput.
        samples.push(Sample::InProcess(Box::new(|| {
            black_box(plan_of(&big));
        })));
        let times = interleaved(rounds, &mut samples);
        let [
            plain,
            with_deny,
            ref with_singles @ ..,
            with_examples,
            in_process,
            in_planning,
            whole,
            big_plan,
        ] = times[..]
        else {
            unreachable!("one time per sample")
        };
        let same_work = whole.saturating_sub(in_planning);
        let reference = big_text.len() as f64 / big_plan.as_secs_f64() / 1e6;

        let share = |with: Duration| per(with.saturating_sub(plain), n);
        let deny_share = share(with_deny);
        let in_process_per_hook = per(in_process, n);
        let ratio = deny_share.as_secs_f64() / in_process_per_hook.as_secs_f64();
        let same_work_per_hook = per(same_work, n);
        println!(
            "{:>6} {:>6} {:>10} {:>10} | {:>24} {:>10} {:>10} {:>10} {:>10} {:>10} | {:>12} {:>6.2}x | {:>10} {:>6.2}x",
            n,
            bytes / 1024,
            ms(plain),
            us(per(plain, n)),
            "",
            us(deny_share),
            us(share(with_singles[0])),
            us(share(with_singles[1])),
            us(share(with_singles[2])),
            us(share(with_examples)),
            us(in_process_per_hook),
            ratio,
            us(same_work_per_hook),
            // At one hook the difference is within the noise, and may come out as none.
            if same_work.is_zero() {
                f64::NAN
            } else {
                deny_share.as_secs_f64() / same_work_per_hook.as_secs_f64()
            }
        );
        let process_mbs = bytes as f64 / plain.as_secs_f64() / 1e6;
        let in_process_mbs = bytes as f64 / in_planning.as_secs_f64() / 1e6;
        goals.push((n, ratio, process_mbs, in_process_mbs, reference));
    }

    println!();
    println!(
        "plan benchmark input ({} MB, in-process, in the same rounds): {}",
        big_text.len() / 1_000_000,
        goals
            .iter()
            .map(|(n, .., reference)| format!("{reference:.1} MB/s beside {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!("goals (deny-privileged on 3 KB hooks; planning from 100 hooks):");
    for (n, ratio, process_mbs, in_process_mbs, reference) in goals {
        let share = if ratio <= 2.0 { "met" } else { "MISSED" };
        print!("  {n:>5} hooks: policy's process share {ratio:.2}x in-process (<= 2x: {share})");
        if n >= 100 {
            let planning = process_mbs / reference;
            let met = if planning >= 0.8 { "met" } else { "MISSED" };
            print!(
                "; planning {process_mbs:.1} MB/s as a process ({in_process_mbs:.1} in-process) = {planning:.2}x the plan benchmark (>= 0.8x: {met})"
            );
        }
        println!();
    }
}

/// The plan benchmark's own input: 10,000 hook Jobs of about 1 KB.
fn hooks_plan_bench_input() -> String {
    (0..10_000)
        .map(|i| {
            format!(
                "---\n# Source: chart/templates/hook-{i:05}.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: hook-{i:05}\n  labels:\n    app.kubernetes.io/name: bench\n    app.kubernetes.io/instance: bench-release\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"{w}\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\nspec:\n  backoffLimit: 1\n  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: bench\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: hook\n          image: registry.example.com/bench/hook:1.0.0\n          command: [\"/bin/sh\", \"-c\", \"echo hook {i} && sleep 1\"]\n          env:\n            - name: HOOK_INDEX\n              value: \"{i}\"\n            - name: RELEASE\n              value: bench-release\n          resources:\n            requests: {{cpu: 10m, memory: 16Mi}}\n            limits: {{cpu: 100m, memory: 64Mi}}\n          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n",
                w = i % 13
            )
        })
        .collect()
}
