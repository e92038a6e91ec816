//! The executor in-process against the emulator library: plans in, [`Report`] values out.
//! Concurrency is asserted from the report's start and end times.

use std::num::NonZeroUsize;
use std::time::{Duration, SystemTime};

use hooks_apply::{
    ClientOptions, Connection, DeletionResult, ExecuteOptions, Executor, HookOutcome, HookReport,
    NoEvents, Parallel, Report, RunOutcome,
};
use hooks_emulator::{Emulator, EmulatorOptions};
use hooks_plan::{Event, Input, LoadOptions, Ordering, TimeoutSource};

fn job(name: &str, weight: i64, duration: &str, outcome: &str, extra: &str) -> String {
    format!(
        r#"---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "{weight}"
    emulator.kubectl-hooks.dev/duration: "{duration}"
    emulator.kubectl-hooks.dev/outcome: "{outcome}"
{extra}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - {{name: main, image: busybox, command: ["sh", "-c", "echo {name}"]}}
"#
    )
}

fn config_map(name: &str, weight: i64) -> String {
    format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{weight}\"\n"
    )
}

/// Runs `manifests`' pre-install hooks against a fresh emulator.
async fn run(manifests: &str, parallel: Option<Parallel>, timeout: Duration) -> Report {
    let emulator = Emulator::start(EmulatorOptions {
        pod_duration: Duration::from_millis(100),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator
        .write_kubeconfig(&kubeconfig, "default", None)
        .unwrap();
    let connection = Connection::connect(&ClientOptions {
        kubeconfig: Some(kubeconfig),
        context: None,
        namespace: None,
    })
    .await
    .unwrap();
    let inputs = [Input::Text {
        name: "hooks.yaml".into(),
        content: manifests.into(),
    }];
    let plan = hooks_plan::plan_inputs(
        &inputs,
        &LoadOptions::default(),
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    let options = ExecuteOptions {
        timeout,
        parallel,
        ..ExecuteOptions::default()
    };
    let mut executor = Executor::new(connection, options);
    let cancel = hooks_apply::CancellationToken::new();
    executor.run(&plan, &mut NoEvents, &cancel).await
}

fn outcomes(report: &Report) -> Vec<(&str, HookOutcome)> {
    report
        .hooks
        .iter()
        .map(|h| (h.id.as_str(), h.outcome))
        .collect()
}

fn span(hook: &HookReport) -> (SystemTime, SystemTime) {
    (hook.started_at.unwrap(), hook.ended_at.unwrap())
}

const WHOLE_WAVE: Option<Parallel> = Some(Parallel { max_parallel: None });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waves_jobs_all_start_before_the_first_one_ends() {
    let manifests: String = (1..=4)
        .map(|i| job(&format!("job-{i}"), 0, "600ms", "succeed", ""))
        .chain([config_map("later", 1)])
        .collect();
    let report = run(&manifests, WHOLE_WAVE, Duration::from_secs(30)).await;
    assert_eq!(report.outcome, RunOutcome::Succeeded, "{:?}", report.error);
    let jobs: Vec<&HookReport> = report.hooks.iter().filter(|h| h.wave == 1).collect();
    assert_eq!(jobs.len(), 4);
    let first_end = jobs.iter().map(|h| span(h).1).min().unwrap();
    assert!(jobs.iter().all(|h| span(h).0 < first_end), "{jobs:#?}");
    // The next wave started only after the whole first one ended.
    let later = report.hooks.iter().find(|h| h.wave == 2).unwrap();
    let last_end = jobs.iter().map(|h| span(h).1).max().unwrap();
    assert!(span(later).0 >= last_end);
    assert_eq!(report.parallel, Some(Parallel { max_parallel: None }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_hook_lets_its_siblings_finish_and_cleans_up_as_helm() {
    let succeeded = "    helm.sh/hook-delete-policy: hook-succeeded\n";
    let failed = "    helm.sh/hook-delete-policy: hook-failed\n";
    let manifests = [
        job("a-broken", 0, "100ms", "fail", failed),
        job("b-sibling", 0, "800ms", "succeed", succeeded),
        job("c-next", 1, "100ms", "succeed", ""),
    ]
    .concat();
    let report = run(&manifests, WHOLE_WAVE, Duration::from_secs(30)).await;
    assert_eq!(report.outcome, RunOutcome::Failed);
    assert_eq!(
        outcomes(&report),
        [
            ("Job/a-broken", HookOutcome::Failed),
            ("Job/b-sibling", HookOutcome::Succeeded),
            ("Job/c-next", HookOutcome::NotRun),
        ]
    );
    assert_eq!(
        report.error.as_ref().and_then(|e| e.hook()),
        Some("Job/a-broken")
    );
    let deleted = |h: &HookReport| {
        h.deletions
            .iter()
            .map(|d| (d.reason.as_str(), d.result))
            .collect::<Vec<_>>()
    };
    // An explicit delete policy replaces the default before-hook-creation.
    assert_eq!(
        deleted(&report.hooks[0]),
        [("hook-failed", DeletionResult::Deleted)]
    );
    assert_eq!(
        deleted(&report.hooks[1]),
        [("hook-succeeded", DeletionResult::Deleted)]
    );
    assert!(
        report.left_in_cluster.is_empty(),
        "{:?}",
        report.left_in_cluster
    );
}

/// `--max-parallel` holds the rest of a wave back until a running hook finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_parallel_holds_the_rest_of_the_wave_back() {
    let manifests: String = (1..=5)
        .map(|i| job(&format!("job-{i}"), 0, "300ms", "succeed", ""))
        .collect();
    let two = Some(Parallel {
        max_parallel: NonZeroUsize::new(2),
    });
    let report = run(&manifests, two, Duration::from_secs(30)).await;
    assert_eq!(report.outcome, RunOutcome::Succeeded, "{:?}", report.error);
    let spans: Vec<_> = report.hooks.iter().map(span).collect();
    for (start, _) in &spans {
        let running = spans
            .iter()
            .filter(|(s, e)| s <= start && start < e)
            .count();
        assert!(running <= 2, "{running} at once: {spans:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_own_timeout_wins_over_the_runs() {
    let own = "    kubectl-hooks.dev/timeout: 500ms\n";
    let manifests = [job("stuck", 0, "60s", "succeed", own), config_map("cm", 1)].concat();
    let report = run(&manifests, None, Duration::from_secs(600)).await;
    assert_eq!(
        outcomes(&report),
        [
            ("Job/stuck", HookOutcome::TimedOut),
            ("ConfigMap/cm", HookOutcome::NotRun)
        ]
    );
    let stuck = &report.hooks[0];
    assert_eq!(stuck.timeout, Duration::from_millis(500));
    assert_eq!(stuck.timeout_from, TimeoutSource::Annotation);
    assert_eq!(report.hooks[1].timeout, Duration::from_secs(600));
    assert_eq!(report.hooks[1].timeout_from, TimeoutSource::Default);
    assert!(stuck.duration.unwrap() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_runs_one_hook_at_a_time() {
    let manifests: String = (1..=3)
        .map(|i| job(&format!("job-{i}"), 0, "200ms", "succeed", ""))
        .collect();
    let report = run(&manifests, None, Duration::from_secs(30)).await;
    assert_eq!(report.outcome, RunOutcome::Succeeded, "{:?}", report.error);
    for pair in report.hooks.windows(2) {
        assert!(span(&pair[1]).0 >= span(&pair[0]).1);
    }
    assert_eq!(report.parallel, None);
}
