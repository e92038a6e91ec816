//! `kubectl hooks plan` on the example chart: the table people read and the JSON contract.

use crate::util::{EXAMPLE, run, transcript};

#[test]
fn example_pre_install_table() {
    insta::assert_snapshot!(transcript(&run(&["plan", "pre-install", "-f", EXAMPLE])));
}

#[test]
fn example_pre_install_parallel_table_shows_waves_and_timeouts() {
    insta::assert_snapshot!(transcript(&run(&[
        "plan",
        "pre-install",
        "-f",
        EXAMPLE,
        "--parallel",
        "--timeout",
        "90s"
    ])));
}

#[test]
fn example_pre_install_json() {
    let output = run(&["plan", "pre-install", "-f", EXAMPLE, "-o", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    insta::assert_json_snapshot!(plan);
}

#[test]
fn example_pre_delete_yaml() {
    insta::assert_snapshot!(transcript(&run(&[
        "plan",
        "pre-delete",
        "-f",
        EXAMPLE,
        "-o",
        "yaml"
    ])));
}

#[test]
fn example_every_event_table() {
    let mut all = String::new();
    for event in [
        "post-install",
        "test",
        "post-delete",
        "pre-upgrade",
        "post-rollback",
    ] {
        all.push_str(&transcript(&run(&["plan", event, "-f", EXAMPLE])));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn stdin_reads_helm_template_output() {
    use std::io::Write;
    let mut child = crate::util::kubectl_hooks()
        .args(["plan", "pre-install", "-f", "-", "-o", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let example = std::fs::read(crate::util::workspace_root().join(EXAMPLE)).unwrap();
    child.stdin.take().unwrap().write_all(&example).unwrap();
    let output = child.wait_with_output().unwrap();
    let from_stdin: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let from_file: serde_json::Value =
        serde_json::from_slice(&run(&["plan", "pre-install", "-f", EXAMPLE, "-o", "json"]).stdout)
            .unwrap();
    // `# Source:` comments name the templates, so where the text came from does not matter.
    assert_eq!(from_stdin, from_file);
}

#[test]
fn documented_ordering_differs_from_helm_on_name_ties() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tie.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrate-script\n  annotations:\n    helm.sh/hook: pre-upgrade\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let helm = run(&["plan", "pre-upgrade", "-f", path]);
    let documented = run(&[
        "plan",
        "pre-upgrade",
        "-f",
        path,
        "--ordering",
        "documented",
    ]);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(dir.path().to_str().unwrap()), "[TMP]");
    settings.bind(|| {
        insta::assert_snapshot!(format!(
            "{}\n{}",
            transcript(&helm),
            transcript(&documented)
        ));
    });
}

pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[test]
fn runs_as_a_kubectl_plugin() {
    // kubectl finds `kubectl-hooks` on PATH and hands it the rest of the command line.
    let binary_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-hooks"))
        .parent()
        .unwrap()
        .to_owned();
    let home = tempfile::tempdir().unwrap();
    let path = std::env::join_paths(
        std::iter::once(binary_dir)
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let output = std::process::Command::new("kubectl")
        .args(["hooks", "plan", "test", "-f", EXAMPLE])
        .current_dir(crate::util::workspace_root())
        .env("PATH", path)
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl must be on PATH: run scripts/setup.sh");
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ledger-smoke-test"));
}
