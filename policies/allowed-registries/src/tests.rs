use hooks_policy_sdk::testing::{NativePolicy, load_hooks, run_suite};
use hooks_policy_sdk::{Context, Event, Hook};
use serde_json::{Value, json};

use super::*;

const LEDGER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/ledger/rendered.yaml"
);

fn ctx(settings: Value) -> Context {
    Context::new(Event::PreInstall).with_settings(settings)
}

fn pod(images: &[&str], init: &[&str]) -> Hook {
    let list = |imgs: &[&str]| -> Vec<Value> {
        imgs.iter()
            .enumerate()
            .map(|(i, im)| json!({"name": format!("c{i}"), "image": im}))
            .collect()
    };
    Hook::from_manifest(json!({
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {"containers": list(images), "initContainers": list(init)}
    }))
    .unwrap()
}

#[test]
fn allows_images_under_the_registries() {
    let hook = pod(
        &[
            "registry.example.com/a:1",
            "ghcr.io/acme/b@sha256:0123456789abcdef0123456789abcdef",
        ],
        &[],
    );
    let settings = json!({"registries": ["registry.example.com", "ghcr.io/acme"]});
    assert!(
        AllowedRegistries::validate(&ctx(settings), &[hook])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn denies_docker_hub_short_names_and_init_containers() {
    let hook = pod(&["registry.example.com/a:1"], &["busybox:1.36"]);
    let denials = AllowedRegistries::validate(
        &ctx(json!({"registries": ["registry.example.com"]})),
        &[hook],
    )
    .unwrap();
    assert_eq!(denials.len(), 1);
    assert_eq!(
        denials[0].reason,
        "container `c0` image `busybox:1.36` (spec.initContainers[0].image) resolves to docker.io/library/busybox, which is not under an allowed registry (registry.example.com)"
    );
}

#[test]
fn missing_or_empty_registries_is_a_policy_error() {
    for settings in [json!({}), json!({"registries": []}), Value::Null] {
        let err = AllowedRegistries::validate(&ctx(settings), &[]).unwrap_err();
        assert!(err.contains("setting `registries` is required"), "{err}");
    }
}

#[test]
fn example_chart_passes_with_its_registry() {
    let settings = json!({"registries": ["registry.example.com"]});
    for event in Event::ALL {
        let hooks = load_hooks(LEDGER, event).unwrap();
        let denials = AllowedRegistries::validate(&ctx(settings.clone()), &hooks).unwrap();
        assert!(denials.is_empty(), "{event}: {denials:?}");
    }
}

#[test]
fn policy_test_suite() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests.yaml");
    let policy = NativePolicy {
        validate: Some(AllowedRegistries::validate),
        ..Default::default()
    };
    run_suite(suite, &policy).unwrap_or_else(|e| panic!("{e}"));
}
