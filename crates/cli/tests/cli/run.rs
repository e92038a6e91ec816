//! `kubectl hooks run` against the emulator: Helm's execution semantics checked from the
//! emulator's request log, failures, waits, faults and Ctrl-C.

use std::process::Stdio;
use std::time::{Duration, Instant};

use hooks_emulator::EmulatorOptions;

use crate::cluster::{Cluster, code, quick, report, stderr};
use crate::util::{EXAMPLE, adversary_config, artifact, workspace_root};

fn example(cluster: &Cluster, event: &str) -> Vec<String> {
    cluster.emu.clear_requests();
    let output = cluster.run(&["run", event, "-f", EXAMPLE]);
    assert_eq!(code(&output), Some(0), "{event}: {}", stderr(&output));
    cluster.writes()
}

#[test]
fn example_chart_lifecycle_creates_and_deletes_in_helm_order() {
    let cluster = Cluster::start(quick());
    assert_eq!(
        example(&cluster, "pre-install"),
        [
            "DELETE serviceaccounts/ledger-hooks 404",
            "PATCH serviceaccounts/ledger-hooks 201",
            "DELETE roles/ledger-hooks 404",
            "PATCH roles/ledger-hooks 201",
            "DELETE rolebindings/ledger-hooks 404",
            "PATCH rolebindings/ledger-hooks 201",
            "DELETE configmaps/ledger-db-init-script 404",
            "PATCH configmaps/ledger-db-init-script 201",
            "DELETE jobs/ledger-db-init 404",
            "PATCH jobs/ledger-db-init 201",
            // hook-succeeded, once every hook of the event succeeded
            "DELETE jobs/ledger-db-init 200",
        ]
    );
    assert_eq!(
        example(&cluster, "post-install"),
        [
            "PATCH jobs/ledger-notify 201",
            "DELETE jobs/ledger-notify 200"
        ]
    );
    assert_eq!(
        example(&cluster, "test"),
        [
            "DELETE pods/ledger-smoke-test 404",
            "PATCH pods/ledger-smoke-test 201",
            "DELETE pods/ledger-smoke-test 200",
        ]
    );
    assert_eq!(
        example(&cluster, "pre-delete"),
        [
            "PATCH jobs/ledger-drain 201",
            "DELETE jobs/ledger-backup 404",
            "PATCH jobs/ledger-backup 201",
            // reverse order after success: only the drain asks for hook-succeeded
            "DELETE jobs/ledger-drain 200",
        ]
    );
    assert_eq!(
        example(&cluster, "post-delete"),
        [
            "PATCH jobs/ledger-cleanup 201",
            "DELETE jobs/ledger-cleanup 200"
        ]
    );
    // What no policy deletes stays.
    assert!(cluster.exists("v1", "ServiceAccount", "ledger-hooks"));
    assert!(cluster.exists("batch/v1", "Job", "ledger-backup"));
    assert!(!cluster.exists("batch/v1", "Job", "ledger-db-init"));

    // A second install replaces the objects the first one left (before-hook-creation).
    let again = example(&cluster, "pre-install");
    assert_eq!(again[0], "DELETE serviceaccounts/ledger-hooks 200");
    assert_eq!(again[1], "PATCH serviceaccounts/ledger-hooks 201");
    assert_eq!(again[6], "DELETE configmaps/ledger-db-init-script 200");
}

#[test]
fn the_test_hook_prints_its_logs_by_output_log_policy() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&["run", "test", "-f", EXAMPLE]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("| GET http://ledger/healthz 200 OK"),
        "{}",
        stderr(&output)
    );
}

