//! The policy configuration file (`--policy-config`), and `--policy FILE.wasm`.
//!
//! ```yaml
//! apiVersion: kubectl-hooks.dev/v1alpha1
//! kind: PolicyConfig
//! policies:
//!   - name: deny-privileged
//!     path: policies/deny_privileged.wasm   # relative to this file
//!     sha256: "…"                           # optional pin
//!     events: [pre-install, pre-upgrade]    # optional; default all events
//!     settings: {}                          # any YAML; given to the guest as JSON
//!     regoFile: deny.rego                   # optional, for the `rego` policy: read
//!                                           # (relative to this file) into settings.policy
//!     failurePolicy: Fail                   # or Ignore
//!     maxHookTimeout: 10m                   # optional: the longest hook timeout a
//!                                           # mutator may set; none when absent
//!     limits: {memoryMiB: 64, timeoutMs: 1000, fuel: null}  # and more: see `Limits`
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
#[cfg(feature = "runtime")]
use std::sync::Arc;
use std::time::Duration;

use hooks_plan::Event;
use serde::Deserialize;
use serde_json::Value;

use serde::Serialize;

use crate::limits::MIB;
#[cfg(feature = "runtime")]
use crate::{ConfiguredPolicy, Policy, PolicyEngine};
use crate::{Limits, SandboxError};

/// What happens to the event when a policy fails (traps, times out, hits a limit, breaks
/// the contract or returns `err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum FailurePolicy {
    /// The event fails: nothing is applied.
    #[default]
    Fail,
    /// The failure is reported as a warning and the event goes on without that answer.
    Ignore,
}

pub const CONFIG_API_VERSION: &str = "kubectl-hooks.dev/v1alpha1";
pub const CONFIG_KIND: &str = "PolicyConfig";

/// Generous upper bounds: beyond them a value is a typo, not a need.
const MAX_MEMORY_MIB: u64 = 4096;
const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;
/// The most `maxHookTimeout` may say: a day.
const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// One policy to load, from a configuration file or from `--policy`.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub name: String,
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub events: Option<Vec<Event>>,
    pub settings: Value,
    pub failure_policy: FailurePolicy,
    pub limits: Limits,
    /// The longest `kubectl-hooks.dev/timeout` the policy's patches may set; without
    /// one, a patch that sets or changes a hook's timeout is refused.
    pub max_hook_timeout: Option<Duration>,
}

impl PolicySpec {
    /// `--policy FILE.wasm`: every event, settings `{}`, default limits, `Fail`. Named
    /// after the file, `_` read as `-` (`deny_privileged.wasm` → `deny-privileged`),
    /// because that is how cargo names the artifact of a `deny-privileged` crate.
    pub fn from_wasm(path: impl Into<PathBuf>) -> PolicySpec {
        let path = path.into();
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().replace('_', "-"),
        );
        PolicySpec {
            name,
            path,
            sha256: None,
            events: None,
            settings: Value::Object(Default::default()),
            failure_policy: FailurePolicy::Fail,
            limits: Limits::default(),
            max_hook_timeout: None,
        }
    }

    #[cfg(feature = "runtime")]
    pub fn load(&self, engine: &PolicyEngine) -> Result<ConfiguredPolicy, SandboxError> {
        if self.limits.fuel.is_some() && !engine.fuel_enabled() {
            return Err(SandboxError::Host {
                policy: self.name.clone(),
                message: "`limits.fuel` needs an engine created with fuel metering".into(),
            });
        }
        let policy = Policy::load_pinned(
            engine,
            &self.name,
            self.path.as_path(),
            self.limits,
            self.sha256.as_deref(),
        )?;
        Ok(ConfiguredPolicy {
            policy: Arc::new(policy),
            events: self.events.clone(),
            settings: self.settings.to_string(),
            failure_policy: self.failure_policy,
            max_hook_timeout: self.max_hook_timeout,
        })
    }
}

