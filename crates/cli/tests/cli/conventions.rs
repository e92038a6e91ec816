//! What kubectl plugin users expect: shell completions, `version`, a krew manifest.

use crate::util::{run, transcript, workspace_root};

#[test]
fn completion_bash() {
    let output = run(&["completion", "bash"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn completion_zsh() {
    let output = run(&["completion", "zsh"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn completion_fish() {
    let output = run(&["completion", "fish"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    insta::assert_snapshot!(String::from_utf8(output.stdout).unwrap());
}

#[test]
fn completion_of_an_unknown_shell_is_a_usage_error() {
    let output = run(&["completion", "tcsh"]);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
}

/// The wasmtime the lock file pins, read here independently of the build script.
fn locked_wasmtime() -> String {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap();
    let entry = lock
        .split("[[package]]")
        .find(|e| e.contains("\nname = \"wasmtime\"\n"))
        .unwrap();
    entry
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned()
}

#[test]
fn version_names_the_tool_the_contract_and_wasmtime() {
    let output = run(&["version", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["contract"], "kubectl-hooks:policy@0.2.0");
    assert_eq!(
        json["contracts"],
        serde_json::json!(["kubectl-hooks:policy@0.1.0", "kubectl-hooks:policy@0.2.0"])
    );
    assert_eq!(json["wasmtime"], locked_wasmtime());
    let wit = std::fs::read_to_string(workspace_root().join("wit/policy.wit")).unwrap();
    assert!(wit.contains("package kubectl-hooks:policy@0.1.0;"));
    let wit = std::fs::read_to_string(workspace_root().join("wit/v0.2.0/policy.wit")).unwrap();
    assert!(wit.contains("package kubectl-hooks:policy@0.2.0;"));

    let text = run(&["version"]);
    assert_eq!(
        String::from_utf8(text.stdout).unwrap(),
        format!(
            "kubectl-hooks {}\npolicy contract: kubectl-hooks:policy@0.2.0 (speaks kubectl-hooks:policy@0.1.0, kubectl-hooks:policy@0.2.0)\nwasmtime: {}\n",
            env!("CARGO_PKG_VERSION"),
            locked_wasmtime()
        )
    );
}

#[test]
fn krew_manifest_describes_this_plugin() {
    let text = std::fs::read_to_string(workspace_root().join("plugins/hooks.yaml")).unwrap();
    let manifest: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    // `kubectl hooks` is the plugin named `hooks`, a binary named `kubectl-hooks`.
    assert_eq!(manifest["metadata"]["name"], "hooks");
    let spec = &manifest["spec"];
    assert_eq!(spec["version"], format!("v{}", env!("CARGO_PKG_VERSION")));
    for field in ["homepage", "shortDescription", "description"] {
        assert!(
            spec[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(spec["shortDescription"].as_str().unwrap().len() <= 50);
    let platforms = spec["platforms"].as_array().unwrap();
    assert!(!platforms.is_empty());
    for platform in platforms {
        assert_eq!(platform["bin"], "kubectl-hooks");
        let labels = &platform["selector"]["matchLabels"];
        assert!(
            labels["os"].is_string() && labels["arch"].is_string(),
            "{platform}"
        );
        let uri = platform["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("https://") && uri.ends_with(".tar.gz"),
            "{uri}"
        );
        assert!(uri.contains(spec["version"].as_str().unwrap()), "{uri}");
        let sha = platform["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sha}"
        );
    }
}
