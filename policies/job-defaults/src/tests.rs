use hooks_policy_sdk::testing::{NativePolicy, load_hooks, run_suite};
use hooks_policy_sdk::{Context, Event, Hook};
use serde_json::{Value, json};

use super::*;

const LEDGER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/ledger/rendered.yaml"
);

fn mutate(hooks: &[Hook], settings: Value) -> Vec<Patch> {
    JobDefaults::mutate(
        &Context::new(Event::PreInstall).with_settings(settings),
        hooks,
    )
    .unwrap()
}

fn hook(manifest: Value) -> Hook {
    let mut manifest = manifest;
    manifest["metadata"]["annotations"] = json!({"helm.sh/hook": "pre-install"});
    Hook::from_manifest(manifest).unwrap()
}

#[test]
fn fills_in_every_default_on_a_bare_job() {
    let job = hook(json!({
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i"}]}}}
    }));
    let patches = mutate(&[job], json!({}));
    assert_eq!(patches.len(), 1);
    let m = &patches[0].manifest;
    assert_eq!(m["spec"]["activeDeadlineSeconds"], 600);
    assert_eq!(m["spec"]["backoffLimit"], 1);
    assert_eq!(
        m["metadata"]["labels"]["hooks.kubectl-hooks.dev/managed"],
        "true"
    );
    let want = json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}});
    assert_eq!(
        m["spec"]["template"]["spec"]["containers"][0]["resources"],
        want
    );
    assert_eq!(
        m["spec"]["template"]["spec"]["initContainers"][0]["resources"],
        want
    );
}

#[test]
fn never_overrides_the_chart() {
    let job = hook(json!({
        "kind": "CronJob",
        "metadata": {"name": "cj", "labels": {"hooks.kubectl-hooks.dev/managed": "no"}},
        "spec": {"jobTemplate": {"spec": {
            "activeDeadlineSeconds": 30,
            "backoffLimit": 0,
            "template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "50m"}}}]}}
        }}}
    }));
    let patches = mutate(&[job], json!({}));
    let m = &patches[0].manifest;
    let spec = &m["spec"]["jobTemplate"]["spec"];
    assert_eq!(spec["activeDeadlineSeconds"], 30);
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(
        m["metadata"]["labels"]["hooks.kubectl-hooks.dev/managed"],
        "no"
    );
    // cpu was set by the chart (limit only): no cpu request added; memory defaulted.
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "50m", "memory": "256Mi"}, "requests": {"memory": "128Mi"}})
    );
}

#[test]
fn no_patch_when_nothing_changes_or_not_a_job() {
    let done = hook(json!({
        "kind": "Job",
        "metadata": {"name": "j", "labels": {"x": "y"}},
        "spec": {"backoffLimit": 2, "template": {"spec": {"containers": [{"name": "c"}]}}}
    }));
    let settings = json!({"activeDeadlineSeconds": null, "labels": {}, "resources": {
        "requests": {"cpu": null, "memory": null}, "limits": {"cpu": null, "memory": null}
    }});
    assert!(mutate(std::slice::from_ref(&done), settings).is_empty());
    let cm = hook(json!({"kind": "ConfigMap", "metadata": {"name": "c"}}));
    assert!(mutate(&[cm], json!({})).is_empty());
}

#[test]
fn settings_override_single_defaults() {
    let job = hook(
        json!({"kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{}]}}}}),
    );
    let patches = mutate(
        &[job],
        json!({"backoffLimit": 4, "resources": {"limits": {"memory": "1Gi"}}, "labels": {"team": "db"}}),
    );
    let m = &patches[0].manifest;
    assert_eq!(m["spec"]["backoffLimit"], 4);
    assert_eq!(m["spec"]["activeDeadlineSeconds"], 600);
    assert_eq!(m["metadata"]["labels"], json!({"team": "db"}));
    let r = &m["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(r["limits"], json!({"cpu": "500m", "memory": "1Gi"}));
}

#[test]
fn example_chart_jobs_are_patched() {
    let hooks = load_hooks(LEDGER, Event::PreInstall).unwrap();
    let patches = mutate(&hooks, json!({}));
    let ids: Vec<_> = patches.iter().map(|p| p.hook_id.as_str()).collect();
    assert_eq!(ids, ["Job/ledger-db-init"]);
    assert_eq!(patches[0].manifest["spec"]["backoffLimit"], 1);
    assert_eq!(patches[0].manifest["spec"]["activeDeadlineSeconds"], 600);
}

#[test]
fn policy_test_suite() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests.yaml");
    let policy = NativePolicy {
        mutate: Some(JobDefaults::mutate),
        ..Default::default()
    };
    run_suite(suite, &policy).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn hook_timeout_is_set_only_when_asked_and_never_over_the_charts() {
    let bare = || {
        hook(json!({"kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}))
    };
    let patches = mutate(&[bare()], json!({}));
    assert!(patches[0].manifest["metadata"]["annotations"][TIMEOUT_ANNOTATION].is_null());
    let patches = mutate(&[bare()], json!({"hookTimeout": "15m"}));
    assert_eq!(
        patches[0].manifest["metadata"]["annotations"][TIMEOUT_ANNOTATION],
        "15m"
    );
    let mut own = bare();
    own.manifest["metadata"]["annotations"][TIMEOUT_ANNOTATION] = json!("2m");
    let patches = mutate(&[own], json!({"hookTimeout": "15m"}));
    assert_eq!(
        patches[0].manifest["metadata"]["annotations"][TIMEOUT_ANNOTATION],
        "2m"
    );
}
