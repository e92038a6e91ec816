//! The compile cache: hits on the second load, never runs an entry it cannot
//! authenticate as this user's compilation of exactly the policy's bytes, and is not used
//! at all where other users could write it.

use std::os::unix::fs::PermissionsExt;

use hooks_sandbox::{
    CacheDir, EngineOptions, FailurePolicy, Limits, Policy, PolicyEngine, SandboxError,
};

use crate::util::{ADVERSARY, artifact, configured, run};

fn engine_at(dir: &std::path::Path) -> PolicyEngine {
    PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(dir.to_owned()),
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap()
}

fn load(engine: &PolicyEngine) -> Policy {
    Policy::load(engine, "adversary", artifact(ADVERSARY), Limits::default()).unwrap()
}

#[test]
fn second_load_hits_the_cache_and_damaged_entries_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_at(dir.path());

    let first = load(&engine);
    assert!(!first.info().compilation.from_cache);
    assert_eq!(first.info().compilation.rebuilt, None);
    let entry = engine.cache_entry(&first.info().sha256).unwrap();
    assert!(
        entry.starts_with(dir.path()) && entry.is_file(),
        "{}",
        entry.display()
    );

    let second = load(&engine);
    assert!(second.info().compilation.from_cache);
    second.instantiate().unwrap();

    // Another engine (another process) finds the same entry.
    assert!(load(&engine_at(dir.path())).info().compilation.from_cache);

    // One flipped bit in the compiled code: the MAC no longer matches.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&entry, &bytes).unwrap();
    let rebuilt = load(&engine);
    assert!(!rebuilt.info().compilation.from_cache);
    let reason = rebuilt
        .info()
        .compilation
        .rebuilt
        .clone()
        .expect("a rebuild reason");
    assert!(reason.contains("MAC does not match"), "{reason}");
    rebuilt.instantiate().unwrap();
    assert!(
        load(&engine).info().compilation.from_cache,
        "the rebuilt entry is used"
    );

    // Truncated, as by a full disk or a killed writer without the atomic rename.
    let bytes = std::fs::read(&entry).unwrap();
    std::fs::write(&entry, &bytes[..bytes.len() / 3]).unwrap();
    let rebuilt = load(&engine);
    assert!(rebuilt.info().compilation.rebuilt.is_some());
    assert!(load(&engine).info().compilation.from_cache);

    // Foreign content with no header at all.
    std::fs::write(&entry, b"not a cache entry").unwrap();
    assert!(load(&engine).info().compilation.rebuilt.is_some());
    assert!(load(&engine).info().compilation.from_cache);

    // The key is gone (a new machine, a wiped state directory): no entry made with the
    // old one is trusted.
    let mut key = dir.path().as_os_str().to_owned();
    key.push(".key");
    std::fs::remove_file(&key).unwrap();
    assert!(load(&engine).info().compilation.rebuilt.is_some());
    assert!(load(&engine).info().compilation.from_cache);

    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn disabled_cache_never_hits() {
    let engine = PolicyEngine::new(EngineOptions {
        cache: CacheDir::Disabled,
        fuel: false,
        ..EngineOptions::default()
    })
    .unwrap();
    assert_eq!(engine.cache_dir(), None);
    assert!(!load(&engine).info().compilation.from_cache);
    assert!(!load(&engine).info().compilation.from_cache);
}

#[test]
fn fuel_engines_use_separate_entries() {
    let dir = tempfile::tempdir().unwrap();
    let plain = engine_at(dir.path());
    let fuel = PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(dir.path().to_owned()),
        fuel: true,
        ..EngineOptions::default()
    })
    .unwrap();
    let sha = load(&plain).info().sha256.clone();
    assert_ne!(plain.cache_entry(&sha), fuel.cache_entry(&sha));
}

fn pinned_guard(dir: &std::path::Path) -> (PolicyEngine, Policy) {
    let engine = engine_at(dir);
    let bytes = std::fs::read(artifact(ADVERSARY)).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let policy = Policy::load_pinned(
        &engine,
        "adversary",
        artifact(ADVERSARY),
        Limits::default(),
        Some(&sha),
    )
    .unwrap();
    (engine, policy)
}

/// The attack of the bug report: the cache entry of a pinned guard is replaced by the
/// artefact of another component (an allow-all), with whatever digest beside it. The
/// pinned policy must run its own code or none.
#[test]
fn regression_a_swapped_cache_entry_cannot_stand_in_for_a_pinned_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, guard) = pinned_guard(dir.path());
    let guard_entry = engine.cache_entry(&guard.info().sha256).unwrap();
    // Another component, compiled and cached by the same user.
    let other = Policy::load(
        &engine,
        "other",
        artifact("deny-privileged"),
        Limits::default(),
    )
    .unwrap();
    let other_entry = engine.cache_entry(&other.info().sha256).unwrap();
    std::fs::copy(&other_entry, &guard_entry).unwrap();

    let reloaded = pinned_guard(dir.path()).1;
    let compilation = &reloaded.info().compilation;
    assert!(!compilation.from_cache, "the swapped entry was used");
    assert!(
        compilation
            .rebuilt
            .as_deref()
            .is_some_and(|r| r.contains("MAC does not match")),
        "{compilation:?}"
    );
    // And the policy is the guard: it denies.
    let policed = run(&[configured(
        std::sync::Arc::new(reloaded),
        r#"{"mode": "deny", "role": "validate"}"#,
        FailurePolicy::Fail,
    )])
    .unwrap();
    assert!(policed.denied);
}

#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("policies");
    let engine = engine_at(&dir);
    assert!(!load(&engine).info().compilation.from_cache);
    assert!(load(&engine).info().compilation.from_cache);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let policy = load(&engine);
    let compilation = &policy.info().compilation;
    assert!(!compilation.from_cache);
    let warning = compilation.cache_warning.as_deref().unwrap_or_default();
    assert!(
        warning.contains("mode 777") && warning.contains("chmod go-rwx"),
        "{warning}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(load(&engine).info().compilation.from_cache);
}

/// Regression for mapping entries: wasmtime maps an entry after its MAC is checked, so
/// one that others may write (and so change in between) is never used.
#[test]
fn an_entry_others_can_write_is_refused_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_at(dir.path());
    let first = load(&engine);
    let entry = engine.cache_entry(&first.info().sha256).unwrap();
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let rebuilt = load(&engine);
    let reason = rebuilt
        .info()
        .compilation
        .rebuilt
        .clone()
        .unwrap_or_default();
    assert!(reason.contains("only this user may write"), "{reason}");
    rebuilt.instantiate().unwrap();
    // Rewritten as this user's own (0600), and used again.
    let mode = std::fs::metadata(&entry).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(load(&engine).info().compilation.from_cache);
}

#[test]
fn a_key_others_can_read_is_not_used() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("policies");
    let engine = engine_at(&dir);
    load(&engine);
    let key = parent.path().join("policies.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key is created private");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700,
        "the cache directory is created private"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let policy = load(&engine);
    assert!(!policy.info().compilation.from_cache);
    assert!(
        policy
            .info()
            .compilation
            .cache_warning
            .as_deref()
            .is_some_and(|w| w.contains("policies.key")),
        "{:?}",
        policy.info().compilation
    );
}

#[test]
fn pins_are_checked_against_the_bytes_before_any_cache_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_at(dir.path());
    let error = Policy::load_pinned(
        &engine,
        "adversary",
        artifact(ADVERSARY),
        Limits::default(),
        Some(&"0".repeat(64)),
    )
    .unwrap_err();
    assert!(
        matches!(error, SandboxError::DigestMismatch { .. }),
        "{error:?}"
    );
}
