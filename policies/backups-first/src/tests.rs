use hooks_policy_sdk::testing::{NativePolicy, load_hooks, run_suite};
use hooks_policy_sdk::{Context, Event, Hook};
use serde_json::{Value, json};

use super::*;

const LEDGER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/ledger/rendered.yaml"
);

fn hook(name: &str, labels: Value, annotations: Value) -> Hook {
    let mut annotations = annotations;
    annotations["helm.sh/hook"] = json!("pre-delete");
    Hook::from_manifest(json!({
        "kind": "Job",
        "metadata": {"name": name, "labels": labels, "annotations": annotations}
    }))
    .unwrap()
}

fn order(hooks: &[Hook], settings: Value) -> Result<Vec<String>, String> {
    BackupsFirst::order(
        &Context::new(Event::PreDelete).with_settings(settings),
        hooks,
    )
}

#[test]
fn stable_partition_by_label_or_annotation() {
    let hooks = [
        hook("a", json!({}), json!({})),
        hook("b", json!({DEFAULT_KEY: "true"}), json!({})),
        hook("c", json!({}), json!({})),
        hook("d", json!({}), json!({DEFAULT_KEY: "true"})),
        hook("e", json!({DEFAULT_KEY: "false"}), json!({})),
    ];
    assert_eq!(
        order(&hooks, json!({})).unwrap(),
        ["Job/b", "Job/d", "Job/a", "Job/c", "Job/e"]
    );
}

#[test]
fn custom_key_and_any_value() {
    let hooks = [
        hook("a", json!({}), json!({})),
        hook("b", json!({"tier": "snapshot"}), json!({})),
    ];
    assert_eq!(
        order(&hooks, json!({"label": "tier", "value": null})).unwrap(),
        ["Job/b", "Job/a"]
    );
    assert_eq!(
        order(&hooks, json!({"label": "tier", "value": "x"})).unwrap(),
        ["Job/a", "Job/b"]
    );
    assert!(
        order(&hooks, json!({"label": ""}))
            .unwrap_err()
            .contains("`label`")
    );
}

#[test]
fn example_chart_backup_runs_before_drain() {
    let hooks = load_hooks(LEDGER, Event::PreDelete).unwrap();
    assert_eq!(
        order(&hooks, json!({})).unwrap(),
        ["Job/ledger-backup", "Job/ledger-drain"]
    );
}

#[test]
fn policy_test_suite() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests.yaml");
    let policy = NativePolicy {
        order: Some(BackupsFirst::order),
        ..Default::default()
    };
    run_suite(suite, &policy).unwrap_or_else(|e| panic!("{e}"));
}
