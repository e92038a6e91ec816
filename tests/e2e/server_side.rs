//! Server-side apply, as Helm 4 applies hooks: objects that are still there are updated
//! in place, conflicts name the manager and the fields, and `--server-side=false` is
//! Helm 3's create that fails on an existing object.

use serde_json::json;

use crate::util::{Cluster, NAMESPACE, code, describe, quick, report, stderr};

/// The crd scenario chart's CRD hook (a template without directives), never deleted.
const CRD: &str = "tests/charts/crd/templates/crd.yaml";

const WIDGET: &str = r#"apiVersion: example.com/v1
kind: Widget
metadata:
  name: first
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  size: 3
"#;

/// Hooks that name no namespace go to `-n`.
fn run_event(cluster: &Cluster, event: &str, file: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["run", event, "-f", file, "-n", NAMESPACE];
    args.extend_from_slice(extra);
    cluster.run(&args)
}

/// Regression: hooks were POSTed, so the second event of a chart with a CRD hook (never
/// deleted, so still there) failed with "already exists" where Helm 4 goes on.
#[test]
fn an_upgrade_of_a_chart_with_a_crd_hook_succeeds() {
    let cluster = Cluster::start(quick());
    let widget = cluster.file("widget.yaml", WIDGET);
    let install = run_event(&cluster, "pre-install", CRD, &["-f", &widget]);
    assert_eq!(code(&install), Some(0), "{}", stderr(&install));
    let crd = cluster
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "widgets.example.com",
        )
        .unwrap();
    cluster.emu.clear_requests();

    let upgrade = run_event(&cluster, "pre-upgrade", CRD, &["-f", &widget]);
    assert_eq!(code(&upgrade), Some(0), "{}", stderr(&upgrade));
    let writes = cluster.writes();
    assert_eq!(
        writes,
        [
            // The CRD is never deleted: applied over in place.
            "PATCH customresourcedefinitions/widgets.example.com 200",
            // The Widget's default before-hook-creation replaces it.
            "DELETE widgets/apps/first 200",
            "PATCH widgets/apps/first 201",
        ]
    );
    let again = cluster
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "widgets.example.com",
        )
        .unwrap();
    assert_eq!(again["metadata"]["uid"], crd["metadata"]["uid"]);
}

const LEFTOVER: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: leftover
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-delete-policy: hook-succeeded
data:
  fresh: "yes"
"#;

fn seed_leftover(cluster: &Cluster) -> serde_json::Value {
    cluster
        .emu
        .put_object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "leftover", "namespace": NAMESPACE},
            "data": {"old": "yes"}
        }))
        .unwrap()
}

