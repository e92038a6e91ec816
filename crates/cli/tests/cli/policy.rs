//! Policies from the command line: `plan --policy/--policy-config`, `policy inspect` and
//! `policy test`. The components are built by `scripts/build-policies.sh adversary-policy`
//! (which also builds the four example policies) before the tests run.

use std::path::Path;
use std::process::Output;

use crate::util::{
    EXAMPLE, adversary_config, artifact, kubectl_hooks, kubectl_hooks_in_shell, transcript,
    workspace_root,
};

/// Runs the binary with its compile cache in cargo's per-target temp dir: never the
/// user's cache, and shared by the tests only to save compile time.
fn hooks(args: &[&str]) -> Output {
    kubectl_hooks().args(args).output().unwrap()
}

/// [`hooks`] with the address space limited to 2 GiB (`ulimit -v`), too little for the
/// instance pool's reservation.
fn hooks_with_little_address_space(args: &[&str]) -> Output {
    kubectl_hooks_in_shell(r#"ulimit -v 2097152 && exec "$0" "$@""#)
        .args(args)
        .output()
        .unwrap()
}

/// `plan pre-install` of the example chart with the policy configuration `config`.
fn plan_pre_install_with(config: &Path) -> Output {
    hooks(&[
        "plan",
        "pre-install",
        "-f",
        EXAMPLE,
        "--policy-config",
        config.to_str().unwrap(),
    ])
}

/// `plan pre-install` of the example chart with the example policies.
const PLAN_WITH_EXAMPLE_POLICIES: [&str; 6] = [
    "plan",
    "pre-install",
    "-f",
    EXAMPLE,
    "--policy-config",
    "examples/ledger/policies.yaml",
];

/// Snapshot filters for what changes from build to build or run to run.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{64}", "[sha256]");
    settings.add_filter(r"size:\s+\d+ bytes", "size:      [size] bytes");
    settings.add_filter(
        r"compile:\s+[0-9.]+ ms \(.*\)",
        "compile:   [time] ms ([compiled or cached])",
    );
    // The fixture's own line numbers in a panic message move whenever it is edited.
    settings.add_filter(r"(adversary/src/lib\.rs):\d+:\d+", "$1:[line]");
    settings.add_filter(
        r"instance:\s+[0-9.]+ µs per call",
        "instance:  [time] µs per call",
    );
    settings.add_filter(r#""(duration|size)": \d+"#, r#""$1": "[redacted]""#);
    settings.add_filter(r"/[^\s`']*/(config|suite)-[^\s`'/]+", "[tmp]");
    settings
}

fn temp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("config-")
        .tempdir()
        .unwrap()
}

