//! What `Policy::load` refuses, and how it says so: every error names the policy and the
//! file, and says what to do.

use hooks_sandbox::{CONTRACT_VERSION, Limits, Policy, Role, SandboxError, Source};
use sha2::{Digest, Sha256};

use crate::util::{ADVERSARY, ADVERSARY_V2, adversary, artifact, engine};

fn load_bytes(name: &str, bytes: Vec<u8>) -> Result<Policy, SandboxError> {
    Policy::load(
        engine(),
        name,
        Source::Bytes {
            label: format!("{name}.wasm"),
            bytes,
        },
        Limits::default(),
    )
}

fn component(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

#[test]
fn adversary_implements_every_role() {
    let policy = adversary();
    let info = policy.info();
    assert_eq!(info.roles, vec![Role::Mutate, Role::Order, Role::Validate]);
    // Built for 0.1.0, which the host still speaks beside the newest.
    assert_eq!(info.contract_version, "0.1.0");
    assert_ne!(info.contract_version, CONTRACT_VERSION);
    let bytes = std::fs::read(artifact(ADVERSARY)).unwrap();
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(info.size, bytes.len());
    assert!(
        info.imports
            .iter()
            .any(|i| i.starts_with("kubectl-hooks:policy/host@0.1.0"))
    );
    assert!(
        info.imports.iter().any(|i| i.starts_with("wasi:cli/")),
        "{:?}",
        info.imports
    );
    assert!(
        info.exports
            .contains(&"kubectl-hooks:policy/validate@0.1.0".to_owned())
    );
}

#[test]
fn core_module_is_refused_with_how_to_make_a_component() {
    let error = load_bytes("core", wat::parse_str("(module)").unwrap()).unwrap_err();
    assert!(
        matches!(error, SandboxError::CoreModule { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("policy `core`") && message.contains("core.wasm"),
        "{message}"
    );
    assert!(message.contains("not a component"), "{message}");
    let hint = error.hint().unwrap();
    assert!(
        hint.contains("wasm32-wasip2") && hint.contains("wasm-tools component new"),
        "{hint}"
    );
    assert!(error.is_bad_input());
}

#[test]
fn random_bytes_are_refused() {
    // Deterministic noise (xorshift), so a failure can be reproduced.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let error = load_bytes("noise", noise.clone()).unwrap_err();
    assert!(matches!(error, SandboxError::NotWasm { .. }), "{error:?}");
    assert!(error.to_string().contains("policy `noise`"));

    // The right preamble with junk after it gets past recognition and fails to compile.
    let mut junk = b"\0asm\x0d\x00\x01\x00".to_vec();
    junk.extend_from_slice(&noise);
    let error = load_bytes("junk", junk).unwrap_err();
    assert!(matches!(error, SandboxError::Compile { .. }), "{error:?}");
    assert!(error.to_string().contains("policy `junk`"));

    let error = load_bytes("empty", Vec::new()).unwrap_err();
    assert!(matches!(error, SandboxError::NotWasm { .. }), "{error:?}");
}

#[test]
fn wrong_contract_version_names_both_versions() {
    let path = artifact(ADVERSARY_V2);
    let error = Policy::load(engine(), "future", path.as_path(), Limits::default()).unwrap_err();
    assert!(
        matches!(error, SandboxError::ContractVersion { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("policy `future`"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("@0.9.0") && message.contains("@0.1.0"),
        "{message}"
    );
    assert!(error.hint().unwrap().contains("rebuild"));
}

#[test]
fn wrong_contract_version_from_text_component() {
    let bytes = component(
        r#"(component
             (instance $i)
             (export "kubectl-hooks:policy/validate@0.3.1" (instance $i)))"#,
    );
    let message = load_bytes("v3", bytes).unwrap_err().to_string();
    assert!(
        message.contains("@0.3.1") && message.contains("@0.1.0"),
        "{message}"
    );
}

#[test]
fn component_without_a_role_is_refused() {
    let error = load_bytes("idle", component("(component)")).unwrap_err();
    assert!(matches!(error, SandboxError::NoRole { .. }), "{error:?}");
    assert!(error.to_string().contains("implements no role"));
    assert!(error.hint().unwrap().contains("validator"));
}

#[test]
fn imports_the_host_does_not_provide_are_named() {
    let bytes = component(
        r#"(component
             (import "acme:vault/secrets@1.0.0" (instance))
             (import "wasi:io/streams@0.2.3" (instance))
             (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#,
    );
    let error = load_bytes("greedy", bytes).unwrap_err();
    let SandboxError::MissingImports { imports, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        imports,
        &[
            "acme:vault/secrets@1.0.0",
            "wasi:http/outgoing-handler@0.2.0"
        ]
    );
    let message = error.to_string();
    assert!(
        message.contains("policy `greedy`") && message.contains("acme:vault/secrets"),
        "{message}"
    );
}

#[test]
fn export_of_the_right_name_but_wrong_shape_is_refused() {
    let bytes = component(
        r#"(component
             (instance $i)
             (export "kubectl-hooks:policy/validate@0.1.0" (instance $i)))"#,
    );
    let error = load_bytes("hollow", bytes).unwrap_err();
    assert!(
        matches!(error, SandboxError::Incompatible { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("validate"), "{error}");
}

#[test]
fn sha256_pin_mismatch_shows_both_digests() {
    let path = artifact(ADVERSARY);
    let pin = "0".repeat(64);
    let error = Policy::load_pinned(
        engine(),
        "pinned",
        path.as_path(),
        Limits::default(),
        Some(&pin),
    )
    .unwrap_err();
    let SandboxError::DigestMismatch {
        expected, actual, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, &pin);
    assert_eq!(actual, &adversary().info().sha256);
    let message = error.to_string();
    assert!(
        message.contains(&pin) && message.contains(actual.as_str()),
        "{message}"
    );

    // The right pin (in upper case, as people paste them) loads.
    let good = adversary().info().sha256.to_ascii_uppercase();
    Policy::load_pinned(
        engine(),
        "pinned",
        path.as_path(),
        Limits::default(),
        Some(&good),
    )
    .unwrap();
}

#[test]
fn missing_file_names_policy_and_path() {
    let error = Policy::load(
        engine(),
        "ghost",
        std::path::Path::new("/nonexistent/ghost.wasm"),
        Limits::default(),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("policy `ghost`") && message.contains("/nonexistent/ghost.wasm"),
        "{message}"
    );
}
