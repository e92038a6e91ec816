//! The mutate → order → validate pipeline: decisions recorded for display, and every
//! answer checked, with errors that name the policy and the hook.

use hooks_plan::Event;
use hooks_sandbox::{Decision, FailurePolicy, Role, SandboxError, police};

use crate::util::{
    JOBS, adversary, assert_host_healthy, configured, ids, plan, plan_of, run, run_adversary,
};

fn invalid(settings: &str) -> (Role, Option<String>, String) {
    let error = run_adversary(settings).unwrap_err();
    let message = error.to_string();
    let SandboxError::InvalidAnswer {
        role,
        hook,
        problem,
        ..
    } = error
    else {
        panic!("{settings}: {error:?}");
    };
    assert!(message.contains("policy `adversary`"), "{message}");
    if let Some(hook) = &hook {
        assert!(message.contains(&format!("hook `{hook}`")), "{message}");
    }
    (role, hook, problem)
}

#[test]
fn mutation_is_applied_and_shown_as_a_diff() {
    let policed = run_adversary(r#"{"label": "adversary"}"#).unwrap();
    let mutations: Vec<_> = policed
        .decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Mutation {
                policy, hook, diff, ..
            } => Some((policy, hook, diff)),
            _ => None,
        })
        .collect();
    assert_eq!(mutations.len(), 3);
    let (policy, hook, diff) = mutations[1];
    assert_eq!(
        (policy.as_str(), hook.as_str()),
        ("adversary", "Job/migrate")
    );
    assert!(diff.starts_with("--- before\n+++ after\n"), "{diff}");
    assert!(
        diff.contains("+  labels:\n+    policed-by: adversary\n"),
        "{diff}"
    );
    let manifest = policed.plan.hooks[1].hook.manifest().unwrap();
    assert_eq!(manifest["metadata"]["labels"]["policed-by"], "adversary");
    assert!(!policed.denied);
}

