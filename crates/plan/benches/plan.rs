//! Planning throughput against a bare parse with the same YAML library.
//!
//! Run: `cargo bench -p hooks-plan --bench plan`
//!
//! Generates 10,000 hook documents (about 10 MB of `helm template`-style YAML), then times
//! in one run: the whole planner (split, head parse of every document, Helm's sorting) and
//! a bare parse of the same stream into `serde_json::Value` with serde-saphyr, plus the
//! same bare parse with serde_yaml_ng (libyaml) for the choice of library. Peak RSS is read
//! from a child process that only reads the file and plans it.

use std::time::{Duration, Instant};

use hooks_plan::{Event, Input, LoadOptions, Ordering};
use saphyr::LoadableYamlNode;

const DOCUMENTS: usize = 10_000;
const ROUNDS: usize = 7;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        rss_child(&args[i + 1]);
        return;
    }
    let stream = generate(DOCUMENTS);
    let megabytes = stream.len() as f64 / 1e6;
    println!("input: {DOCUMENTS} hook documents, {:.2} MB", megabytes);

    let plan = median(|| {
        let inputs = [Input::Text {
            name: "bench.yaml".into(),
            content: stream.clone(),
        }];
        let plan = hooks_plan::plan_inputs(
            &inputs,
            &LoadOptions::default(),
            Event::PreInstall,
            Ordering::Helm,
        )
        .unwrap();
        assert_eq!(plan.hooks.len(), DOCUMENTS);
    });
    let load_only = median(|| {
        let inputs = [Input::Text {
            name: "bench.yaml".into(),
            content: stream.clone(),
        }];
        let docs = hooks_plan::load(&inputs, &LoadOptions::default()).unwrap();
        assert_eq!(docs.len(), DOCUMENTS);
    });
    println!("of which load (read, split): {:.1}ms", ms(load_only));
    let saphyr_loader = median(|| {
        let docs = saphyr::Yaml::load_from_str(&stream).unwrap();
        assert_eq!(docs.len(), DOCUMENTS);
    });
    let saphyr = median(|| {
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_events: usize::MAX,
                max_nodes: usize::MAX,
                max_documents: usize::MAX,
                max_total_scalar_bytes: usize::MAX,
            },
            emit_comments: false,
        };
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(&stream, options).unwrap();
        assert_eq!(docs.len(), DOCUMENTS);
    });
    let libyaml = median(|| {
        let mut n = 0;
        for doc in serde_yaml_ng::Deserializer::from_str(&stream) {
            let _: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
            n += 1;
        }
        assert_eq!(n, DOCUMENTS);
    });

    let dir = std::env::temp_dir().join(format!("hooks-plan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bench.yaml");
    std::fs::write(&file, &stream).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--rss-child", file.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let peak_kib: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    let peak_mb = peak_kib * 1024.0 / 1e6;

    let rate = |d: Duration| megabytes / d.as_secs_f64();
    println!("{:<44} {:>10} {:>10}", "", "median", "MB/s");
    println!(
        "{:<44} {:>8.1}ms {:>10.1}",
        "plan (split + head parse + sort)",
        ms(plan),
        rate(plan)
    );
    println!(
        "{:<44} {:>8.1}ms {:>10.1}",
        "bare parse, saphyr-parser -> saphyr::Yaml",
        ms(saphyr_loader),
        rate(saphyr_loader)
    );
    println!(
        "{:<44} {:>8.1}ms {:>10.1}",
        "bare parse, serde-saphyr -> serde Value",
        ms(saphyr),
        rate(saphyr)
    );
    println!(
        "{:<44} {:>8.1}ms {:>10.1}",
        "bare parse, serde_yaml_ng (libyaml) -> Value",
        ms(libyaml),
        rate(libyaml)
    );
    println!(
        "peak RSS of a process planning the file: {peak_mb:.1} MB ({:.2}x input)",
        peak_mb / megabytes
    );
    let ratio = plan.as_secs_f64() / saphyr_loader.as_secs_f64();
    println!();
    println!(
        "goal throughput >= 50 MB/s: {:.1} MB/s {}",
        rate(plan),
        verdict(rate(plan) >= 50.0)
    );
    println!(
        "goal plan <= 1.3x bare parse: {ratio:.2}x {}",
        verdict(ratio <= 1.3)
    );
    println!(
        "goal peak RSS <= 3x input: {:.2}x {}",
        peak_mb / megabytes,
        verdict(peak_mb / megabytes <= 3.0)
    );
}

fn verdict(met: bool) -> &'static str {
    if met { "(met)" } else { "(NOT met)" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn rss_child(path: &str) {
    if std::env::var_os("RSS_STAGES").is_some() {
        eprintln!("start {}", hwm());
        let docs = hooks_plan::load(&[Input::Path(path.into())], &LoadOptions::default()).unwrap();
        eprintln!("loaded {}", hwm());
        let catalog = hooks_plan::parse(&docs).unwrap();
        eprintln!("parsed {}", hwm());
        let plan = catalog.plan(Event::PreInstall, Ordering::Helm).unwrap();
        eprintln!("planned {} {}", plan.hooks.len(), hwm());
    }
    let plan = hooks_plan::plan_inputs(
        &[Input::Path(path.into())],
        &LoadOptions::default(),
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    assert_eq!(plan.hooks.len(), DOCUMENTS);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        .unwrap_or_default();
    println!("{peak}");
}

fn hwm() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM:") || l.starts_with("VmRSS:"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// About 1 KB per document: a hook Job as charts write them, with varied weights, names,
/// kinds and sources so sorting does real work.
fn generate(count: usize) -> String {
    let mut out = String::with_capacity(count * 1100);
    for i in 0..count {
        let weight = (i * 7919) % 21;
        let weight = weight as i64 - 10;
        out.push_str(&format!(
            r#"---
# Source: bench/templates/hooks/hook-{file}.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: hook-{i:05}
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/instance: release-name
    app.kubernetes.io/managed-by: Helm
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
        app.kubernetes.io/name: bench
    spec:
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
        - name: task
          image: registry.example.com/tools/task:1.{minor}.0
          command: ["sh", "-c", "echo running step {i} && sleep 1"]
          env:
            - name: STEP
              value: "{i}"
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          securityContext:
            allowPrivilegeEscalation: false
"#,
            file = i % 97,
            minor = i % 13,
        ));
    }
    out
}
