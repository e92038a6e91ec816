//! The compile cache: hits on the second load, and never trusts a damaged entry.

use hooks_sandbox::{CacheDir, EngineOptions, Limits, Policy, PolicyEngine};

use crate::util::{ADVERSARY, artifact};

fn engine_at(dir: &std::path::Path) -> PolicyEngine {
    PolicyEngine::new(EngineOptions {
        cache: CacheDir::At(dir.to_owned()),
        fuel: false,
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

    // One flipped bit in the compiled code: the digest no longer matches.
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
    assert!(reason.contains("digest mismatch"), "{reason}");
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

    // The digest beside the entry is missing: the entry is not trusted.
    let mut digest = entry.as_os_str().to_owned();
    digest.push(".sha256");
    std::fs::remove_file(&digest).unwrap();
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
    })
    .unwrap();
    let sha = load(&plain).info().sha256.clone();
    assert_ne!(plain.cache_entry(&sha), fuel.cache_entry(&sha));
}