#[test]
fn reorder_is_recorded_before_and_after() {
    let policed = run_adversary(r#"{"mode": "reverse"}"#).unwrap();
    let before = ids(&plan());
    let mut after = before.clone();
    after.reverse();
    assert_eq!(ids(&policed.plan), after);
    let positions: Vec<usize> = policed.plan.hooks.iter().map(|h| h.position).collect();
    assert_eq!(positions, vec![1, 2, 3]);
    assert!(policed.decisions.contains(&Decision::Order {
        policy: "adversary".into(),
        before,
        after,
        changed: true,
    }));
}

#[test]
fn denials_veto_the_event_naming_policy_and_hook() {
    let policed = run_adversary(r#"{"mode": "deny"}"#).unwrap();
    assert!(policed.denied);
    let denials: Vec<_> = policed.denials().collect();
    assert_eq!(
        denials[1],
        (
            "adversary",
            Some("Job/migrate"),
            "adversary denies Job/migrate of weight 1"
        )
    );
}

#[test]
fn validators_allow_and_log() {
    let policed = run_adversary("{}").unwrap();
    assert!(!policed.denied);
    assert!(policed.decisions.contains(&Decision::Allow {
        policy: "adversary".into()
    }));
    assert!(policed.decisions.iter().any(|d| matches!(d,
        Decision::Log(log) if log.policy == "adversary" && log.message == "checked 3 hooks for Event::PreInstall")));
}

#[test]
fn order_that_is_not_a_permutation_is_refused() {
    let (role, hook, problem) = invalid(r#"{"mode": "not-permutation"}"#);
    assert_eq!(role, Role::Order);
    assert_eq!(hook.as_deref(), Some("ConfigMap/settings"));
    assert!(problem.contains("twice"), "{problem}");
    assert_host_healthy();
}

#[test]
fn patch_that_renames_a_hook_is_refused() {
    let (role, hook, problem) = invalid(r#"{"mode": "rename"}"#);
    assert_eq!(
        (role, hook.as_deref()),
        (Role::Mutate, Some("ConfigMap/settings"))
    );
    assert!(
        problem.contains("metadata.name from \"settings\" to \"renamed\""),
        "{problem}"
    );
}

#[test]
fn patch_that_retargets_a_hook_to_another_event_is_refused() {
    let (_, hook, problem) = invalid(r#"{"mode": "retarget"}"#);
    assert_eq!(hook.as_deref(), Some("ConfigMap/settings"));
    assert!(problem.contains("`helm.sh/hook` annotation"), "{problem}");
}

#[test]
fn patch_that_reweights_a_hook_is_refused() {
    let (_, _, problem) = invalid(r#"{"mode": "reweight"}"#);
    assert!(
        problem.contains("`helm.sh/hook-weight` annotation"),
        "{problem}"
    );
}

#[test]
fn patch_for_an_unknown_hook_is_refused() {
    let (_, hook, problem) = invalid(r#"{"mode": "unknown-id"}"#);
    assert_eq!(hook.as_deref(), Some("Job/ghost"));
    assert!(problem.contains("not in this event"), "{problem}");
}

#[test]
fn patch_that_is_not_json_or_not_an_object_is_refused() {
    let (_, _, problem) = invalid(r#"{"mode": "invalid-json"}"#);
    assert!(problem.contains("not valid JSON"), "{problem}");
    let (_, _, problem) = invalid(r#"{"mode": "not-object"}"#);
    assert!(problem.contains("an array, not a JSON object"), "{problem}");
    assert_host_healthy();
}

#[test]
fn delete_policy_may_change_and_is_read_again() {
    let policed = run_adversary(r#"{"mode": "delete-policy"}"#).unwrap();
    let hook = &policed.plan.hooks[0].hook;
    assert_eq!(hook.delete_policies, vec!["hook-succeeded", "hook-failed"]);
    assert!(policed.decisions.iter().any(|d| matches!(d,
        Decision::Mutation { hook, diff, .. } if hook == "ConfigMap/settings" && diff.contains("+    helm.sh/hook-delete-policy: hook-succeeded,hook-failed"))));
}

#[test]
fn policies_apply_only_to_their_events() {
    let mut only_delete = configured(adversary(), r#"{"mode": "deny"}"#, FailurePolicy::Fail);
    only_delete.events = Some(vec![Event::PreDelete]);
    let policed = run(&[only_delete.clone()]).unwrap();
    assert!(policed.decisions.is_empty());
    only_delete.events = Some(vec![Event::PreInstall]);
    assert!(run(&[only_delete]).unwrap().denied);
}

#[test]
fn mutators_run_before_orderers_before_validators() {
    // Configured validator-first; the pipeline still runs the mutation first, so the
    // reorder and the denial see the mutated plan.
    let policed = run(&[
        configured(adversary(), r#"{"mode": "deny"}"#, FailurePolicy::Fail),
        configured(
            adversary(),
            r#"{"mode": "reverse", "label": "x"}"#,
            FailurePolicy::Fail,
        ),
    ])
    .unwrap();
    let kinds: Vec<&str> = policed
        .decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Mutation { .. } => Some("mutation"),
            Decision::Order { changed: true, .. } => Some("reorder"),
            Decision::Denial { .. } => Some("denial"),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "mutation", "mutation", "mutation", "reorder", "denial", "denial", "denial"
        ]
    );
    // The first denial is about the first hook of the reversed order.
    assert_eq!(policed.denials().next().unwrap().1, Some("Job/backup"));
}

#[test]
fn json_and_yaml_inputs_give_guests_the_same_manifests() {
    let yaml = plan_of(JOBS, Event::PreInstall);
    let policed = police(
        yaml,
        &[configured(
            adversary(),
            r#"{"label": "y"}"#,
            FailurePolicy::Fail,
        )],
        &Default::default(),
    )
    .unwrap();
    // A second mutation over already-patched (JSON) manifests works the same way.
    let again = police(
        policed.plan,
        &[configured(
            adversary(),
            r#"{"label": "z"}"#,
            FailurePolicy::Fail,
        )],
        &Default::default(),
    )
    .unwrap();
    let manifest = again.plan.hooks[2].hook.manifest().unwrap();
    assert_eq!(manifest["metadata"]["labels"]["policed-by"], "z");
    assert_eq!(
        manifest["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/backup:2.3"
    );
}

#[test]
fn policed_serialises_as_decisions_and_denied() {
    let policed = run_adversary(r#"{"mode": "deny"}"#).unwrap();
    let json = serde_json::to_value(&policed).unwrap();
    assert_eq!(json["denied"], true);
    let denial = json["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "denial")
        .unwrap();
    assert_eq!(denial["policy"], "adversary");
    assert_eq!(denial["hook"], "ConfigMap/settings");
}