const FAILING: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: hook-succeeded
---
apiVersion: batch/v1
kind: Job
metadata:
  name: breaks
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "1"
    helm.sh/hook-delete-policy: hook-failed
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1
          command: ["sh", "-c", "echo migrating && echo 'boom: relation missing' && exit 3"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: later
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "2"
"#;

#[test]
fn a_failing_hook_stops_the_event_shows_logs_and_applies_delete_policies() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest("failing.yaml", FAILING);
    let output = cluster.run(&["run", "pre-install", "-f", &file, "-o", "json"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(5), "{err}");
    assert!(err.contains("boom: relation missing"), "{err}");
    assert!(err.contains("error: hook Job/breaks failed"), "{err}");
    assert_eq!(
        cluster.writes(),
        [
            "PATCH configmaps/first 201",
            "PATCH jobs/breaks 201",
            // the failed hook's hook-failed, then the earlier hook's hook-succeeded
            "DELETE jobs/breaks 200",
            "DELETE configmaps/first 200",
        ]
    );
    assert!(!cluster.exists("v1", "ConfigMap", "later"));
    let json = report(&output);
    assert_eq!(json["outcome"], "failed");
    let outcomes: Vec<_> = json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["created", "failed", "not-run"]);
    assert_eq!(json["hooks"][1]["deletions"][0]["reason"], "hook-failed");
    assert_eq!(json["hooks"][0]["deletions"][0]["reason"], "hook-succeeded");
    assert!(
        json["hooks"][1]["logs"][0]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "boom: relation missing")
    );
    assert_eq!(json["leftInCluster"].as_array().unwrap().len(), 0);
}

#[test]
fn a_hook_that_outlives_the_timeout_fails_with_exit_5() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest(
        "slow.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: slow
  annotations:
    helm.sh/hook: pre-install
    emulator.kubectl-hooks.dev/duration: "60s"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: ["sh", "-c", "echo waiting"]}
"#,
    );
    let started = Instant::now();
    let output = cluster.run(&["run", "pre-install", "-f", &file, "--timeout", "1s"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(5), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        err.contains("timed out after 1s waiting for job/slow to complete"),
        "{err}"
    );
    assert!(err.contains("hint: raise `--timeout`"), "{err}");
}

#[test]
fn before_hook_creation_waits_until_the_old_object_is_gone() {
    let delay = Duration::from_millis(1500);
    let cluster = Cluster::start(EmulatorOptions {
        deletion_delay: delay,
        ..quick()
    });
    cluster
        .emu
        .put_object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"},
            "data": {"old": "yes"}
        }))
        .unwrap();
    let file = cluster.manifest(
        "settings.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    helm.sh/hook: pre-install
data:
  new: "yes"
"#,
    );
    let output = cluster.run(&["run", "pre-install", "-f", &file]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let writes: Vec<_> = cluster.emu.mutating_requests();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].status),
        ("DELETE", 200)
    );
    assert_eq!(
        (writes[1].method.as_str(), writes[1].status),
        ("PATCH", 201)
    );
    let gap = writes[1].received.duration_since(writes[0].received);
    assert!(gap >= delay, "created {gap:?} after the delete");
    // Waited by watching, not by polling: one list and a few watches, no GET storm.
    let reads = cluster
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/configmaps/settings"))
        .count();
    assert_eq!(reads, 0);
    let stored = cluster
        .emu
        .get_object("v1", "ConfigMap", Some("default"), "settings")
        .unwrap();
    assert_eq!(stored["data"]["new"], "yes");
}

const TTL_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: short-lived
  annotations:
    helm.sh/hook: post-install
    helm.sh/hook-delete-policy: hook-succeeded
spec:
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: ["sh", "-c", "echo done"]}
"#;

#[test]
fn a_hook_deleted_by_its_ttl_does_not_hang() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest("ttl.yaml", TTL_JOB);
    let started = Instant::now();
    let output = cluster.run(&["run", "post-install", "-f", &file, "--timeout", "30s"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!cluster.exists("batch/v1", "Job", "short-lived"));
}

