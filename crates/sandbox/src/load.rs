//! Loading a policy: read, recognise, pin-check, compile (or fetch from the cache),
//! inspect its exports and imports, and pre-instantiate it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use crate::cache::Lookup;
use crate::engine::{PolicyEngine, State};
use crate::limits::Limit;
use crate::mapped::Mapped;
use crate::role::{CONTRACT_PACKAGE, Contract};
use crate::{Limits, Role, SandboxError};

/// Where a policy's bytes come from.
#[derive(Debug, Clone)]
pub enum Source {
    Path(PathBuf),
    /// Bytes already in memory; `label` names them in errors.
    Bytes {
        label: String,
        bytes: Vec<u8>,
    },
}

impl From<PathBuf> for Source {
    fn from(path: PathBuf) -> Source {
        Source::Path(path)
    }
}

impl From<&Path> for Source {
    fn from(path: &Path) -> Source {
        Source::Path(path.to_owned())
    }
}

impl Source {
    fn origin(&self) -> String {
        match self {
            Source::Path(path) => path.display().to_string(),
            Source::Bytes { label, .. } => label.clone(),
        }
    }
}

/// How the compiled code was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compilation {
    /// Compiling, or reading and verifying the cache entry.
    #[serde(serialize_with = "micros")]
    pub duration: Duration,
    pub from_cache: bool,
    /// A cache entry was found but refused (not authenticated, truncated, stale) and
    /// rebuilt: why.
    pub rebuilt: Option<String>,
    /// The cache could not be written; the policy works, the next run compiles again.
    pub cache_warning: Option<String>,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// What a policy is, as `policy inspect` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    pub name: String,
    pub origin: String,
    pub size: usize,
    pub sha256: String,
    pub roles: Vec<Role>,
    /// The newest contract version any of its roles was built against.
    pub contract_version: String,
    /// The contract version of each role, in the order of `roles`: a component may mix
    /// roles built against 0.1.0 and 0.2.0.
    pub role_contracts: Vec<Contract>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub compilation: Compilation,
}

/// A loaded, verified, pre-instantiated policy. Every call gets a fresh instance.
pub struct Policy {
    pub(crate) info: PolicyInfo,
    pub(crate) limits: Limits,
    pub(crate) engine: PolicyEngine,
    pub(crate) pre: InstancePre<State>,
    pub(crate) exports: Exports,
}

/// Where each role's function is among the component's exports, and the contract it was
/// built against, found once at load.
#[derive(Debug, Default)]
pub(crate) struct Exports {
    mutate: Option<(ComponentExportIndex, Contract)>,
    order: Option<(ComponentExportIndex, Contract)>,
    validate: Option<(ComponentExportIndex, Contract)>,
}

impl Exports {
    fn slot(&self, role: Role) -> Option<&(ComponentExportIndex, Contract)> {
        match role {
            Role::Mutate => self.mutate.as_ref(),
            Role::Order => self.order.as_ref(),
            Role::Validate => self.validate.as_ref(),
        }
    }

    pub(crate) fn get(&self, role: Role) -> Option<&ComponentExportIndex> {
        self.slot(role).map(|(index, _)| index)
    }

    pub(crate) fn contract(&self, role: Role) -> Option<Contract> {
        self.slot(role).map(|(_, contract)| *contract)
    }

