use hooks_policy_sdk::testing::{NativePolicy, run_suite};

use super::*;

#[test]
fn suite() {
    let suite = concat!(env!("CARGO_MANIFEST_DIR"), "/tests.yaml");
    let policy = NativePolicy {
        validate: Some(Rego::validate),
        ..Default::default()
    };
    run_suite(suite, &policy).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deny_must_be_a_set_of_strings_or_objects() {
    assert!(denials(json!(true)).unwrap_err().contains("must be a set"));
    assert!(
        denials(json!([1]))
            .unwrap_err()
            .contains("must hold strings or objects")
    );
    assert!(
        denials(json!([{"hook": "Job/a"}]))
            .unwrap_err()
            .contains("needs a string `msg`")
    );
    assert!(
        denials(json!([{"hook": 3, "msg": "m"}]))
            .unwrap_err()
            .contains("must be a hook id")
    );
    assert_eq!(
        denials(json!(["e", {"reason": "r"}, {"hook": "Job/a", "msg": "m"}])).unwrap(),
        [
            Denial::event("e"),
            Denial::event("r"),
            Denial {
                hook_id: Some("Job/a".into()),
                reason: "m".into()
            }
        ]
    );
}
