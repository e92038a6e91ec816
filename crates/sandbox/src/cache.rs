//! On-disk cache of compiled components: an optimisation, never a trust root.
//!
//! Compiling a policy with Cranelift takes 100–230 ms; loading it back takes well under a
//! millisecond. But loading an artefact is running the native code in it, so a cache
//! entry is only used when it is authenticated as this user's own compilation of exactly
//! the component's bytes:
//!
//! - each entry carries a MAC (BLAKE3 in its keyed mode) under a per-user key kept
//!   *outside* the cache directory (mode 0600), over the contract format, the engine's
//!   compatibility hash, the sha256 of the component's bytes and the artefact. Whoever
//!   can write the cache directory but not read the key cannot make an entry the host
//!   will run, nor pass one component's artefact off as another's (a pinned policy's,
//!   say);
//! - an entry is used only if this user owns it and nobody else may write it or its
//!   directory, so that between checking its MAC and wasmtime mapping it nobody but
//!   this user (who holds the key anyway) could change it; and it must still be the
//!   same file once mapped;
//! - a cache directory (or key) that another user owns or may write is not used at all.
//!
//! The MAC trails the artefact, so wasmtime maps the entry straight from the page cache:
//! no copy of the code, and the guest's initial memory mapped from the file too.
//!
//! Anything wrong with an entry makes the host compile again, overwrite it, and say so.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::engine::CacheDir;
use crate::mapped::Mapped;

/// Bumped when the layout of entries changes, so old entries are simply not found.
const FORMAT: &str = "v3";
/// After wasmtime's artefact: this, then the 32-byte MAC.
const MAGIC: &[u8; 8] = b"khcache3";
const MAC_BYTES: usize = 32;
const KEY_BYTES: usize = 32;

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    key_file: Option<PathBuf>,
    engine_key: String,
}

/// What a lookup found.
pub(crate) enum Lookup {
    Hit(Component),
    Miss,
    /// An entry was there but could not be trusted; it will be rebuilt.
    Refused(String),
    /// The cache itself cannot be trusted (its directory or key); it is not used.
    Unusable(String),
}

impl CompileCache {
    pub(crate) fn new(engine: &wasmtime::Engine, dir: CacheDir) -> CompileCache {
        let (dir, key_file) = match dir {
            CacheDir::User => (
                dirs::cache_dir().map(|d| d.join("kubectl-hooks").join("policies")),
                dirs::state_dir()
                    .or_else(dirs::data_local_dir)
                    .map(|d| d.join("kubectl-hooks").join("cache.key")),
            ),
            CacheDir::At(dir) => {
                // Beside the directory, not in it: whoever may write the cache must not
                // thereby be able to read or replace the key.
                let mut key = dir.clone().into_os_string();
                key.push(".key");
                (Some(dir), Some(PathBuf::from(key)))
            }
            CacheDir::Disabled => (None, None),
        };
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        CompileCache {
            dir: dir.filter(|_| key_file.is_some()),
            key_file,
            engine_key,
        }
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn entry(&self, wasm_sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{wasm_sha256}-{}-{FORMAT}.cwasm", self.engine_key)))
    }

    /// The MAC of an entry for the component with `wasm_sha256` holding `artefact`:
    /// BLAKE3 in its keyed mode, which is a MAC by design.
    fn mac(&self, key: &[u8; KEY_BYTES], wasm_sha256: &str, artefact: &[u8]) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(key);
        for part in [FORMAT, self.engine_key.as_str(), wasm_sha256] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(artefact);
        mac.finalize()
    }