#[test]
fn a_hook_deleted_while_running_fails_at_once() {
    let cluster = Cluster::start(EmulatorOptions {
        pod_duration: Duration::from_secs(60),
        ..quick()
    });
    let file = cluster.manifest("ttl.yaml", TTL_JOB);
    let child = cluster
        .hooks()
        .args(["run", "post-install", "-f", &file, "--timeout", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_create(&cluster, "/jobs");
    assert!(
        cluster
            .emu
            .delete_object("batch/v1", "Job", Some("default"), "short-lived")
    );
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&output);
    assert_eq!(code(&output), Some(5), "{err}");
    assert!(err.contains("deleted while running"), "{err}");
}

#[test]
fn forbidden_create_over_tls_names_the_verb_and_resource() {
    let cluster = Cluster::start_with_token(
        EmulatorOptions {
            tls: true,
            read_only_token: Some("viewer".into()),
            ..quick()
        },
        Some("viewer"),
    );
    let file = cluster.manifest(
        "cm.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: guarded
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-delete-policy: hook-succeeded
"#,
    );
    let output = cluster.run(&["run", "pre-install", "-f", &file]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(6), "{err}");
    assert!(
        err.contains("error: hook ConfigMap/guarded: forbidden to patch ConfigMap/guarded"),
        "{err}"
    );
    assert!(
        err.contains("kubectl auth can-i patch configmaps -n default"),
        "{err}"
    );
    assert!(!cluster.exists("v1", "ConfigMap", "guarded"));
}

#[test]
fn client_dry_run_makes_no_write_at_all() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        EXAMPLE,
        "--dry-run=client",
        "-o",
        "json",
    ]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    let writes: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(err.contains("would create Job/ledger-db-init"), "{err}");
    let json = report(&output);
    assert_eq!(json["dryRun"], "client");
    assert!(
        json["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["outcome"] == "dry-run")
    );
}

