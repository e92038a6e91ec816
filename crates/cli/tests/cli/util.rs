//! Helpers shared by the topic modules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The binary under test, run from the workspace root with a scrubbed environment so a
/// developer's kubeconfig or cache never leaks in.
pub fn kubectl_hooks() -> Command {
    scrubbed(Command::new(env!("CARGO_BIN_EXE_kubectl-hooks")))
}

/// [`kubectl_hooks`] started by `sh -c script`, for what only a shell sets up (such as
/// `ulimit`); the script ends with `exec "$0" "$@"`.
pub fn kubectl_hooks_in_shell(script: &str) -> Command {
    let mut command = scrubbed(Command::new("sh"));
    command
        .args(["-c", script])
        .arg(env!("CARGO_BIN_EXE_kubectl-hooks"));
    command
}

/// Also hermetic for compiled policies: one cache (and the key beside it) under cargo's
/// per-target temp dir for every test, never the user's.
fn scrubbed(mut command: Command) -> Command {
    command
        .current_dir(workspace_root())
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .env(
            "KUBECTL_HOOKS_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-policy-cache"),
        );
    command
}

pub fn run(args: &[&str]) -> Output {
    kubectl_hooks().args(args).output().unwrap()
}

/// stdout, stderr and the exit code in one string, the shape snapshots use.
pub fn transcript(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub const EXAMPLE: &str = "examples/ledger/rendered.yaml";

/// A component built for `wasm32-wasip2`, relative to the workspace root (where the
/// binary runs). Missing ones fail with the command that builds them.
pub fn artifact(package: &str) -> String {
    let relative = format!(
        "target/wasm32-wasip2/release/{}.wasm",
        package.replace('-', "_")
    );
    assert!(
        workspace_root().join(&relative).is_file(),
        "{relative} is missing: run `scripts/build-policies.sh {package}` first"
    );
    relative
}

/// A policy configuration in `dir`: the adversary once per `(name, settings, failurePolicy)`
/// entry, each with a 200 ms cap.
pub fn adversary_config(dir: &Path, entries: &[(&str, &str, &str)]) -> PathBuf {
    let wasm = workspace_root().join(artifact("adversary-policy"));
    let mut text =
        String::from("apiVersion: kubectl-hooks.dev/v1alpha1\nkind: PolicyConfig\npolicies:\n");
    for (name, settings, failure) in entries {
        text.push_str(&format!(
            "  - name: {name}\n    path: {}\n    settings: {settings}\n    failurePolicy: {failure}\n    limits: {{timeoutMs: 200}}\n",
            wasm.display()
        ));
    }
    let file = dir.join("policies.yaml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Validates `document` against `crates/cli/tests/schemas/{schema}` with the pinned
/// Python tools (xmlschema, jsonschema) that `scripts/tools.sh` installs; `Err` holds
/// every violation.
pub fn schema_check(schema: &str, document: &[u8]) -> Result<(), String> {
    let root = workspace_root();
    let python = root.join("target/tools/python/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `scripts/tools.sh python` (the test command does)",
        python.display()
    );
    let schemas = root.join("crates/cli/tests/schemas");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("document");
    std::fs::write(&file, document).unwrap();
    let output = Command::new(python)
        .arg(schemas.join("validate.py"))
        .arg(schemas.join(schema))
        .arg(&file)
        .output()
        .unwrap();
    match output.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(String::from_utf8_lossy(&output.stdout).into_owned()),
        _ => panic!("the schema check itself failed: {}", transcript(&output)),
    }
}

/// [`schema_check`], failing the test with the violations and the document.
pub fn assert_valid(schema: &str, document: &[u8]) {
    if let Err(violations) = schema_check(schema, document) {
        panic!(
            "not valid against {schema}:\n{violations}\n--- document\n{}",
            String::from_utf8_lossy(document)
        );
    }
}
