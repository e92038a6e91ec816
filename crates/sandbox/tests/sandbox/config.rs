//! The policy configuration file: what it accepts, and errors that name the file and the
//! policy.

use std::path::Path;
use std::time::Duration;

use hooks_plan::Event;
use hooks_sandbox::{FailurePolicy, PolicyConfig, PolicySpec, SandboxError, check_unique_names};

use crate::util::workspace_root;

fn parse(text: &str) -> Result<PolicyConfig, SandboxError> {
    PolicyConfig::parse(Path::new("/etc/hooks/policies.yaml"), text)
}

fn error(text: &str) -> String {
    let error = parse(text).unwrap_err();
    assert!(error.is_bad_input());
    let message = error.to_string();
    assert!(message.starts_with("/etc/hooks/policies.yaml"), "{message}");
    message
}

const HEADER: &str = "apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\n";

#[test]
fn full_entry_is_read() {
    let config = parse(&format!(
        "{HEADER}policies:
  - name: deny-privileged
    path: ../wasm/deny_privileged.wasm
    sha256: \"{}\"
    events: [pre-install, pre-upgrade]
    settings: {{registries: [a.example, b.example], strict: true}}
    failurePolicy: Ignore
    limits: {{memoryMiB: 32, timeoutMs: 250, fuel: 1000000}}
",
        "AB".repeat(32)
    ))
    .unwrap();
    let spec = &config.policies[0];
    assert_eq!(spec.name, "deny-privileged");
    assert_eq!(
        spec.path,
        Path::new("/etc/hooks/../wasm/deny_privileged.wasm")
    );
    assert_eq!(spec.sha256.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(
        spec.events,
        Some(vec![Event::PreInstall, Event::PreUpgrade])
    );
    assert_eq!(
        spec.settings,
        serde_json::json!({"registries": ["a.example", "b.example"], "strict": true})
    );
    assert_eq!(spec.failure_policy, FailurePolicy::Ignore);
    assert_eq!(spec.limits.memory_bytes, 32 * 1024 * 1024);
    assert_eq!(spec.limits.timeout, Duration::from_millis(250));
    assert_eq!(spec.limits.fuel, Some(1_000_000));
    assert!(config.needs_fuel());
}

#[test]
fn defaults_apply() {
    let config = parse(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n"
    ))
    .unwrap();
    let spec = &config.policies[0];
    assert_eq!(spec.events, None);
    assert_eq!(spec.settings, serde_json::json!({}));
    assert_eq!(spec.failure_policy, FailurePolicy::Fail);
    assert_eq!(spec.limits, hooks_sandbox::Limits::default());
    assert!(!config.needs_fuel());
}

#[test]
fn example_configuration_parses() {
    let file = workspace_root().join("examples/ledger/policies.yaml");
    let config = PolicyConfig::from_file(&file).unwrap();
    let names: Vec<&str> = config.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "job-defaults",
            "backups-first",
            "deny-privileged",
            "allowed-registries"
        ]
    );
    assert!(
        config.policies[0]
            .path
            .ends_with("target/wasm32-wasip2/release/job_defaults.wasm")
    );
}

#[test]
fn unknown_field_names_the_policy() {
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n    failurPolicy: Ignore\n"
    ));
    assert!(
        message.contains("policy `a`") && message.contains("failurPolicy"),
        "{message}"
    );
}

#[test]
fn unknown_top_level_field() {
    let message = error(&format!("{HEADER}polices: []\n"));
    assert!(message.contains("polices"), "{message}");
}

#[test]
fn unknown_event_lists_the_valid_ones() {
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n    events: [pre-instal]\n"
    ));
    assert!(
        message.contains("policy `a`") && message.contains("`pre-instal`"),
        "{message}"
    );
    assert!(message.contains("pre-install, post-install"), "{message}");
}

#[test]
fn bad_failure_policy() {
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n    failurePolicy: ignore\n"
    ));
    assert!(
        message.contains("`ignore`") && message.contains("`Fail` or `Ignore`"),
        "{message}"
    );
}

#[test]
fn missing_path_and_name() {
    let message = error(&format!("{HEADER}policies:\n  - name: a\n"));
    assert!(
        message.contains("policy `a`") && message.contains("missing `path`"),
        "{message}"
    );
    let message = error(&format!("{HEADER}policies:\n  - path: a.wasm\n"));
    assert!(
        message.contains("policy `#1`") && message.contains("missing `name`"),
        "{message}"
    );
}

#[test]
fn duplicate_names() {
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n  - name: a\n    path: b.wasm\n"
    ));
    assert!(
        message.contains("policy `a`") && message.contains("duplicate name"),
        "{message}"
    );
}

#[test]
fn wrong_header_and_bad_limits() {
    assert!(error("apiVersion: v1\nkind: PolicyConfig\n").contains("kubectl-hooks.dev/v1alpha1"));
    assert!(
        error("apiVersion: kubectl-hooks.dev/v1alpha1\nkind: Config\n").contains("PolicyConfig")
    );
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n    limits: {{memoryMiB: 0}}\n"
    ));
    assert!(message.contains("limits.memoryMiB"), "{message}");
    let message = error(&format!(
        "{HEADER}policies:\n  - name: a\n    path: a.wasm\n    sha256: abc\n"
    ));
    assert!(message.contains("64 hex digits"), "{message}");
}

#[test]
fn broken_yaml_names_the_file() {
    error("apiVersion: [\n");
}

#[test]
fn policy_flag_names_the_policy_after_the_file() {
    let spec = PolicySpec::from_wasm("target/wasm32-wasip2/release/deny_privileged.wasm");
    assert_eq!(spec.name, "deny-privileged");
    assert_eq!(spec.events, None);
    assert_eq!(spec.settings, serde_json::json!({}));
    let twice = [spec.clone(), spec];
    assert!(
        check_unique_names(&twice)
            .unwrap_err()
            .contains("deny-privileged")
    );
}

#[test]
fn rego_file_is_read_into_settings_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deny.rego"), "package kubectl_hooks\n").unwrap();
    let file = dir.path().join("policies.yaml");
    let header = "apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n";
    let config = PolicyConfig::parse(
        &file,
        &format!("{header}  - {{name: r, path: rego.wasm, regoFile: deny.rego, settings: {{regoV0: true}}}}\n"),
    )
    .unwrap();
    assert_eq!(
        config.policies[0].settings,
        serde_json::json!({"regoV0": true, "policy": "package kubectl_hooks\n"})
    );

    let both = PolicyConfig::parse(
        &file,
        &format!("{header}  - {{name: r, path: rego.wasm, regoFile: deny.rego, settings: {{policy: x}}}}\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        both.contains("policy `r`") && both.contains("not both"),
        "{both}"
    );

    let missing = PolicyConfig::parse(
        &file,
        &format!("{header}  - {{name: r, path: rego.wasm, regoFile: nope.rego}}\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("cannot read `regoFile`"), "{missing}");
}