/// Loads every policy of `specs`. One that is configured `failurePolicy: Ignore` and
/// cannot run for a reason of its own (a limit it breaks by its shape, a contract it does
/// not meet) is left out, with the decision that says so; a missing, unreadable or
/// mismatched file is the user's to fix and fails whatever the policy says.
#[cfg(feature = "runtime")]
pub fn load_policies(
    engine: &PolicyEngine,
    specs: &[PolicySpec],
) -> Result<(Vec<ConfiguredPolicy>, Vec<crate::Decision>), SandboxError> {
    let mut loaded = Vec::with_capacity(specs.len());
    let mut ignored = Vec::new();
    for spec in specs {
        match spec.load(engine) {
            Ok(policy) => loaded.push(policy),
            Err(error)
                if spec.failure_policy == FailurePolicy::Ignore
                    && !matches!(
                        error,
                        SandboxError::Read { .. }
                            | SandboxError::NotWasm { .. }
                            | SandboxError::DigestMismatch { .. }
                            | SandboxError::Host { .. }
                    ) =>
            {
                ignored.push(crate::Decision::IgnoredFailure {
                    policy: spec.name.clone(),
                    role: None,
                    error: error.to_string(),
                });
            }
            Err(error) => return Err(error),
        }
    }
    Ok((loaded, ignored))
}

/// A parsed, validated configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    pub file: PathBuf,
    pub policies: Vec<PolicySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    policies: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: Option<String>,
    path: Option<String>,
    sha256: Option<String>,
    events: Option<Vec<String>>,
    settings: Option<Value>,
    rego_file: Option<String>,
    failure_policy: Option<String>,
    max_hook_timeout: Option<Value>,
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimits {
    #[serde(rename = "memoryMiB")]
    memory_mib: Option<u64>,
    timeout_ms: Option<u64>,
    fuel: Option<u64>,
    memories: Option<u64>,
    tables: Option<u64>,
    #[serde(rename = "outputMiB")]
    output_mib: Option<u64>,
    answer_items: Option<u64>,
    string_bytes: Option<u64>,
    #[serde(rename = "patchKiB")]
    patch_kib: Option<u64>,
    json_nodes: Option<u64>,
    json_depth: Option<u64>,
    log_messages: Option<u64>,
    log_bytes: Option<u64>,
    #[serde(rename = "stdioKiB")]
    stdio_kib: Option<u64>,
    diff_lines: Option<u64>,
}

impl PolicyConfig {
    pub fn from_file(file: &Path) -> Result<PolicyConfig, SandboxError> {
        let text = std::fs::read_to_string(file).map_err(|source| SandboxError::ConfigRead {
            file: file.to_owned(),
            source,
        })?;
        PolicyConfig::parse(file, &text)
    }