/// A hook left by an earlier run and not deleted first (no `before-hook-creation`) is
/// updated in place, as Helm 4 does, where a create failed with "already exists".
#[test]
fn a_rerun_over_a_leftover_updates_it_in_place() {
    let cluster = Cluster::start(quick());
    let seeded = seed_leftover(&cluster);
    let file = cluster.file("leftover.yaml", LEFTOVER);
    let output = run_event(&cluster, "pre-install", &file, &["-o", "json"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let writes = cluster.writes();
    assert_eq!(
        writes,
        [
            "PATCH configmaps/apps/leftover 200",
            "DELETE configmaps/apps/leftover 200"
        ]
    );
    let json = report(&output);
    assert_eq!(json["applyMethod"], "server-side");
    assert_eq!(json["fieldManager"], "kubectl-hooks");
    assert_eq!(json["hooks"][0]["uid"], seeded["metadata"]["uid"]);
}

/// `--server-side=false` is Helm 3: the create collides with the leftover.
#[test]
fn server_side_false_fails_on_an_existing_object_as_helm_3_does() {
    let cluster = Cluster::start(quick());
    seed_leftover(&cluster);
    let file = cluster.file("leftover.yaml", LEFTOVER);
    let output = run_event(&cluster, "pre-install", &file, &["--server-side=false"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(6), "{err}");
    assert!(
        err.contains(
            "error: hook ConfigMap/leftover: ConfigMap/leftover in namespace `apps` already exists"
        ),
        "{err}"
    );
    assert!(err.contains("drop `--server-side=false`"), "{err}");
    let posts = cluster.writes();
    assert_eq!(posts, ["POST configmaps/apps/leftover 409"]);
}

const OWNED: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-delete-policy: hook-failed
data:
  mode: VALUE
"#;

/// A field another manager set to another value is a conflict that names the manager
/// and the field and says what to do; `--force-conflicts` takes the field over.
#[test]
fn a_conflict_names_the_owner_and_the_field_and_force_conflicts_takes_it() {
    let cluster = Cluster::start(quick());
    let first = cluster.file("first.yaml", &OWNED.replace("VALUE", "fast"));
    let output = run_event(
        &cluster,
        "pre-install",
        &first,
        &["--field-manager", "ops-team"],
    );
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));

    let second = cluster.file("second.yaml", &OWNED.replace("VALUE", "safe"));
    let output = run_event(&cluster, "pre-install", &second, &["-o", "json"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(6), "{err}");
    assert!(
        err.contains(
            "error: hook ConfigMap/settings: applying ConfigMap/settings in namespace `apps` conflicts with fields owned by `ops-team`: `.data.mode`"
        ),
        "{err}"
    );
    assert!(err.contains("rerun with `--force-conflicts`"), "{err}");
    assert!(
        err.contains("kubectl delete configmap/settings -n apps"),
        "{err}"
    );
    // The run id differs on every run: whoever applied the last one owns it.
    let json = report(&output);
    assert_eq!(
        json["error"]["conflicts"],
        json!([
            {"manager": "ops-team", "field": ".data.mode"},
            {"manager": "ops-team", "field": ".metadata.annotations.hooks.kubectl-hooks.dev/run-id"}
        ])
    );
    assert_eq!(
        cluster.get("v1", "ConfigMap", "settings").unwrap()["data"]["mode"],
        "fast"
    );

    let output = run_event(&cluster, "pre-install", &second, &["--force-conflicts"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let stored = cluster.get("v1", "ConfigMap", "settings").unwrap();
    assert_eq!(stored["data"]["mode"], "safe");
    let managers: Vec<&str> = stored["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:data"].is_object())
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl-hooks"]);

    let output = run_event(
        &cluster,
        "pre-install",
        &second,
        &["--force-conflicts", "--server-side=false"],
    );
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
}

/// As Helm 4: a hook whose apply fails stops the event with no deletions at all, so the
/// earlier hook that asked for `hook-succeeded` stays, and the report says so.
#[test]
fn a_failed_apply_stops_the_event_without_deleting_anything() {
    let cluster = Cluster::start(quick());
    let owner = cluster.file("owner.yaml", &OWNED.replace("VALUE", "fast"));
    let output = run_event(
        &cluster,
        "pre-install",
        &owner,
        &["--field-manager", "ops-team"],
    );
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    cluster.emu.clear_requests();

    let hooks = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"-1\"\n    helm.sh/hook-delete-policy: hook-succeeded\n---\n{}",
        OWNED.replace("VALUE", "safe")
    );
    let file = cluster.file("hooks.yaml", &hooks);
    let output = run_event(&cluster, "pre-install", &file, &["-o", "json"]);
    assert_eq!(code(&output), Some(6), "{}", stderr(&output));
    let writes = cluster.writes();
    assert_eq!(
        writes,
        [
            "PATCH configmaps/apps/first 201",
            "PATCH configmaps/apps/settings 409"
        ]
    );
    let json = report(&output);
    assert_eq!(json["leftInCluster"][0]["name"], "first");
    assert!(stderr(&output).contains("left in the cluster by this run:\n  ConfigMap/first"));
}

/// An apply is idempotent: one whose answer was lost (it landed, the client saw a 504) is
/// simply sent again, and the second answer is an update of the object the first made.
#[test]
fn an_apply_whose_response_was_lost_is_sent_again() {
    let cluster = Cluster::start(quick());
    let file = cluster.file("leftover.yaml", LEFTOVER);
    cluster.emu.lose_write_responses(1);
    let output = run_event(&cluster, "pre-install", &file, &[]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let writes = cluster.writes();
    assert_eq!(
        writes,
        [
            "PATCH configmaps/apps/leftover 504",
            "PATCH configmaps/apps/leftover 200",
            "DELETE configmaps/apps/leftover 200"
        ]
    );
}

/// `--dry-run=server` sends the apply with `dryRun=All`: the server checks it against
/// the object that is there, and nothing changes.
#[test]
fn server_dry_run_applies_with_dry_run_all() {
    let cluster = Cluster::start(quick());
    seed_leftover(&cluster);
    let file = cluster.file("leftover.yaml", LEFTOVER);
    let output = run_event(&cluster, "pre-install", &file, &["--dry-run=server"]);
    let err = stderr(&output);
    assert_eq!(code(&output), Some(0), "{err}");
    let writes: Vec<String> = cluster.emu.write_requests().iter().map(describe).collect();
    assert_eq!(writes, ["PATCH configmaps/apps/leftover 200"]);
    assert!(cluster.emu.mutating_requests().is_empty());
    assert!(
        err.contains(
            "would apply ConfigMap/leftover in namespace `apps` (server-side apply as `kubectl-hooks`; the server accepted it)"
        ),
        "{err}"
    );
    assert_eq!(
        cluster.get("v1", "ConfigMap", "leftover").unwrap()["data"],
        json!({"old": "yes"})
    );
}

/// What an earlier `--server-side=false` run created belongs to us under another
/// operation, which a server conflicts on (the run id annotation differs on every run):
/// a server-side run takes those fields over instead of failing.
#[test]
fn fields_we_created_are_taken_over_by_a_server_side_run() {
    let cluster = Cluster::start(quick());
    let first = cluster.file("first.yaml", &OWNED.replace("VALUE", "fast"));
    let output = run_event(&cluster, "pre-install", &first, &["--server-side=false"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));

    let second = cluster.file("second.yaml", &OWNED.replace("VALUE", "safe"));
    let output = run_event(&cluster, "pre-install", &second, &[]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let applies: Vec<String> = cluster
        .emu
        .mutating_requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| format!("{} force={}", describe(r), r.query.contains("force=true")))
        .collect();
    assert_eq!(
        applies,
        [
            "PATCH configmaps/apps/settings 409 force=false",
            "PATCH configmaps/apps/settings 200 force=true"
        ]
    );
    let stored = cluster.get("v1", "ConfigMap", "settings").unwrap();
    assert_eq!(stored["data"]["mode"], "safe");
}
