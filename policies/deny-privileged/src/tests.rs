use hooks_policy_sdk::testing::{NativePolicy, load_hooks, run_suite};
use hooks_policy_sdk::{Context, Event, Hook};
use serde_json::{Value, json};

use super::*;

const LEDGER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/ledger/rendered.yaml"
);

fn job(pod_spec: Value) -> Hook {
    Hook::from_manifest(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"template": {"spec": pod_spec}}
    }))
    .unwrap()
}

fn reasons(hooks: &[Hook], settings: Value) -> Vec<String> {
    let ctx = Context::new(Event::PreInstall).with_settings(settings);
    DenyPrivileged::validate(&ctx, hooks)
        .unwrap()
        .into_iter()
        .map(|d| {
            assert_eq!(d.hook_id.as_deref(), Some("Job/j"));
            d.reason
        })
        .collect()
}

#[test]
fn restricted_pod_passes() {
    let hook = job(json!({
        "securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}]
    }));
    assert!(reasons(&[hook], json!({})).is_empty());
}

#[test]
fn container_overrides_pod_for_run_as_non_root() {
    let hook = job(json!({
        "securityContext": {"runAsNonRoot": true},
        "initContainers": [{"name": "i", "securityContext": {
            "runAsNonRoot": false, "allowPrivilegeEscalation": false
        }}],
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false}}]
    }));
    assert_eq!(
        reasons(&[hook], json!({})),
        [
            "container `i` may run as root (spec.template.spec.initContainers[0].securityContext.runAsNonRoot: false)"
        ]
    );
}

#[test]
fn every_violation_is_its_own_denial() {
    let hook = job(json!({
        "hostPID": true,
        "hostIPC": true,
        "containers": [{"name": "c", "securityContext": {
            "privileged": true,
            "runAsUser": 0,
            "capabilities": {"add": ["SYS_ADMIN", "cap_net_bind_service"]}
        }}]
    }));
    let got = reasons(
        &[hook],
        json!({"allowedCapabilities": ["NET_BIND_SERVICE"]}),
    );
    assert_eq!(got.len(), 7, "{got:#?}");
    assert!(got[0].contains("spec.template.spec.hostPID: true"));
    assert!(got[1].contains("spec.template.spec.hostIPC: true"));
    assert!(got[2].contains("containers[0].securityContext.privileged: true"));
    assert!(got[3].contains("runs as root"));
    assert!(got[4].contains(
        "may run as root: set spec.template.spec.containers[0].securityContext.runAsNonRoot"
    ));
    assert!(got[5].contains("allows privilege escalation: set"));
    assert!(got[6].contains("adds capability \"SYS_ADMIN\""));
}

#[test]
fn denies_capabilities_not_allowed() {
    let hook = job(json!({
        "securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "c", "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"add": ["NET_ADMIN"]}
        }}]
    }));
    assert_eq!(
        reasons(&[hook], json!({})),
        [
            "container `c` adds capability \"NET_ADMIN\" (spec.template.spec.containers[0].securityContext.capabilities.add[0])"
        ]
    );
}

#[test]
fn bad_settings_are_a_policy_error() {
    let ctx = Context::new(Event::PreInstall).with_settings(json!({"exemptHooks": "Job/j"}));
    let err = DenyPrivileged::validate(&ctx, &[]).unwrap_err();
    assert!(err.starts_with("invalid settings"), "{err}");
}

#[test]
fn example_chart_passes_every_event() {
    for event in Event::ALL {
        let hooks = load_hooks(LEDGER, event).unwrap();
        let denials = DenyPrivileged::validate(&Context::new(event), &hooks).unwrap();
        assert!(denials.is_empty(), "{event}: {denials:?}");
    }
}

#[test]
fn policy_test_suite() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests.yaml");
    let policy = NativePolicy {
        validate: Some(DenyPrivileged::validate),
        ..Default::default()
    };
    run_suite(suite, &policy).unwrap_or_else(|e| panic!("{e}"));
}
