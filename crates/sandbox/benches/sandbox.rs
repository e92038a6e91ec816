//! What policies cost: first compile, load from the compile cache, instantiation, and
//! deny-privileged evaluating 1, 100 and 1,000 hooks (~1 KB Jobs) in the sandbox and the
//! same logic compiled natively; then one policy per language (Rust, Python, JavaScript,
//! Rego): component size, first compile, and a call on 1, 100 and 1,000 hooks.
//!
//!     scripts/build-policies.sh && cargo bench -p hooks-sandbox --bench sandbox
//!
//! Plain `std::time` with many iterations and medians; prints a table and the goals.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deny_privileged::DenyPrivileged;
use hooks_plan::{Event, Input, LoadOptions, Ordering, Plan};
use hooks_policy_sdk::Validator;
use hooks_sandbox::{
    CacheDir, ConfiguredPolicy, EngineOptions, Limits, PoliceContext, Policy, PolicyEngine, police,
};

const EXAMPLES: [&str; 4] = [
    "deny-privileged",
    "allowed-registries",
    "backups-first",
    "job-defaults",
];

fn artifact(package: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"));
    let path = dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-policies.sh` first",
        path.display()
    );
    path
}

/// Runs `f` `iterations` times after a short warm-up; returns the median.
fn median(iterations: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations.div_ceil(10) {
        f();
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// `n` hook Jobs of about 1 KB each, every tenth one privileged so there is something to
/// deny.
fn jobs(n: usize) -> String {
    (0..n)
        .map(|i| {
            let privileged = i % 10 == 9;
            format!(
                r#"apiVersion: batch/v1
kind: Job
metadata:
  name: hook-{i:04}
  labels:
    app.kubernetes.io/name: ledger
    app.kubernetes.io/instance: ledger-prod
    app.kubernetes.io/component: migrations
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "{weight}"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 1
  activeDeadlineSeconds: 600
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ledger
    spec:
      restartPolicy: Never
      serviceAccountName: ledger-hooks
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
        - name: migrate
          image: registry.example.com/ledger/migrate:1.4.2
          command: ["/bin/migrate", "--database", "ledger", "--step", "{i}"]
          env:
            - name: LEDGER_DB_HOST
              value: ledger-db.ledger.svc.cluster.local
            - name: LEDGER_DB_PORT
              value: "5432"
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            privileged: {privileged}
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
---
"#,
                weight = i % 7,
            )
        })
        .collect()
}

/// The pre-install plan of `n` Jobs, with manifests already turned into JSON text (as
/// they are after the first policy of a run), so evaluation timings measure the sandbox
/// and the guest, not the host's YAML parser.
fn plan(n: usize) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    std::fs::write(&file, jobs(n)).unwrap();
    let mut plan = hooks_plan::plan_inputs(
        &[Input::from_arg(file.to_str().unwrap())],
        &LoadOptions::default(),
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    for planned in &mut plan.hooks {
        let manifest = planned.hook.manifest().unwrap();
        planned.hook.replace_manifest(&manifest).unwrap();
    }
    plan
}

struct Row {
    what: String,
    time: Duration,
    note: String,
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

fn main() {
    let mut rows = Vec::new();

    // First compile: no cache, so every load compiles with Cranelift.
    let uncached = PolicyEngine::new(EngineOptions {
        cache: CacheDir::Disabled,
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap();
    for name in EXAMPLES {
        let path = artifact(name);
        let size = std::fs::metadata(&path).unwrap().len();
        let compile = median(3, || {
            let policy = Policy::load(&uncached, name, path.as_path(), Limits::default()).unwrap();
            black_box(policy);
        });
        rows.push(Row {
            what: format!("first compile: {name}"),
            time: compile,
            note: format!("{} KB component", size / 1024),
        });
    }

    // Load from the cache: read + sha256 of the component, read + verify + deserialise
    // the compiled entry, inspect exports/imports, pre-instantiate.
    let cache_dir = tempfile::tempdir().unwrap();
    let engine = PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(cache_dir.path().to_owned()),
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap();
    let path = artifact("deny-privileged");
    Policy::load(
        &engine,
        "deny-privileged",
        path.as_path(),
        Limits::default(),
    )
    .unwrap();
    let mut cache_only = Vec::new();
    let load = median(200, || {
        let policy = Policy::load(
            &engine,
            "deny-privileged",
            path.as_path(),
            Limits::default(),
        )
        .unwrap();
        assert!(policy.info().compilation.from_cache);
        cache_only.push(policy.info().compilation.duration);
        black_box(policy);
    });
    cache_only.sort();
    let cache_read = cache_only[cache_only.len() / 2];
    rows.push(Row {
        what: "load from cache: deny-privileged".into(),
        time: load,
        note: format!(
            "of which cache read + verify + deserialise {}",
            ms(cache_read)
        ),
    });

    // Where the cache load goes: authenticating the entry and hashing the component
    // (mapping the entry and deserialising it are the rest of the cache read above).
    let entry = engine
        .cache_entry(
            &Policy::load(&engine, "d", path.as_path(), Limits::default())
                .unwrap()
                .info()
                .sha256,
        )
        .unwrap();
    let bytes = std::fs::read(&entry).unwrap();
    let digest = median(200, || {
        let mut mac = blake3::Hasher::new_keyed(&[7; 32]);
        mac.update(&bytes);
        black_box(mac.finalize());
    });
    let wasm = std::fs::read(&path).unwrap();
    let wasm_digest = median(200, || {
        black_box(<sha2::Sha256 as sha2::Digest>::digest(&wasm));
    });
    rows.push(Row {
        what: "  of which: MAC of cache entry".into(),
        time: digest,
        note: format!(
            "{} KB compiled, authenticated before deserialising",
            bytes.len() / 1024
        ),
    });
    rows.push(Row {
        what: "  of which: sha256 of the component".into(),
        time: wasm_digest,
        note: "the cache key and the pin".into(),
    });

    let policy = std::sync::Arc::new(
        Policy::load(
            &engine,
            "deny-privileged",
            path.as_path(),
            Limits::default(),
        )
        .unwrap(),
    );
    let instantiate = median(5000, || policy.instantiate().unwrap());
    rows.push(Row {
        what: "instantiate (fresh store + instance)".into(),
        time: instantiate,
        note: "per call, from InstancePre".into(),
    });

    let configured = [ConfiguredPolicy::with_defaults(policy.clone())];
    let ctx = PoliceContext::default();
    let mut ratio_at_100 = (0.0, 0.0);
    for (n, iterations) in [(1, 2000), (100, 200), (1000, 30)] {
        let plan = plan(n);
        let texts: Vec<String> = plan
            .hooks
            .iter()
            .map(|h| h.hook.text.as_str().to_owned())
            .collect();
        let denials = police(plan.clone(), &configured, &ctx)
            .unwrap()
            .denials()
            .count();
        let sandboxed = median(iterations, || {
            black_box(police(plan.clone(), &configured, &ctx).unwrap());
        });
        // The cost of `police` that is not the sandbox: cloning the plan and the host's
        // conversions, measured with no policy at all.
        let host_only = median(iterations, || {
            black_box(police(plan.clone(), &[], &ctx).unwrap());
        });
        // Natively, the same work the guest does: parse each manifest's JSON text into
        // the SDK's hook, then validate.
        let sdk_ctx = hooks_policy_sdk::Context::new(hooks_policy_sdk::Event::PreInstall);
        let native_text = median(iterations, || {
            let hooks: Vec<hooks_policy_sdk::Hook> = texts
                .iter()
                .map(|t| hooks_policy_sdk::Hook::from_manifest(serde_json::from_str(t).unwrap()))
                .collect::<Result<_, _>>()
                .unwrap();
            black_box(DenyPrivileged::validate(&sdk_ctx, &hooks).unwrap());
        });
        // And the logic alone, on manifests already parsed.
        let parsed: Vec<hooks_policy_sdk::Hook> = texts
            .iter()
            .map(|t| {
                hooks_policy_sdk::Hook::from_manifest(serde_json::from_str(t).unwrap()).unwrap()
            })
            .collect();
        let native_logic = median(iterations, || {
            black_box(DenyPrivileged::validate(&sdk_ctx, &parsed).unwrap());
        });
        if n == 100 {
            ratio_at_100 = (
                sandboxed.as_secs_f64() / native_text.as_secs_f64(),
                sandboxed.as_secs_f64() / native_logic.as_secs_f64(),
            );
        }
        rows.push(Row {
            what: format!("sandboxed: deny-privileged, {n} hooks"),
            time: sandboxed,
            note: format!(
                "{denials} denials; {} per hook; host-side part {}",
                ms(sandboxed / n as u32),
                ms(host_only)
            ),
        });
        rows.push(Row {
            what: format!("native: parse JSON + validate, {n} hooks"),
            time: native_text,
            note: format!(
                "sandbox/native {:.2}x",
                sandboxed.as_secs_f64() / native_text.as_secs_f64()
            ),
        });
        rows.push(Row {
            what: format!("native: validate parsed hooks, {n} hooks"),
            time: native_logic,
            note: format!(
                "sandbox/native {:.2}x",
                sandboxed.as_secs_f64() / native_logic.as_secs_f64()
            ),
        });
    }

    // `BENCH_LANGUAGES=0` leaves out the per-language rows (a minute of first compiles),
    // as `scripts/bench-sandbox-against.sh` does.
    let languages = if std::env::var_os("BENCH_LANGUAGES").is_some_and(|v| v == "0") {
        Vec::new()
    } else {
        languages()
    };

    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    println!("\n{:<width$}  {:>10}  notes", "measurement", "median");
    for row in &rows {
        println!("{:<width$}  {:>10}  {}", row.what, ms(row.time), row.note);
    }
    println!(
        "\none policy per language (each its own logic; memory cap raised to 512 MiB and time cap to 30 s for interpreters):"
    );
    println!(
        "{:<44}  {:>9}  {:>13}  {:>10}  {:>10}  {:>10}",
        "language (policy)", "size", "first compile", "1 hook", "100 hooks", "1000 hooks"
    );
    for row in &languages {
        println!(
            "{:<44}  {:>6} KB  {:>13}  {:>10}  {:>10}  {:>10}",
            row.label,
            row.size / 1024,
            ms(row.compile),
            ms(row.calls[0]),
            ms(row.calls[1]),
            ms(row.calls[2]),
        );
    }

    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\ngoals:");
    println!(
        "  cache load <= 1 ms:                       {} ({})",
        verdict(load <= Duration::from_millis(1)),
        ms(load)
    );
    println!(
        "  instantiate <= 50 µs:                     {} ({})",
        verdict(instantiate <= Duration::from_micros(50)),
        ms(instantiate)
    );
    println!(
        "  sandboxed <= 2x native at 100 hooks:      {} ({:.2}x native doing the same JSON parsing; {:.2}x the logic on pre-parsed hooks)",
        verdict(ratio_at_100.0 <= 2.0),
        ratio_at_100.0,
        ratio_at_100.1
    );
}

/// One language's policy: its component's size, its first compile, and one policing of
/// 1, 100 and 1,000 hooks (the same Jobs as above).
struct LanguageRow {
    label: &'static str,
    size: u64,
    compile: Duration,
    calls: [Duration; 3],
}

/// The Rust guard next to the policies built from Python, JavaScript and Rego: what a
/// policy author pays for the language, measured the same way.
fn languages() -> Vec<LanguageRow> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rego =
        std::fs::read_to_string(root.join("policies/rego/examples/conftest-pods.rego")).unwrap();
    let policies = [
        (
            "Rust: deny-privileged (wit-bindgen)",
            "deny-privileged",
            "{}".to_owned(),
        ),
        (
            "Python: pod-limits (componentize-py)",
            "pod-limits",
            "{}".to_owned(),
        ),
        (
            "JavaScript: depends-on (componentize-js)",
            "depends-on",
            "{}".to_owned(),
        ),
        (
            "Rego: conftest-pods.rego (regorus)",
            "rego",
            serde_json::json!({ "policy": rego }).to_string(),
        ),
    ];
    // Interpreters keep their heap in linear memory: a thousand parsed manifests do not
    // fit the 64 MiB a guard gets by default.
    let limits = Limits {
        memory_bytes: 512 * 1024 * 1024,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let plans = [plan(1), plan(100), plan(1000)];
    let uncached = PolicyEngine::new(EngineOptions {
        cache: CacheDir::Disabled,
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap();
    let ctx = PoliceContext::default();
    policies
        .into_iter()
        .map(|(label, package, settings)| {
            let path = artifact(package);
            let size = std::fs::metadata(&path).unwrap().len();
            let started = Instant::now();
            let policy = Policy::load(&uncached, package, path.as_path(), limits).unwrap();
            let compile = started.elapsed();
            let configured = [ConfiguredPolicy {
                settings,
                ..ConfiguredPolicy::with_defaults(std::sync::Arc::new(policy))
            }];
            let mut calls = [Duration::ZERO; 3];
            for ((plan, iterations), call) in plans.iter().zip([100, 20, 5]).zip(&mut calls) {
                *call = median(iterations, || {
                    black_box(police(plan.clone(), &configured, &ctx).unwrap());
                });
            }
            LanguageRow {
                label,
                size,
                compile,
                calls,
            }
        })
        .collect()
}
