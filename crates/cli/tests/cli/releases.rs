//! `--release` without `-f`, `--hook`, `gc` and `run install|upgrade|auto`: what the
//! command line refuses before any cluster is asked, and what a cluster's refusals look
//! like. Real Helm's releases are read in the `hooks-e2e` suite.

use hooks_emulator::EmulatorOptions;

use crate::cluster::{Cluster, code, quick, stderr};
use crate::util::{EXAMPLE, run};

#[test]
fn plan_needs_manifests_or_a_release() {
    let output = run(&["plan", "test"]);
    assert_eq!(code(&output), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--filename <PATH>"), "{err}");
}

#[test]
fn revision_needs_a_release_and_no_manifests() {
    let output = run(&["plan", "test", "--revision", "2", "-f", EXAMPLE]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
    let output = run(&["plan", "test", "--revision", "2"]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
}

#[test]
fn an_unknown_hook_lists_the_events_hooks() {
    let output = run(&[
        "plan",
        "pre-install",
        "-f",
        EXAMPLE,
        "--exclude-hook",
        "Job/nope",
    ]);
    assert_eq!(code(&output), Some(2));
    let err = stderr(&output);
    assert!(err.starts_with("error: no hook `Job/nope` in event `pre-install`\n  hint: the hooks of `pre-install` are: "), "{err}");
}

#[test]
fn a_malformed_hook_selector_is_a_usage_error() {
    let output = run(&["plan", "test", "-f", EXAMPLE, "--hook", "migrate"]);
    assert_eq!(code(&output), Some(2));
    assert!(
        stderr(&output).contains("`migrate` is not `KIND/NAME`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn no_such_release_in_an_empty_namespace_suggests_namespace_and_driver() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&["run", "test", "--release", "shop", "-n", "apps"]);
    insta::assert_snapshot!(crate::util::transcript(&output));
}

#[test]
fn install_upgrade_and_auto_need_a_release() {
    for action in ["install", "upgrade", "auto"] {
        let output = run(&["run", action, "-f", EXAMPLE]);
        assert_eq!(code(&output), Some(2), "{action}");
        assert!(
            stderr(&output).starts_with(&format!("error: `run {action}` needs `--release NAME`")),
            "{}",
            stderr(&output)
        );
    }
    let output = run(&[
        "run",
        "install",
        "-f",
        EXAMPLE,
        "--release",
        "x",
        "--hook",
        "Job/a",
    ]);
    assert_eq!(code(&output), Some(2));
    assert!(
        stderr(&output).contains("pick hooks of one event"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unsupported_helm_driver_is_bad_input() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&["plan", "test", "--release", "x", "--helm-driver", "sql"]);
    assert_eq!(code(&output), Some(2));
    assert!(
        stderr(&output).starts_with("error: unsupported Helm storage driver `sql`"),
        "{}",
        stderr(&output)
    );
    // An unrelated HELM_DRIVER does not break reading manifests.
    let output = cluster
        .hooks()
        .env("HELM_DRIVER", "memory")
        .args(["plan", "test", "-f", EXAMPLE])
        .output()
        .unwrap();
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
}

/// Kubernetes' `view` role reads no Secrets: the error says which permission and how to
/// check it.
#[test]
fn forbidden_to_read_secrets_names_the_permission_and_the_can_i_check() {
    let cluster = Cluster::start_with_token(
        EmulatorOptions {
            tls: true,
            read_only_token: Some("viewer".into()),
            ..quick()
        },
        Some("viewer"),
    );
    for command in [
        &["plan", "test", "--release", "shop"][..],
        &["run", "test", "--release", "shop"][..],
        &["gc", "--release", "shop"][..],
    ] {
        let output = cluster.run(command);
        let err = stderr(&output);
        assert_eq!(code(&output), Some(6), "{command:?}: {err}");
        assert!(
            err.starts_with("error: forbidden to list secrets in namespace `default`: "),
            "{err}"
        );
        assert!(
            err.contains("hint: reading Helm's releases needs permission to list secrets; check the identity in your kubeconfig: `kubectl auth can-i list secrets -n default`"),
            "{err}"
        );
    }
    let output = cluster.run(&["plan", "test", "--release", "shop"]);
    insta::assert_snapshot!(crate::util::transcript(&output));
    // ConfigMaps are readable: the release is simply not there.
    let output = cluster.run(&[
        "plan",
        "test",
        "--release",
        "shop",
        "--helm-driver",
        "configmap",
    ]);
    assert_eq!(code(&output), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("there are no releases in `default`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn gc_of_runs_finds_nothing_in_an_empty_cluster_and_writes_nothing() {
    let cluster = Cluster::start(quick());
    let output = cluster.run(&["gc", "--yes"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "no leftover hook objects of kubectl-hooks runs\n"
    );
    assert!(cluster.writes().is_empty());
}

/// What a run killed before its clean-up leaves: a `hook-succeeded` ConfigMap carrying
/// the run's id. A twin without the run id, and a CRD hook, are never touched.
#[test]
fn gc_of_runs_deletes_an_unfinished_runs_objects_and_nothing_else() {
    let cluster = Cluster::start(quick());
    let annotations = |run: bool| {
        let mut a = serde_json::json!({"helm.sh/hook": "pre-install",
                                       "helm.sh/hook-delete-policy": "hook-succeeded"});
        if run {
            a["hooks.kubectl-hooks.dev/run-id"] = "20260101-000000-abcd".into();
        }
        a
    };
    for (name, run) in [("left", true), ("twin", false)] {
        cluster
            .emu
            .put_object(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default", "annotations": annotations(run)}}))
            .unwrap();
    }
    cluster
        .emu
        .put_object(serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "annotations": annotations(true)},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                     "versions": [{"name": "v1", "served": true, "storage": true,
                                   "schema": {"openAPIV3Schema": {"type": "object"}}}]}}))
        .unwrap();
    let output = cluster.run(&["gc"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("ConfigMap  left  default"),
        "{table}"
    );
    assert!(
        table.contains("hook-succeeded, and it succeeded (run 20260101-000000-abcd)"),
        "{table}"
    );
    assert!(cluster.writes().is_empty());

    let output = cluster.run(&["gc", "--yes", "--dry-run=server", "-o", "json"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["leftovers"][0]["reason"], "succeeded");
    assert_eq!(json["leftovers"][0]["owner"]["id"], "20260101-000000-abcd");
    assert_eq!(json["results"][0]["result"], "dry-run");
    assert!(cluster.writes().is_empty(), "{:?}", cluster.writes());

    let output = cluster.run(&["gc", "--yes"]);
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert_eq!(cluster.writes(), ["DELETE configmaps/left 200"]);
    assert!(cluster.exists("v1", "ConfigMap", "twin"));
    assert!(
        cluster
            .emu
            .get_object(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                "widgets.example.com"
            )
            .is_some()
    );
}