#[test]
fn server_dry_run_sends_dry_run_writes_only_and_waits_for_nothing() {
    let cluster = Cluster::start(EmulatorOptions {
        pod_duration: Duration::from_secs(60),
        ..quick()
    });
    let output = cluster.run(&["run", "pre-install", "-f", EXAMPLE, "--dry-run=server"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let writes: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(!writes.is_empty());
    assert!(writes.iter().all(|r| r.dry_run), "{writes:?}");
    assert!(cluster.emu.mutating_requests().is_empty());
}

#[test]
fn injected_errors_and_dropped_watches_give_the_same_state_without_duplicate_creates() {
    let mut manifest = String::new();
    for i in 0..12 {
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{i}\"\n"
        ));
    }
    for i in 0..6 {
        manifest.push_str(&format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: job-{i:02}\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"{}\"\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {{name: main, image: busybox, command: [\"sh\", \"-c\", \"echo {i}\"]}}\n",
            20 + i
        ));
    }
    let cluster = Cluster::start(EmulatorOptions {
        error_rate: 0.1,
        drop_watch_after: Some(Duration::from_millis(150)),
        pod_duration: Duration::from_millis(400),
        seed: 7,
        ..EmulatorOptions::default()
    });
    let file = cluster.manifest("many.yaml", &manifest);
    let output = cluster.run(&["run", "pre-install", "-f", &file, "-o", "json"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    let requests = cluster.requests();
    let injected = requests.iter().filter(|r| r.status >= 500).count();
    assert!(
        injected > 0,
        "no fault was injected; the test proves nothing"
    );
    let applied = |resource: &str| {
        requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.contains(resource))
            .filter(|r| (200..300).contains(&r.status))
            .count()
    };
    // Each object applied once: an injected 500 comes before the server does anything.
    assert_eq!(applied("/configmaps/"), 12);
    assert_eq!(applied("/jobs/"), 6);
    assert!(
        !requests.iter().any(|r| r.status == 409),
        "an apply collided"
    );
    let run_id = report(&output)["runId"].as_str().unwrap().to_owned();
    for name in (0..12).map(|i| format!("cm-{i:02}")) {
        let object = cluster
            .emu
            .get_object("v1", "ConfigMap", Some("default"), &name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(
            object["metadata"]["annotations"]["hooks.kubectl-hooks.dev/run-id"],
            run_id.as_str()
        );
    }
    for name in (0..6).map(|i| format!("job-{i:02}")) {
        let job = cluster
            .emu
            .get_object("batch/v1", "Job", Some("default"), &name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let complete = job["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True");
        assert!(complete, "{name} is not complete: {job}");
    }
}

#[test]
fn ctrl_c_during_a_wait_reports_truthfully_and_exits_130() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest(
        "sleepy.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: before
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-1"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: sleepy
  annotations:
    helm.sh/hook: pre-install
    emulator.kubectl-hooks.dev/duration: "60s"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: ["sh", "-c", "echo zzz"]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "1"
"#,
    );
    let report_file = cluster.dir.path().join("report.json");
    let child = cluster
        .hooks()
        .args(["run", "pre-install", "-f", &file, "-o", "json", "--report"])
        .arg(&report_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_create(&cluster, "/jobs");
    std::thread::sleep(Duration::from_millis(200));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = stderr(&output);
    assert_eq!(code(&output), Some(130), "{err}");
    assert!(
        err.contains("interrupted while Job/sleepy was running"),
        "{err}"
    );
    let json = report(&output);
    assert_eq!(json["outcome"], "interrupted");
    let outcomes: Vec<_> = json["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["created", "interrupted", "not-run"]);
    let left: Vec<_> = json["leftInCluster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(left, ["ConfigMap/before", "Job/sleepy"]);
    let from_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(from_file, json);
}

#[test]
fn durations_and_bad_flags_are_bad_input() {
    let output = crate::util::run(&["run", "pre-install", "-f", EXAMPLE, "--timeout", "5 min"]);
    assert_eq!(code(&output), Some(2));
    assert!(stderr(&output).contains("invalid duration `5 min`"));
}

/// Blocks until the emulator has seen a successful create or apply of an object in the
/// collection `collection` (`/jobs`).
fn wait_for_create(cluster: &Cluster, collection: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let seen = cluster.requests().iter().any(|r| {
            matches!(r.method.as_str(), "POST" | "PATCH")
                && r.path.contains(collection)
                && r.status < 300
        });
        if seen {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no create in …{collection} within 20s");
}

#[test]
fn a_policy_denial_applies_nothing() {
    let cluster = Cluster::start(quick());
    let policy = workspace_root().join(artifact("deny-privileged"));
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        "policies/deny-privileged/fixtures/privileged.yaml",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(3), "{err}");
    assert!(
        err.contains("deny_privileged") || err.contains("deny-privileged"),
        "{err}"
    );
    assert!(err.contains("nothing was applied"), "{err}");
    let writes: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert!(
        writes.is_empty(),
        "a denied event must not touch the cluster: {writes:?}"
    );
}

#[test]
fn example_policies_shape_the_run() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&[
        "run",
        "pre-delete",
        "-f",
        EXAMPLE,
        "--policy-config",
        "examples/ledger/policies.yaml",
        "-o",
        "json",
    ]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    // backups-first moved the backup ahead of the drain (Helm's order is drain first).
    let json = report(&output);
    assert_eq!(json["hooks"][0]["id"], "Job/ledger-backup", "{json}");
    assert_eq!(json["hooks"][1]["id"], "Job/ledger-drain", "{json}");
    assert!(
        json["hooks"][0]["endedAt"].as_str() <= json["hooks"][1]["startedAt"].as_str(),
        "{json}"
    );
    assert!(
        !json["policies"]["decisions"].as_array().unwrap().is_empty(),
        "{json}"
    );
}

/// Regression: `run` told policies `default` (or `-n`) and an empty release whatever the
/// kubeconfig said. They must hear the namespace hooks really go to (here the context's)
/// and `--release`.
#[test]
fn policies_are_told_the_contexts_namespace_and_the_release() {
    let cluster = Cluster::start(quick());
    cluster
        .emu
        .write_kubeconfig(&cluster.kubeconfig, "team-a", None)
        .unwrap();
    cluster
        .emu
        .put_object(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team-a"},
        }))
        .unwrap();
    let hooks = cluster.manifest(
        "hooks.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    helm.sh/hook: pre-install\ndata:\n  a: b\n",
    );
    let config = adversary_config(
        cluster.dir.path(),
        &[("adversary", "{mode: context}", "Fail")],
    );
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        &hooks,
        "--policy-config",
        config.to_str().unwrap(),
        "--release",
        "ledger",
    ]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    assert!(
        err.contains("release=ledger namespace=team-a dry-run=false"),
        "{err}"
    );
    let created: Vec<String> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path)
        .collect();
    assert_eq!(created, ["/api/v1/namespaces/team-a/configmaps/settings"]);
}