    pub(crate) fn lookup(&self, engine: &wasmtime::Engine, wasm_sha256: &str) -> Lookup {
        let (Some(dir), Some(path)) = (&self.dir, self.entry(wasm_sha256)) else {
            return Lookup::Miss;
        };
        match std::fs::metadata(dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Unusable(format!("cannot read `{}`: {e}", dir.display())),
        }
        if let Err(reason) = private(dir, 0o022) {
            return Lookup::Unusable(reason);
        }
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Refused(format!("cannot read `{}`: {e}", path.display())),
        };
        let checked = match own_entry(&file, &path) {
            Ok(checked) => checked,
            Err(reason) => return Lookup::Refused(reason),
        };
        let key = match self.key(false) {
            Ok(Some(key)) => key,
            // An entry without a key to check it by is a stranger's.
            Ok(None) => {
                return Lookup::Refused(format!("`{}` has no key to check it by", path.display()));
            }
            Err(reason) => return Lookup::Unusable(reason),
        };
        let Some(entry) = Mapped::new(&file) else {
            return Lookup::Refused(format!("`{}` is empty or cannot be mapped", path.display()));
        };
        let Some((artefact, trailer)) = entry
            .len()
            .checked_sub(MAGIC.len() + MAC_BYTES)
            .map(|at| entry.split_at(at))
        else {
            return Lookup::Refused(format!("`{}` is truncated", path.display()));
        };
        let (magic, mac) = trailer.split_at(MAGIC.len());
        // `blake3::Hash` compares in constant time.
        if magic != MAGIC
            || <[u8; MAC_BYTES]>::try_from(mac)
                .ok()
                .map(blake3::Hash::from_bytes)
                != Some(self.mac(&key, wasm_sha256, artefact))
        {
            return Lookup::Refused(format!(
                "`{}` is not this user's compilation of the policy (its MAC does not match)",
                path.display()
            ));
        }
        drop(entry);
        match deserialize_authenticated(engine, &path, &checked) {
            Ok(component) => Lookup::Hit(component),
            Err(e) => Lookup::Refused(format!("`{}` is stale: {e:#}", path.display())),
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
        create_private_dir(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        private(dir, 0o022)?;
        let key = self.key(true)?.ok_or("no cache key")?;
        let mac = self.mac(&key, wasm_sha256, compiled);
        let write = || -> std::io::Result<()> {
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            file.write_all(compiled)?;
            file.write_all(MAGIC)?;
            file.write_all(mac.as_bytes())?;
            file.as_file().sync_data()?;
            file.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }

    /// The per-user key; created (0600, in a 0700 directory) when `create` and missing.
    fn key(&self, create: bool) -> Result<Option<[u8; KEY_BYTES]>, String> {
        let Some(file) = &self.key_file else {
            return Ok(None);
        };
        match std::fs::read(file) {
            Ok(key) => {
                private(file, 0o077)?;
                let Ok(key) = <[u8; KEY_BYTES]>::try_from(key) else {
                    return Err(format!(
                        "the compile cache's key `{}` is not {KEY_BYTES} bytes; delete it to make a new one",
                        file.display()
                    ));
                };
                Ok(Some(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; KEY_BYTES];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
                let made = (|| -> std::io::Result<()> {
                    if let Some(parent) = file.parent() {
                        create_private_dir(parent)?;
                    }
                    let mut out = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(file)?;
                    out.write_all(&key)?;
                    out.sync_data()
                })();
                match made {
                    Ok(()) => Ok(Some(key)),
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.key(false),
                    Err(e) => Err(format!(
                        "cannot create the compile cache's key `{}`: {e}",
                        file.display()
                    )),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "cannot read the compile cache's key `{}`: {e}",
                file.display()
            )),
        }
    }

    /// The path an entry for these bytes would have; for tests and `policy inspect`.
    pub(crate) fn entry_path(&self, wasm_sha256: &str) -> Option<PathBuf> {
        self.entry(wasm_sha256)
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Refuses `path` unless this user owns it and none of the `forbidden` mode bits are set
/// (group or other write for a directory, any access for the key).
fn private(path: &Path, forbidden: u32) -> Result<(), String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "`{}` belongs to another user (uid {}), so it is not trusted; remove it or point `KUBECTL_HOOKS_CACHE_DIR` elsewhere",
            path.display(),
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & forbidden != 0 {
        return Err(format!(
            "`{}` has mode {mode:03o}, open to other users, so it is not trusted; run `chmod go-rwx {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

/// Refuses an entry unless it is a regular file this user owns and nobody else may write
/// (entries are written 0600): checked on the open file, the one whose MAC is checked.
/// Returns what was checked, to tell the file again by.
fn own_entry(file: &std::fs::File, path: &Path) -> Result<std::fs::Metadata, String> {
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != me || meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "`{}` is not a file that only this user may write",
            path.display()
        ));
    }
    Ok(meta)
}

/// Deserialising compiled code is `unsafe` because wasmtime trusts the bytes to be its own
/// output: arbitrary bytes could be arbitrary machine code. It is sound here because the
/// MAC of the entry's contents has just been checked with this user's key: they are what
/// [`CompileCache::store`] wrote from wasmtime's own `serialize` of a component compiled
/// from exactly the bytes whose sha256 the MAC covers. Nobody but this user may write the
/// file or its directory (checked), so wasmtime maps what was checked, and the path must
/// still name the file that was `checked` once mapped. wasmtime itself rejects artefacts
/// of another version or configuration, and ignores the trailer.
#[allow(unsafe_code)]
fn deserialize_authenticated(
    engine: &wasmtime::Engine,
    path: &Path,
    checked: &std::fs::Metadata,
) -> wasmtime::Result<Component> {
    // SAFETY: see above: our own output, authenticated by MAC, writable only by us.
    let component = unsafe { Component::deserialize_file(engine, path)? };
    let mapped = std::fs::metadata(path)?;
    if (checked.dev(), checked.ino()) != (mapped.dev(), mapped.ino()) {
        wasmtime::bail!("it was replaced while it was being loaded");
    }
    Ok(component)
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