    /// Parses `text` as if read from `file` (relative policy paths are resolved against
    /// the file's directory).
    pub fn parse(file: &Path, text: &str) -> Result<PolicyConfig, SandboxError> {
        let error = |policy: Option<&str>, message: String| SandboxError::Config {
            file: file.to_owned(),
            policy: policy.map(str::to_owned),
            message,
        };
        let raw: RawConfig =
            serde_saphyr::from_str(text).map_err(|e| error(None, e.to_string()))?;
        match raw.api_version.as_deref() {
            Some(CONFIG_API_VERSION) => {}
            Some(other) => {
                return Err(error(
                    None,
                    format!("apiVersion is `{other}`; expected `{CONFIG_API_VERSION}`"),
                ));
            }
            None => {
                return Err(error(
                    None,
                    format!("missing apiVersion (`{CONFIG_API_VERSION}`)"),
                ));
            }
        }
        match raw.kind.as_deref() {
            Some(CONFIG_KIND) => {}
            Some(other) => {
                return Err(error(
                    None,
                    format!("kind is `{other}`; expected `{CONFIG_KIND}`"),
                ));
            }
            None => return Err(error(None, format!("missing kind (`{CONFIG_KIND}`)"))),
        }
        let base = file.parent().unwrap_or(Path::new(""));
        let mut names = HashSet::new();
        let mut policies = Vec::with_capacity(raw.policies.len());
        for (index, value) in raw.policies.into_iter().enumerate() {
            // Named as soon as possible, so every later error can say which policy.
            let label = value
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{}", index + 1), str::to_owned);
            let policy_error = |message: String| error(Some(&label), message);
            let raw: RawPolicy =
                serde_json::from_value(value).map_err(|e| policy_error(e.to_string()))?;
            let name = match raw.name {
                Some(name) if !name.trim().is_empty() => name,
                _ => return Err(policy_error("missing `name`".into())),
            };
            if !names.insert(name.clone()) {
                return Err(policy_error(
                    "duplicate name: another policy in this file has it".into(),
                ));
            }
            let path = match raw.path {
                Some(path) if !path.trim().is_empty() => base.join(path),
                _ => {
                    return Err(policy_error(
                        "missing `path` (the policy's .wasm file)".into(),
                    ));
                }
            };
            let sha256 = raw
                .sha256
                .map(|pin| {
                    let pin = pin.trim().to_ascii_lowercase();
                    if pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit()) {
                        Ok(pin)
                    } else {
                        Err(policy_error(format!(
                            "`sha256` must be 64 hex digits, not `{pin}`"
                        )))
                    }
                })
                .transpose()?;
            let events = raw
                .events
                .map(|events| {
                    events
                        .iter()
                        .map(|e| {
                            e.parse::<Event>().map_err(|_| {
                                policy_error(format!(
                                    "unknown event `{e}` in `events`; use: {}",
                                    Event::ALL.map(|e| e.as_str()).join(", ")
                                ))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            let failure_policy = match raw.failure_policy.as_deref() {
                None | Some("Fail") => FailurePolicy::Fail,
                Some("Ignore") => FailurePolicy::Ignore,
                Some(other) => {
                    return Err(policy_error(format!(
                        "failurePolicy is `{other}`; use `Fail` or `Ignore`"
                    )));
                }
            };
            let limits = limits(raw.limits).map_err(policy_error)?;
            let max_hook_timeout = raw
                .max_hook_timeout
                .map(|value| max_hook_timeout(&value))
                .transpose()
                .map_err(policy_error)?;
            let mut settings = raw
                .settings
                .unwrap_or_else(|| Value::Object(Default::default()));
            if let Some(rego) = raw.rego_file {
                // The `rego` policy evaluates the Rego text in `settings.policy`; a
                // `.rego` file beside the configuration is how people keep it.
                let rego = base.join(rego);
                let text = std::fs::read_to_string(&rego).map_err(|e| {
                    policy_error(format!("cannot read `regoFile` `{}`: {e}", rego.display()))
                })?;
                let Value::Object(map) = &mut settings else {
                    return Err(policy_error(
                        "`regoFile` needs `settings` to be a mapping".into(),
                    ));
                };
                if map.contains_key("policy") {
                    return Err(policy_error(
                        "give the Rego policy either as `regoFile` or as `settings.policy`, not both".into(),
                    ));
                }
                map.insert("policy".into(), Value::String(text));
            }
            policies.push(PolicySpec {
                name,
                path,
                sha256,
                events,
                settings,
                failure_policy,
                limits,
                max_hook_timeout,
            });
        }
        Ok(PolicyConfig {
            file: file.to_owned(),
            policies,
        })
    }

    /// Whether any policy asks for a fuel limit (the engine must then meter fuel).
    pub fn needs_fuel(&self) -> bool {
        self.policies.iter().any(|p| p.limits.fuel.is_some())
    }
}

/// `maxHookTimeout: 10m`: a duration as the timeout annotation takes it, within reason.
fn max_hook_timeout(value: &Value) -> Result<Duration, String> {
    let wrong = || {
        format!(
            "`maxHookTimeout` must be a duration such as `10m` or `1h30m` (at most {}), not {}",
            hooks_plan::format_duration(MAX_HOOK_TIMEOUT),
            hooks_plan::escape_bounded(&value.to_string(), 64)
        )
    };
    let duration = value
        .as_str()
        .and_then(|text| hooks_plan::parse_timeout(text).ok())
        .ok_or_else(wrong)?;
    if duration > MAX_HOOK_TIMEOUT {
        return Err(wrong());
    }
    Ok(duration)
}

fn limits(raw: Option<RawLimits>) -> Result<Limits, String> {
    let mut limits = Limits::default();
    let Some(raw) = raw else {
        return Ok(limits);
    };
    /// A value within `range`, scaled to the unit the host counts in.
    fn within(
        key: &str,
        value: Option<u64>,
        range: std::ops::RangeInclusive<u64>,
        scale: u64,
    ) -> Result<Option<usize>, String> {
        match value {
            None => Ok(None),
            Some(v) if range.contains(&v) => {
                Ok(Some(usize::try_from(v * scale).unwrap_or(usize::MAX)))
            }
            Some(v) => Err(format!(
                "limits.{key} must be {}…{}, not {v}",
                range.start(),
                range.end()
            )),
        }
    }
    if let Some(bytes) = within("memoryMiB", raw.memory_mib, 1..=MAX_MEMORY_MIB, MIB)? {
        limits.memory_bytes = bytes as u64;
    }
    if let Some(ms) = within("timeoutMs", raw.timeout_ms, 1..=MAX_TIMEOUT_MS, 1)? {
        limits.timeout = Duration::from_millis(ms as u64);
    }
    if let Some(fuel) = raw.fuel {
        if fuel == 0 {
            return Err("limits.fuel must be positive (or null for no fuel limit)".into());
        }
        limits.fuel = Some(fuel);
    }
    let set = |target: &mut usize, value: Option<usize>| {
        if let Some(value) = value {
            *target = value;
        }
    };
    // Memories and tables are bounded by the instance pool's slots too.
    if let Some(n) = within(
        "memories",
        raw.memories,
        1..=crate::limits::MEMORIES_PER_MODULE,
        1,
    )? {
        limits.memories = n as u32;
    }
    if let Some(n) = within(
        "tables",
        raw.tables,
        1..=crate::limits::TABLES_PER_MODULE,
        1,
    )? {
        limits.tables = n as u32;
    }
    set(
        &mut limits.output_bytes,
        within("outputMiB", raw.output_mib, 1..=1024, MIB)?,
    );
    set(
        &mut limits.answer_items,
        within("answerItems", raw.answer_items, 1..=1_000_000, 1)?,
    );
    set(
        &mut limits.string_bytes,
        within("stringBytes", raw.string_bytes, 64..=1 << 20, 1)?,
    );
    set(
        &mut limits.patch_bytes,
        within("patchKiB", raw.patch_kib, 1..=64 * 1024, 1024)?,
    );
    set(
        &mut limits.json_nodes,
        within("jsonNodes", raw.json_nodes, 1..=10_000_000, 1)?,
    );
    // serde_json refuses deeper nesting whatever this says.
    set(
        &mut limits.json_depth,
        within("jsonDepth", raw.json_depth, 1..=128, 1)?,
    );
    set(
        &mut limits.log_messages,
        within("logMessages", raw.log_messages, 0..=100_000, 1)?,
    );
    set(
        &mut limits.log_bytes,
        within("logBytes", raw.log_bytes, 64..=1 << 20, 1)?,
    );
    set(
        &mut limits.stdio_bytes,
        within("stdioKiB", raw.stdio_kib, 0..=64 * 1024, 1024)?,
    );
    set(
        &mut limits.diff_lines,
        within("diffLines", raw.diff_lines, 0..=1_000_000, 1)?,
    );
    Ok(limits)
}

/// Checks that policies from several sources (config files, `--policy`) have distinct
/// names, so that every decision and error points at one of them.
pub fn check_unique_names(specs: &[PolicySpec]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for spec in specs {
        if !seen.insert(spec.name.as_str()) {
            return Err(format!(
                "two policies are named `{}`; names must be unique (rename one in the configuration, or rename the file given to --policy)",
                spec.name
            ));
        }
    }
    Ok(())
}