const CRD_AND_WIDGET: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-5"
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: first
  annotations:
    helm.sh/hook: pre-install
spec:
  size: 3
"#;

/// Regression: a CRD hook counted as done once created, but an API server serves the
/// new resource only when the CRD is Established, so a hook of that kind right after it
/// failed with "not served". The CRD hook now waits until Established.
#[test]
fn a_custom_resource_hook_after_its_crd_hook_waits_until_the_crd_is_established() {
    let cluster = Cluster::start(quick());
    cluster
        .emu
        .set_crd_establish_delay(Duration::from_millis(300));
    let hooks = cluster.manifest("hooks.yaml", CRD_AND_WIDGET);
    let output = cluster.run(&["run", "pre-install", "-f", &hooks]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    assert!(
        err.contains("CustomResourceDefinition/widgets.example.com: succeeded"),
        "{err}"
    );
    let widget = cluster
        .emu
        .get_object("example.com/v1", "Widget", Some("default"), "first")
        .expect("the Widget hook was created");
    assert_eq!(widget["spec"]["size"], 3);
}

#[test]
fn log_tail_limits_the_lines_shown_and_minus_one_shows_all() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest("failing.yaml", FAILING);
    // The emulator's pods end their log with a line of its own (the exit code).
    let output = cluster.run(&["run", "pre-install", "-f", &file, "--log-tail", "2"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(5), "{err}");
    assert!(err.contains("boom: relation missing"), "{err}");
    assert!(!err.contains("migrating"), "{err}");

    let output = cluster.run(&["run", "pre-install", "-f", &file, "--log-tail=-1"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(5), "{err}");
    assert!(err.contains("migrating"), "{err}");
    assert!(err.contains("boom: relation missing"), "{err}");

    let output = cluster.run(&["run", "pre-install", "-f", &file, "--log-tail", "-2"]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
}

/// With `--server-side=false`, a create whose response was lost (the object was made, the
/// client saw a 504) must not be repeated blindly, which would end in "already exists" or
/// a second object: a GET finds the object carrying this run's id, and the hook goes on
/// from it.
#[test]
fn a_create_whose_response_was_lost_is_recognised_not_repeated() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest(
        "job.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: ["sh", "-c", "echo migrated"]}
"#,
    );
    cluster.emu.lose_write_responses(1);
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        &file,
        "-o",
        "json",
        "--server-side=false",
    ]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    let calls: Vec<String> = cluster
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.path.ends_with("/jobs/migrate"))
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    // One create (its answer lost), then the GET that finds it; no second create.
    assert_eq!(
        calls,
        [
            "DELETE /apis/batch/v1/namespaces/default/jobs/migrate 404",
            "POST /apis/batch/v1/namespaces/default/jobs 504",
            "GET /apis/batch/v1/namespaces/default/jobs/migrate 200",
        ],
        "{err}"
    );
    assert_eq!(report(&output)["hooks"][0]["outcome"], "succeeded");
}

/// A watch resumed from a compacted resourceVersion gets 410 Expired; the wait must
/// relist and go on watching from the list's version, not fail or spin.
#[test]
fn a_wait_whose_watch_expires_relists_and_goes_on() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest(
        "job.yaml",
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-delete-policy: hook-failed
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: main, image: busybox, command: ["sh", "-c", "echo migrated"]}
"#,
    );
    cluster.emu.expire_watches(1);
    let output = cluster.run(&["run", "pre-install", "-f", &file, "-o", "json"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    assert_eq!(report(&output)["hooks"][0]["outcome"], "succeeded");
    let jobs: Vec<String> = cluster
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/apis/batch/v1/namespaces/default/jobs"
                || (r.method == "PATCH" && r.path.ends_with("/jobs/migrate"))
        })
        .map(
            |r| match (r.method.as_str(), r.query.contains("watch=true")) {
                ("PATCH", _) => "apply",
                (_, true) => "watch",
                (_, false) => "list",
            },
        )
        .map(str::to_owned)
        .collect();
    // The apply's version starts the first watch, which expires; a list gives a fresh
    // version to watch from.
    assert_eq!(jobs, ["apply", "watch", "list", "watch"], "{err}");
}
