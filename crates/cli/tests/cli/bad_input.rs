//! Bad input: one clear error naming the place, exit code 2, never a panic.

use std::path::Path;

use crate::util::{run, transcript};

/// Writes `content` to a temp file, plans `pre-install` on it, and snapshots the transcript
/// with the temp path redacted.
fn check(name: &str, content: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    outcome(&dir, &path, &["plan", "pre-install", "-f"])
}

fn outcome(dir: &tempfile::TempDir, path: &Path, args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.push(path.to_str().unwrap());
    let output = run(&args);
    let text = transcript(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    text.replace(dir.path().to_str().unwrap(), "[TMP]")
}

#[test]
fn broken_yaml_names_file_document_and_line() {
    insta::assert_snapshot!(check(
        "broken.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n  annotations: {}\n"
    ));
}

#[test]
fn missing_api_version() {
    insta::assert_snapshot!(check(
        "no-api.yaml",
        b"kind: Job\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook: pre-install\n"
    ));
}

#[test]
fn missing_kind() {
    insta::assert_snapshot!(check(
        "no-kind.yaml",
        b"apiVersion: v1\nmetadata:\n  name: x\n"
    ));
}

#[test]
fn missing_hook_name() {
    insta::assert_snapshot!(check(
        "no-name.yaml",
        b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n"
    ));
}

#[test]
fn unquoted_number_in_hook_annotation() {
    insta::assert_snapshot!(check(
        "weight.yaml",
        b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: 5\n"
    ));
}

#[test]
fn yaml_alias_bomb_is_refused() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut previous = 'a';
    for level in 'b'..='j' {
        bomb.push_str(&format!(
            "  {level}: &{level} [{}]\n",
            vec![format!("*{previous}"); 9].join(",")
        ));
        previous = level;
    }
    insta::assert_snapshot!(check("bomb.yaml", bomb.as_bytes()));
}

#[test]
fn very_deep_nesting_is_refused() {
    let depth = 10_000;
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    insta::assert_snapshot!(check("deep.yaml", doc.as_bytes()));
}

#[test]
fn binary_junk_is_refused() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    insta::assert_snapshot!(check("junk.yaml", &junk));
}

#[test]
fn a_200_mb_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(200 * 1024 * 1024).unwrap(); // sparse: costs no disk
    insta::assert_snapshot!(outcome(&dir, &path, &["plan", "pre-install", "-f"]));
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    insta::assert_snapshot!(outcome(&dir, &path, &["plan", "pre-install", "-f"]));
}

#[test]
fn unknown_event() {
    let output = run(&["plan", "pre-instal", "-f", crate::util::EXAMPLE]);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn duplicate_hooks_of_one_event() {
    let doc = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n";
    insta::assert_snapshot!(check("dup.yaml", format!("{doc}---\n{doc}").as_bytes()));
}

#[test]
fn document_that_is_not_an_object() {
    insta::assert_snapshot!(check("list.yaml", b"- just\n- a list\n"));
}

#[test]
fn invalid_json_file() {
    insta::assert_snapshot!(check(
        "bad.json",
        b"{\"apiVersion\": \"v1\",\n \"kind\": \"ConfigMap\",\n \"metadata\": {\"name\": \"x\",}\n}\n"
    ));
}

#[test]
fn a_zero_timeout_annotation_names_the_hook() {
    insta::assert_snapshot!(check(
        "timeouts.yaml",
        b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n    kubectl-hooks.dev/timeout: 0s\n"
    ));
}