    fn set(&mut self, role: Role, index: ComponentExportIndex, contract: Contract) {
        *match role {
            Role::Mutate => &mut self.mutate,
            Role::Order => &mut self.order,
            Role::Validate => &mut self.validate,
        } = Some((index, contract));
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("info", &self.info)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads a policy. `name` is how errors, logs and decisions refer to it.
    pub fn load(
        engine: &PolicyEngine,
        name: impl Into<String>,
        source: impl Into<Source>,
        limits: Limits,
    ) -> Result<Policy, SandboxError> {
        Policy::load_pinned(engine, name, source, limits, None)
    }

    /// [`Policy::load`], refusing the bytes unless their sha256 is `pin` (hex, any case).
    pub fn load_pinned(
        engine: &PolicyEngine,
        name: impl Into<String>,
        source: impl Into<Source>,
        limits: Limits,
        pin: Option<&str>,
    ) -> Result<Policy, SandboxError> {
        let policy = name.into();
        let source = source.into();
        let origin = source.origin();
        let bytes = match source {
            Source::Path(path) => {
                PolicyBytes::open(&path).map_err(|source| SandboxError::Read {
                    policy: policy.clone(),
                    path,
                    source,
                })?
            }
            Source::Bytes { bytes, .. } => PolicyBytes::Owned(bytes),
        };
        recognise(&bytes, &policy, &origin)?;
        let sha256 = hex::encode(Sha256::digest(&*bytes));
        if let Some(pin) = pin
            && !pin.trim().eq_ignore_ascii_case(&sha256)
        {
            return Err(SandboxError::DigestMismatch {
                policy,
                origin,
                expected: pin.trim().to_ascii_lowercase(),
                actual: sha256,
            });
        }
        let (component, compilation) = compile(engine, &bytes, &sha256, pin, &policy, &origin)?;
        check_structure(&component, &limits, &policy, &origin)?;
        let wasmtime = &engine.inner.engine;
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(wasmtime).map(|(n, _)| n.to_owned()).collect();
        let imports: Vec<String> = ty.imports(wasmtime).map(|(n, _)| n.to_owned()).collect();

        let incompatible = |message: String| SandboxError::Incompatible {
            policy: policy.clone(),
            origin: origin.clone(),
            message,
        };
        // Roles are recognised by their export's name, in any version the host speaks.
        let mut found: Vec<(Role, Contract)> = Vec::new();
        for role in Role::ALL {
            let versions: Vec<Contract> = Contract::ALL
                .into_iter()
                .filter(|&c| exports.contains(&role.export_name(c)))
                .collect();
            match versions[..] {
                [] => {}
                [contract] => found.push((role, contract)),
                _ => {
                    return Err(incompatible(format!(
                        "it exports `{role}` in more than one contract version ({}); export it once",
                        versions
                            .iter()
                            .map(|c| format!("@{}", c.version()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        let roles: Vec<Role> = found.iter().map(|(role, _)| *role).collect();
        if roles.is_empty()
            && let Some(found) = exports.iter().find_map(|e| contract_version(e))
        {
            return Err(SandboxError::ContractVersion {
                policy,
                origin,
                found: found.to_owned(),
            });
        }
        let missing: Vec<String> = imports.iter().filter(|i| !provided(i)).cloned().collect();
        if !missing.is_empty() {
            return Err(SandboxError::MissingImports {
                policy,
                origin,
                imports: missing,
            });
        }
        if roles.is_empty() {
            return Err(SandboxError::NoRole {
                policy,
                origin,
                exports,
            });
        }

        let pre = engine
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| incompatible(format!("{e:#}")))?;
        let mut functions = Exports::default();
        for &(role, contract) in &found {
            let index = component
                .get_export_index(None, role.export_name(contract))
                .and_then(|interface| component.get_export(Some(&interface), role.as_str()))
                .and_then(|(item, index)| {
                    matches!(
                        item,
                        wasmtime::component::types::ComponentItem::ComponentFunc(_)
                    )
                    .then_some(index)
                })
                .ok_or_else(|| {
                    incompatible(format!(
                        "`{}` has no function `{}`",
                        role.export_name(contract),
                        role.as_str()
                    ))
                })?;
            functions.set(role, index, contract);
        }
        let role_contracts: Vec<Contract> = found.iter().map(|(_, c)| *c).collect();
        let newest = role_contracts
            .iter()
            .max()
            .copied()
            .unwrap_or(Contract::V0_1);

        Ok(Policy {
            info: PolicyInfo {
                name: policy,
                origin,
                size: bytes.len(),
                sha256,
                roles,
                contract_version: newest.version().to_owned(),
                role_contracts,
                imports,
                exports,
                compilation,
            },
            limits,
            engine: engine.clone(),
            pre,
            exports: functions,
        })
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn roles(&self) -> &[Role] {
        &self.info.roles
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.info.roles.contains(&role)
    }

    /// The contract version `role` was built against, if the policy has the role.
    pub fn contract(&self, role: Role) -> Option<Contract> {
        self.exports.contract(role)
    }
}

/// Refuses, before anything of it runs, a component with more linear memories or tables
/// than `limits` allow: each costs the host a reservation, whatever its size.
fn check_structure(
    component: &Component,
    limits: &Limits,
    policy: &str,
    origin: &str,
) -> Result<(), SandboxError> {
    let structure = |limit, size: u32, max: u32| SandboxError::Structure {
        policy: policy.to_owned(),
        origin: origin.to_owned(),
        limit,
        size,
        max,
    };
    let required = component
        .resources_required()
        .ok_or_else(|| SandboxError::Incompatible {
            policy: policy.to_owned(),
            origin: origin.to_owned(),
            message: "it imports core modules, which no policy can be given".into(),
        })?;
    if required.num_memories > limits.memories {
        return Err(structure(
            Limit::Memories,
            required.num_memories,
            limits.memories,
        ));
    }
    if required.num_tables > limits.tables {
        return Err(structure(Limit::Tables, required.num_tables, limits.tables));
    }
    Ok(())
}

/// Whether any component in `bytes` (nested ones included) creates handles of a resource
/// type of its own (`resource.new`). The contract has no resource types, and a guest
/// minting handles of its own in a loop makes the host's handle table grow without bound,
/// outside any memory cap. The bytes have been validated by compiling them, so
/// a parse error here cannot happen; it is treated as "yes", failing closed.
fn defines_resources(bytes: &[u8]) -> bool {
    use wasmparser::{CanonicalFunction, Parser, Payload};
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ComponentCanonicalSection(section)) => {
                for function in section {
                    match function {
                        Ok(CanonicalFunction::ResourceNew { .. }) => return true,
                        Ok(_) => {}
                        Err(_) => return true,
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Tells WebAssembly components from core modules and from anything else, by the
/// preamble: `\0asm`, then a version and a layer (1 for components, 0 for modules).
fn recognise(bytes: &[u8], policy: &str, origin: &str) -> Result<(), SandboxError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SandboxError::NotWasm {
            policy: policy.to_owned(),
            origin: origin.to_owned(),
        });
    }
    if bytes[6..8] == [0, 0] {
        return Err(SandboxError::CoreModule {
            policy: policy.to_owned(),
            origin: origin.to_owned(),
        });
    }
    Ok(())
}

fn compile(
    engine: &PolicyEngine,
    bytes: &PolicyBytes,
    sha256: &str,
    pin: Option<&str>,
    policy: &str,
    origin: &str,
) -> Result<(Component, Compilation), SandboxError> {
    let wasmtime = &engine.inner.engine;
    let cache = &engine.inner.cache;
    let started = Instant::now();
    let (rebuilt, unusable) = match cache.lookup(wasmtime, sha256) {
        Lookup::Hit(component) => {
            return Ok((
                component,
                Compilation {
                    duration: started.elapsed(),
                    from_cache: true,
                    rebuilt: None,
                    cache_warning: None,
                },
            ));
        }
        Lookup::Miss => (None, None),
        Lookup::Refused(reason) => (Some(reason), None),
        Lookup::Unusable(reason) => (None, Some(reason)),
    };
    // What is compiled (and cached under `sha256`) must be what was hashed.
    let Some(bytes) = bytes.stable(sha256) else {
        return Err(SandboxError::Changed {
            policy: policy.to_owned(),
            origin: origin.to_owned(),
            pinned: pin.is_some(),
        });
    };
    let bytes = &*bytes;
    let component = Component::new(wasmtime, bytes).map_err(|e| SandboxError::Compile {
        policy: policy.to_owned(),
        origin: origin.to_owned(),
        message: format!("{e:#}"),
    })?;
    // Checked before the artefact is cached, so that an entry (authenticated as compiled
    // from exactly these bytes) stands for bytes that passed.
    if defines_resources(bytes) {
        return Err(SandboxError::OwnResources {
            policy: policy.to_owned(),
            origin: origin.to_owned(),
        });
    }
    let duration = started.elapsed();
    let cache_warning = match unusable {
        Some(reason) => Some(format!("the compile cache is not used: {reason}")),
        None if cache.dir().is_some() => match component.serialize() {
            Ok(compiled) => cache.store(sha256, &compiled).err(),
            Err(e) => Some(format!("cannot serialise the compiled policy: {e:#}")),
        },
        None => None,
    };
    Ok((
        component,
        Compilation {
            duration,
            from_cache: false,
            rebuilt,
            cache_warning,
        },
    ))
}

/// A policy's bytes: mapped from its file (hashing them is all a cached policy needs),
/// or in memory.
enum PolicyBytes {
    Mapped(Mapped),
    Owned(Vec<u8>),
}

impl PolicyBytes {
    fn open(path: &Path) -> std::io::Result<PolicyBytes> {
        let file = std::fs::File::open(path)?;
        match Mapped::new(&file) {
            Some(mapped) => Ok(PolicyBytes::Mapped(mapped)),
            // Empty, a pipe, a file that will not map: read it.
            None => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut &file, &mut bytes)?;
                Ok(PolicyBytes::Owned(bytes))
            }
        }
    }

    /// Bytes nobody else can change from here on, still those that hashed to `sha256`: a
    /// copy of a mapped file, hashed again (`None` if the file changed since), or the
    /// bytes in memory as they are.
    fn stable(&self, sha256: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            PolicyBytes::Mapped(mapped) => {
                let copy = mapped.to_vec();
                (hex::encode(Sha256::digest(&copy)) == sha256)
                    .then_some(std::borrow::Cow::Owned(copy))
            }
            PolicyBytes::Owned(bytes) => Some(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

impl std::ops::Deref for PolicyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            PolicyBytes::Mapped(mapped) => mapped,
            PolicyBytes::Owned(bytes) => bytes,
        }
    }
}

/// The version of a `kubectl-hooks:policy/…@X` export, if it is one.
fn contract_version(export: &str) -> Option<&str> {
    let rest = export.strip_prefix(CONTRACT_PACKAGE)?.strip_prefix('/')?;
    rest.split_once('@').map(|(_, version)| version)
}

/// WASI p2 interfaces the linker provides (from an empty context: they exist so that
/// std-based guests link, and give nothing away).
const WASI_P2: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// Whether the linker can satisfy an import. Wasmtime matches WASI 0.2.x imports to its
/// own 0.2 implementation by semver, so any 0.2 patch version is fine. The contract's
/// `host` and `types` are linked in every version the host speaks.
fn provided(import: &str) -> bool {
    let Some((interface, version)) = import.split_once('@') else {
        return false;
    };
    if interface.starts_with(CONTRACT_PACKAGE) {
        return Contract::from_version(version).is_some()
            && matches!(
                interface.strip_prefix(CONTRACT_PACKAGE),
                Some("/host" | "/types")
            );
    }
    WASI_P2.contains(&interface) && version.starts_with("0.2.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CacheDir, EngineOptions};

    /// Regression for hashing a mapped file: bytes that change after they were hashed
    /// (and checked against a pin) are never compiled under the old hash.
    #[test]
    fn a_policy_rewritten_after_it_was_hashed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.wasm");
        let original = b"\0asm\x0d\0\x01\0 a component's bytes, as far as hashing goes";
        std::fs::write(&path, original).unwrap();
        let bytes = PolicyBytes::open(&path).unwrap();
        assert!(matches!(bytes, PolicyBytes::Mapped(_)));
        let sha256 = hex::encode(Sha256::digest(&*bytes));
        // Rewritten in place, same length, as a writer racing the load would.
        let mut changed = original.to_vec();
        *changed.last_mut().unwrap() = b'!';
        std::fs::write(&path, &changed).unwrap();

        let engine = PolicyEngine::new(EngineOptions {
            cache: CacheDir::Disabled,
            ..EngineOptions::default()
        })
        .unwrap();
        let error = compile(&engine, &bytes, &sha256, Some(&sha256), "p", "policy.wasm")
            .expect_err("the changed bytes must not be compiled");
        assert!(
            matches!(error, SandboxError::Changed { pinned: true, .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("changed while it was being loaded")
        );
    }

    #[test]
    fn what_cannot_be_mapped_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.wasm");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            PolicyBytes::open(&empty).unwrap(),
            PolicyBytes::Owned(bytes) if bytes.is_empty()
        ));
        assert!(PolicyBytes::open(&dir.path().join("missing.wasm")).is_err());
    }
}