#[test]
fn inspect_text() {
    let output = hooks(&["policy", "inspect", &artifact("adversary-policy")]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn inspect_json() {
    let output = hooks(&[
        "policy",
        "inspect",
        &artifact("deny-privileged"),
        "-o",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(info["roles"], serde_json::json!(["validate"]));
    assert_eq!(info["contractVersion"], "0.1.0");
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);
    settings().bind(|| {
        insta::assert_json_snapshot!(info, {
            ".size" => "[size]",
            ".sha256" => "[sha256]",
            ".compilation.duration" => "[duration]",
            ".compilation.fromCache" => "[bool]",
            ".instance.duration" => "[duration]",
        })
    });
}

/// Regression: with the instance pool's address space refused (a `ulimit -v`, as some
/// CI runners and shared hosts set), policies must still run, allocated per call, and
/// decide exactly as they do from the pool.
#[test]
fn policies_run_where_the_instance_pool_cannot_be_reserved() {
    let pooled = hooks(&PLAN_WITH_EXAMPLE_POLICIES);
    let limited = hooks_with_little_address_space(&PLAN_WITH_EXAMPLE_POLICIES);
    assert_eq!(pooled.status.code(), Some(0), "{}", transcript(&pooled));
    assert_eq!(transcript(&limited), transcript(&pooled));

    let inspect = ["policy", "inspect", &artifact("deny-privileged")];
    let pooled = String::from_utf8(hooks(&inspect).stdout).unwrap();
    assert!(pooled.contains("(from the instance pool)"), "{pooled}");
    let limited = hooks_with_little_address_space(&inspect);
    let stdout = String::from_utf8_lossy(&limited.stdout);
    assert!(
        stdout.contains("(allocated per call: the instance pool's address space was refused)"),
        "{}",
        transcript(&limited)
    );
}

#[test]
fn inspect_refuses_a_core_module_and_the_wrong_contract() {
    let dir = temp();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let mut all = transcript(&hooks(&["policy", "inspect", core.to_str().unwrap()]));
    all.push_str(&transcript(&hooks(&[
        "policy",
        "inspect",
        &artifact("adversary-v2-policy"),
    ])));
    settings().bind(|| insta::assert_snapshot!(all));
}

#[test]
fn plan_pre_install_with_the_example_policies() {
    let output = hooks(&PLAN_WITH_EXAMPLE_POLICIES);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn plan_pre_delete_backups_first_reorders() {
    let output = hooks(&[
        "plan",
        "pre-delete",
        "-f",
        EXAMPLE,
        "--policy-config",
        "examples/ledger/policies.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn plan_denied_by_deny_privileged_exits_3() {
    let output = hooks(&[
        "plan",
        "pre-install",
        "-f",
        "policies/deny-privileged/fixtures/privileged.yaml",
        "--policy",
        &artifact("deny-privileged"),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn plan_json_has_a_policies_section_and_the_final_hooks() {
    let args = ["plan", "pre-delete", "-f", EXAMPLE, "-o", "json"];
    let bare: serde_json::Value = serde_json::from_slice(&hooks(&args).stdout).unwrap();
    let mut with = args.to_vec();
    with.extend(["--policy-config", "examples/ledger/policies.yaml"]);
    let output = hooks(&with);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let policed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Existing fields keep their shape; only `policies` is new, and hooks are reordered.
    for field in ["event", "ordering", "skipped", "warnings"] {
        assert_eq!(policed[field], bare[field], "{field}");
    }
    let ids = |plan: &serde_json::Value| -> Vec<String> {
        plan["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&bare), ["Job/ledger-drain", "Job/ledger-backup"]);
    assert_eq!(ids(&policed), ["Job/ledger-backup", "Job/ledger-drain"]);
    assert_eq!(policed["policies"]["denied"], false);
    settings().bind(|| insta::assert_json_snapshot!(policed["policies"]));
}

#[test]
fn plan_yaml_with_a_denial() {
    let output = hooks(&[
        "plan",
        "pre-install",
        "-f",
        "policies/deny-privileged/fixtures/privileged.yaml",
        "--policy",
        &artifact("deny-privileged"),
        "-o",
        "yaml",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn policy_error_exits_4_with_the_guest_panic() {
    let dir = temp();
    let config = adversary_config(
        dir.path(),
        &[("adversary", r#"{mode: panic, role: validate}"#, "Fail")],
    );
    let output = plan_pre_install_with(&config);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn ignored_failures_are_shown_and_the_event_goes_on() {
    let dir = temp();
    let config = adversary_config(
        dir.path(),
        &[
            ("looper", "{mode: loop}", "Ignore"),
            ("renamer", "{mode: rename}", "Ignore"),
        ],
    );
    let output = plan_pre_install_with(&config);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn bad_policy_input_exits_2() {
    let dir = temp();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n  - name: x\n    path: x.wasm\n    failurePolicy: Maybe\n",
    )
    .unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let mut all = String::new();
    for flag in [
        ["--policy-config", config.to_str().unwrap()],
        ["--policy", core.to_str().unwrap()],
    ] {
        let mut args = vec!["plan", "pre-install", "-f", EXAMPLE];
        args.extend(flag);
        let output = hooks(&args);
        assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
        all.push_str(&transcript(&output));
    }
    settings().bind(|| insta::assert_snapshot!(all));
}

#[test]
fn policy_test_runs_the_example_suites() {
    for package in [
        "deny-privileged",
        "allowed-registries",
        "backups-first",
        "job-defaults",
    ] {
        artifact(package);
    }
    let output = hooks(&[
        "policy",
        "test",
        "policies/deny-privileged/tests.yaml",
        "policies/allowed-registries/tests.yaml",
        "policies/backups-first/tests.yaml",
        "policies/job-defaults/tests.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn policy_test_reports_failed_cases_with_exit_7() {
    let dir = tempfile::Builder::new().prefix("suite-").tempdir().unwrap();
    let suite = dir.path().join("suite.yaml");
    std::fs::write(
        &suite,
        format!(
            "policy: {}
cases:
  - name: expects an allow that is a denial
    event: pre-install
    manifests: {}
    expect:
      allowed: true
  - name: expects the wrong denial and order
    event: pre-install
    manifests: {}
    expect:
      denials: [{{hook: Job/other, reasonContains: privileged}}]
      order: [Job/nothing]
  - name: expects an error that does not come
    event: pre-install
    manifests: {}
    expect:
      error: boom
  - name: passes
    event: pre-install
    manifests: {}
    expect:
      allowed: false
      denials: [{{hook: Job/db-init, reasonContains: privileged}}]
",
            workspace_root().join(artifact("deny-privileged")).display(),
            workspace_root()
                .join("policies/deny-privileged/fixtures/privileged.yaml")
                .display(),
            workspace_root()
                .join("policies/deny-privileged/fixtures/privileged.yaml")
                .display(),
            workspace_root()
                .join("policies/deny-privileged/fixtures/privileged.yaml")
                .display(),
            workspace_root()
                .join("policies/deny-privileged/fixtures/privileged.yaml")
                .display(),
        ),
    )
    .unwrap();
    let output = hooks(&["policy", "test", suite.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(7), "{}", transcript(&output));
    settings().bind(|| insta::assert_snapshot!(transcript(&output)));
}

/// The policies written in Python (componentize-py), JavaScript (componentize-js) and
/// Rego (regorus in a Rust component) pass their suites against the built components.
#[test]
fn policy_test_runs_the_python_javascript_and_rego_suites() {
    for package in ["pod-limits", "depends-on", "rego"] {
        artifact(package);
    }
    let output = hooks(&[
        "policy",
        "test",
        "policies/pod-limits/tests.yaml",
        "policies/depends-on/tests.yaml",
        "policies/rego/tests.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    insta::assert_snapshot!(transcript(&output));

    // Each interpreter component links against nothing but the host's WASI and the
    // contract. In this test rather than its own: compiling these components is what
    // takes time, and here they come from the cache the suites just filled.
    for (package, role) in [("pod-limits", "validate"), ("depends-on", "order")] {
        let output = hooks(&["policy", "inspect", &artifact(package), "-o", "json"]);
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(info["roles"], serde_json::json!([role]), "{package}");
        let imports: Vec<&str> = info["imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        assert!(
            imports
                .iter()
                .all(|i| i.starts_with("wasi:") || i.starts_with("kubectl-hooks:policy/")),
            "{package}: {imports:?}"
        );
        assert!(
            !imports.iter().any(|i| i.starts_with("wasi:http")),
            "{imports:?}"
        );
    }
}
