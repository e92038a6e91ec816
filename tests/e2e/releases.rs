//! Hooks of installed releases: real Helm 4 installs, upgrades and fails a release in the
//! emulator, with each of its storage drivers; kubectl-hooks then plans and runs the
//! hooks Helm stored, picks some as `helm test --filter` does, and collects what the
//! failed upgrade left.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::util::{Cluster, Helm, NAMESPACE, code, quick, report, resource_of, stderr};

const CHART: &str = "tests/charts/releases";
const RELEASE: &str = "shop";
const TIMEOUT: u64 = 30;

/// What both drivers are checked for; each test runs it with one driver.
fn installed(driver: &str) -> (Cluster, Helm) {
    let cluster = Cluster::start(quick());
    let mut helm = cluster.helm_with(driver);
    let chart = crate::util::workspace_root().join(CHART);
    helm.request(json!({"op": "install", "chart": chart, "release": RELEASE,
                        "timeout": TIMEOUT}))
        .unwrap();
    // Revision 2 has one more test hook than revision 1.
    helm.request(json!({"op": "upgrade", "chart": chart, "release": RELEASE,
                        "values": {"extraTest": true}, "timeout": TIMEOUT}))
        .unwrap();
    (cluster, helm)
}

fn hooks(cluster: &Cluster, driver: &str, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend([
        "--release",
        RELEASE,
        "-n",
        NAMESPACE,
        "--helm-driver",
        driver,
    ]);
    cluster.hooks().args(&all).output().unwrap()
}

