//! On-disk cache of compiled components.
//!
//! Compiling a policy with Cranelift takes 150–230 ms; loading it back takes ~0.2 ms. An
//! entry is keyed by the sha256 of the component's bytes and a digest of the engine's
//! compatibility hash (wasmtime version, compiler settings, fuel), so a different policy
//! or a different engine never finds it. Beside each entry (`KEY.cwasm`, wasmtime's own
//! format, so it can be memory-mapped rather than copied) lies `KEY.cwasm.sha256`, the
//! digest of the compiled bytes: the cache is an optimisation, never a trust root, so an
//! entry is only deserialised after its digest checks out, and anything wrong with it
//! (missing digest, truncated, corrupt, stale format) makes the host compile again and
//! overwrite it.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::engine::CacheDir;

/// Bumped when the layout of entries changes, so old entries are simply not found.
const FORMAT: &str = "v1";

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// What a lookup found.
pub(crate) enum Lookup {
    Hit(Component),
    Miss,
    /// An entry was there but could not be trusted; it will be rebuilt.
    Invalid(String),
}

impl CompileCache {
    pub(crate) fn new(engine: &wasmtime::Engine, dir: CacheDir) -> CompileCache {
        let dir = match dir {
            CacheDir::User => dirs::cache_dir().map(|d| d.join("kubectl-hooks").join("policies")),
            CacheDir::At(dir) => Some(dir),
            CacheDir::Disabled => None,
        };
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        CompileCache { dir, engine_key }
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn entry(&self, wasm_sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{wasm_sha256}-{}-{FORMAT}.cwasm", self.engine_key)))
    }

    pub(crate) fn lookup(&self, engine: &wasmtime::Engine, wasm_sha256: &str) -> Lookup {
        let Some(path) = self.entry(wasm_sha256) else {
            return Lookup::Miss;
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Invalid(format!("cannot read {}: {e}", path.display())),
        };
        let expected = std::fs::read_to_string(digest_path(&path)).unwrap_or_default();
        if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
            return Lookup::Invalid(format!(
                "{} is truncated or corrupt (digest mismatch)",
                path.display()
            ));
        }
        match deserialize_verified(engine, &path) {
            Ok(component) => Lookup::Hit(component),
            Err(e) => Lookup::Invalid(format!("{} is stale: {e:#}", path.display())),
        }
    }

    /// Writes an entry atomically (temporary file, then rename), so a concurrent reader
    /// sees the old entry, the new one, or none, never half of one. Failure to write is
    /// not an error for the caller: the cache only saves time.
    pub(crate) fn store(&self, wasm_sha256: &str, compiled: &[u8]) -> Result<(), String> {
        let Some(path) = self.entry(wasm_sha256) else {
            return Ok(());
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let write = |target: &Path, contents: &[u8]| -> std::io::Result<()> {
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            file.write_all(contents)?;
            file.as_file().sync_data()?;
            file.persist(target).map_err(|e| e.error)?;
            Ok(())
        };
        // The entry first, then its digest: a reader between the two sees a mismatch and
        // rebuilds, which is slow but never wrong.
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            write(&path, compiled)?;
            write(
                &digest_path(&path),
                hex::encode(Sha256::digest(compiled)).as_bytes(),
            )
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The path an entry for these bytes would have; for tests and `policy inspect`.
    pub(crate) fn entry_path(&self, wasm_sha256: &str) -> Option<PathBuf> {
        self.entry(wasm_sha256)
    }
}

fn digest_path(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Deserialising compiled code is `unsafe` because wasmtime trusts the bytes to be its own
/// output: arbitrary bytes could be arbitrary machine code. It is sound here because we
/// wrote the file from wasmtime's own `serialize` ([`CompileCache::store`]) and
/// [`CompileCache::lookup`] has just checked its contents against the sha256 stored
/// beside it; wasmtime itself then rejects artifacts from another version or
/// configuration. The file is memory-mapped rather than copied (≈0.5 ms saved for a
/// typical policy); anyone able to swap it between the check and the mapping can write
/// the cache directory, and so could equally have written a matching digest: the digest
/// guards against corruption, and the cache directory's ownership against tampering.
#[allow(unsafe_code)]
fn deserialize_verified(engine: &wasmtime::Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: see above: our own output, verified by digest.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Feeds `Hash` output into sha256, so the engine key is stable across processes and Rust
/// versions (std's `DefaultHasher` promises neither).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