/// The hooks Helm stored for `event` in `revision`, as (kind, name, template path).
fn stored(helm: &mut Helm, revision: u64, event: &str) -> BTreeSet<(String, String, String)> {
    let hooks = helm
        .request(json!({"op": "hooks", "release": RELEASE, "revision": revision}))
        .unwrap();
    hooks
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            h["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == event || (event == "test" && e == "test-success"))
        })
        .map(|h| {
            (
                h["kind"].as_str().unwrap().to_owned(),
                h["name"].as_str().unwrap().to_owned(),
                h["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The hooks of `plan -o json`, as (kind, name, source).
fn planned(plan: &Value) -> BTreeSet<(String, String, String)> {
    plan["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
                p["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn plan_json(cluster: &Cluster, driver: &str, event: &str, extra: &[&str]) -> Value {
    let mut args = vec!["plan", event, "-o", "json"];
    args.extend_from_slice(extra);
    let output = hooks(cluster, driver, &args);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    report(&output)
}

/// The names of the Pods and Jobs a tool applied since request `from`, in order.
fn applied(cluster: &Cluster, from: usize) -> Vec<String> {
    cluster.emu.requests()[from..]
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "PUT"))
        .filter(|r| r.status < 300)
        .filter(|r| {
            let (resource, _) = resource_of(&r.path);
            // Only the hooks' own writes: a Job's pods are the emulator's.
            matches!(resource.as_str(), "pods" | "jobs") && !r.path.ends_with("/status")
        })
        .filter_map(|r| r.name.clone())
        .collect()
}

fn plan_lists_exactly_the_stored_hooks(driver: &str) {
    let (cluster, mut helm) = installed(driver);
    for event in [
        "pre-install",
        "post-install",
        "pre-upgrade",
        "post-upgrade",
        "test",
    ] {
        let plan = plan_json(&cluster, driver, event, &[]);
        assert_eq!(planned(&plan), stored(&mut helm, 2, event), "{event}");
        let first = plan_json(&cluster, driver, event, &["--revision", "1"]);
        assert_eq!(
            planned(&first),
            stored(&mut helm, 1, event),
            "{event} revision 1"
        );
    }
    let test = plan_json(&cluster, driver, "test", &[]);
    let ids: Vec<&str> = test["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    // weight, then name: Helm's order.
    assert_eq!(
        ids,
        ["Pod/test-a", "Job/test-c", "Pod/test-extra", "Pod/test-b"]
    );
    let output = hooks(&cluster, driver, &["plan", "test"]);
    assert!(
        stderr(&output).contains(&format!(
            "release `shop` revision 2 (deployed), namespace `apps`: hooks read from {driver}/sh.helm.release.v1.shop.v2"
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn plan_release_lists_exactly_the_hooks_helm_stored_secret() {
    plan_lists_exactly_the_stored_hooks("secret");
}

#[test]
fn plan_release_lists_exactly_the_hooks_helm_stored_configmap() {
    plan_lists_exactly_the_stored_hooks("configmap");
}

/// `run test --release` runs the stored test hooks; `--hook` and `--exclude-hook` pick
/// the hooks `helm test --filter` picks, in the same order.
fn run_and_filter_as_helm_test_does(driver: &str) {
    let (cluster, mut helm) = installed(driver);
    let output = hooks(&cluster, driver, &["run", "test", "-o", "json"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let ran: Vec<String> = report(&output)["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ran,
        ["Pod/test-a", "Job/test-c", "Pod/test-extra", "Pod/test-b"]
    );

    let cases: [(&[&str], &[&str], &[&str]); 3] = [
        (
            &["test-b", "test-a"],
            &[],
            &["--hook", "Pod/test-b", "--hook", "Pod/test-a"],
        ),
        (&[], &["test-c"], &["--exclude-hook", "Job/test-c"]),
        (
            &["test-a", "test-b"],
            &["test-b"],
            &[
                "--hook",
                "Pod/test-a",
                "--hook",
                "Pod/test-b",
                "--exclude-hook",
                "Pod/test-b",
            ],
        ),
    ];
    for (include, exclude, ours) in cases {
        let from = cluster.emu.requests().len();
        let mut request = json!({"op": "test", "release": RELEASE, "timeout": TIMEOUT});
        if !include.is_empty() {
            request["include"] = json!(include);
        }
        if !exclude.is_empty() {
            request["exclude"] = json!(exclude);
        }
        helm.request(request).unwrap();
        let by_helm = applied(&cluster, from);
        let from = cluster.emu.requests().len();
        let mut args = vec!["run", "test"];
        args.extend_from_slice(ours);
        let output = hooks(&cluster, driver, &args);
        assert_eq!(code(&output), Some(0), "{}", stderr(&output));
        assert_eq!(applied(&cluster, from), by_helm, "{include:?} {exclude:?}");
        assert!(!by_helm.is_empty());
    }

    let output = hooks(&cluster, driver, &["run", "test", "--hook", "Pod/nope"]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "no hook `Pod/nope` in event `test`\n  hint: the hooks of `test` are: Pod/test-a, Job/test-c, Pod/test-extra, Pod/test-b"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_release_and_hook_filters_as_helm_test_secret() {
    run_and_filter_as_helm_test_does("secret");
}

#[test]
fn run_release_and_hook_filters_as_helm_test_configmap() {
    run_and_filter_as_helm_test_does("configmap");
}

/// A failed upgrade leaves its failed pre-upgrade Job (`hook-succeeded` only: Helm keeps
/// a failed one); `gc` finds it and only it, and deletes it only with `--yes`.
fn gc_collects_the_failed_release_leftovers(driver: &str) {
    let (cluster, mut helm) = installed(driver);
    let chart = crate::util::workspace_root().join(CHART);
    let failed = helm.request(json!({"op": "upgrade", "chart": chart, "release": RELEASE,
                                     "values": {"fail": true}, "timeout": TIMEOUT}));
    assert!(failed.is_err(), "the upgrade should fail");
    assert!(cluster.get("batch/v1", "Job", "migrate").is_some());
    // Not a hook of the release, with its hooks' labels and even a hook annotation.
    let labels = json!({"app.kubernetes.io/instance": RELEASE});
    cluster
        .emu
        .put_object(
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "name": "bystander", "namespace": NAMESPACE, "labels": labels,
            "annotations": {"helm.sh/hook": "pre-upgrade",
                            "helm.sh/hook-delete-policy": "hook-succeeded"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox",
                                "command": ["sh", "-c", "exit 1"]}]}}}}),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));

    let output = hooks(&cluster, driver, &["gc"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].starts_with("KIND  NAME     NAMESPACE  AGE"),
        "{table}"
    );
    assert!(lines[1].starts_with("Job   migrate  apps"), "{table}");
    assert!(
        lines[1].ends_with("failed, without before-hook-creation: the next run would apply over it and fail (release shop v3)"),
        "{table}"
    );
    assert!(stderr(&output).contains("pass `--yes` to delete it"));
    assert!(cluster.get("batch/v1", "Job", "migrate").is_some());

    for dry in ["--dry-run=client", "--dry-run=server"] {
        let output = hooks(&cluster, driver, &["gc", "--yes", dry]);
        assert_eq!(code(&output), Some(0), "{}", stderr(&output));
        assert!(cluster.get("batch/v1", "Job", "migrate").is_some(), "{dry}");
    }

    let writes_before = cluster.writes().len();
    let output = hooks(&cluster, driver, &["gc", "--yes"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("deleted Job/migrate in namespace `apps`"),
        "{}",
        stderr(&output)
    );
    let writes: Vec<String> = cluster.writes()[writes_before..]
        .iter()
        .filter(|w| !w.contains("pods/"))
        .cloned()
        .collect();
    assert_eq!(writes, ["DELETE jobs/apps/migrate 200"]);
    assert!(cluster.get("batch/v1", "Job", "migrate").is_none());
    assert!(cluster.get("batch/v1", "Job", "bystander").is_some());
    // Kept on purpose (before-hook-creation), and the release's own objects.
    assert!(cluster.get("v1", "ConfigMap", "after").is_some());
    assert!(cluster.get("v1", "ConfigMap", "shop-config").is_some());

    let output = hooks(&cluster, driver, &["gc"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "no leftover hook objects of release `shop`\n"
    );
}

#[test]
fn gc_removes_the_leftovers_of_a_failed_release_and_nothing_else_secret() {
    gc_collects_the_failed_release_leftovers("secret");
}

#[test]
fn gc_removes_the_leftovers_of_a_failed_release_and_nothing_else_configmap() {
    gc_collects_the_failed_release_leftovers("configmap");
}

/// Clear errors: no such release (naming those that exist), no hooks for the event, a
/// corrupt or foreign record.
fn errors(driver: &str) {
    let (cluster, _helm) = installed(driver);
    let run = |release: &str, args: &[&str]| {
        let mut all = vec!["plan"];
        all.extend_from_slice(args);
        all.extend([
            "--release",
            release,
            "-n",
            NAMESPACE,
            "--helm-driver",
            driver,
        ]);
        cluster.hooks().args(&all).output().unwrap()
    };
    let output = run("nope", &["test"]);
    assert_eq!(code(&output), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: release `nope` not found in namespace `apps` (Helm storage: {driver})\n  hint: releases in `apps`: shop\n"
        )
    );

    let output = run(RELEASE, &["pre-rollback"]);
    assert_eq!(code(&output), Some(2));
    assert!(
        stderr(&output).ends_with("error: release `shop` revision 2 has no `pre-rollback` hooks\n  hint: it has hooks for: pre-install, post-install, pre-upgrade, post-upgrade, test\n"),
        "{}",
        stderr(&output)
    );

    let output = run(RELEASE, &["test", "--revision", "7"]);
    assert_eq!(code(&output), Some(2));
    assert!(
        stderr(&output)
            .contains("release `shop` has no revision 7 (revisions: 1 (superseded), 2 (deployed))"),
        "{}",
        stderr(&output)
    );

    // A record with Helm's name, labels and type whose data is not a release.
    let name = "sh.helm.release.v1.broken.v1";
    let labels = json!({"owner": "helm", "name": "broken", "status": "deployed", "version": "1"});
    // Helm's text: base64 of what starts as gzip and is not.
    let junk = base64::engine::general_purpose::STANDARD.encode(b"\x1f\x8b\x08junk, not deflate");
    let object = match driver {
        "secret" => json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "data": {"release": base64::engine::general_purpose::STANDARD.encode(&junk)}}),
        _ => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "data": {"release": junk}}),
    };
    cluster.emu.put_object(object).unwrap();
    let output = run("broken", &["test"]);
    assert_eq!(code(&output), Some(6), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with(&format!(
            "error: `{driver}/{name}` cannot be read: its `release` data is not a valid gzip stream"
        )),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&format!(
            "hint: inspect it with `kubectl get {driver}/{name} -o yaml`"
        )),
        "{}",
        stderr(&output)
    );
    // Other releases are still listed and read.
    let output = run("nope", &["test"]);
    assert!(
        stderr(&output).contains("releases in `apps`: broken, shop"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn release_errors_secret() {
    errors("secret");
}

#[test]
fn release_errors_configmap() {
    errors("configmap");
}

/// `run auto` upgrades an installed release and installs a new one, saying why.
#[test]
fn run_auto_picks_install_or_upgrade_from_the_cluster() {
    let (cluster, _helm) = installed("secret");
    let output = hooks(&cluster, "secret", &["run", "auto", "-o", "json"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("auto: running pre-upgrade then post-upgrade: release `shop` exists in namespace `apps` (latest revision 2 (deployed))"),
        "{}",
        stderr(&output)
    );
    let reports = report(&output);
    let events: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["pre-upgrade", "post-upgrade"]);

    // A release that is not there: its manifests, installed.
    let rendered = cluster.file(
        "new.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  annotations:\n    helm.sh/hook: pre-install\n",
    );
    let output = cluster
        .hooks()
        .args([
            "run",
            "auto",
            "--release",
            "fresh",
            "-n",
            NAMESPACE,
            "-f",
            &rendered,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("auto: running pre-install then post-install: release `fresh` is not in namespace `apps`"),
        "{err}"
    );
    assert!(err.contains("post-install: no hooks to run"), "{err}");
    assert!(cluster.get("v1", "ConfigMap", "first").is_some());
}
