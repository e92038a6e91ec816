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
//!     limits: {memoryMiB: 64, timeoutMs: 1000, fuel: null}
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hooks_plan::Event;
use serde::Deserialize;
use serde_json::Value;

use crate::limits::MIB;
use crate::{ConfiguredPolicy, FailurePolicy, Limits, Policy, PolicyEngine, SandboxError};

pub const CONFIG_API_VERSION: &str = "kubectl-hooks.dev/v1alpha1";
pub const CONFIG_KIND: &str = "PolicyConfig";

/// Generous upper bounds: beyond them a value is a typo, not a need.
const MAX_MEMORY_MIB: u64 = 4096;
const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;

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
        }
    }

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
        })
    }
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
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(rename = "memoryMiB")]
    memory_mib: Option<u64>,
    #[serde(rename = "timeoutMs")]
    timeout_ms: Option<u64>,
    fuel: Option<u64>,
    #[serde(rename = "outputMiB")]
    output_mib: Option<u64>,
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

fn limits(raw: Option<RawLimits>) -> Result<Limits, String> {
    let mut limits = Limits::default();
    let Some(raw) = raw else {
        return Ok(limits);
    };
    if let Some(mib) = raw.memory_mib {
        if mib == 0 || mib > MAX_MEMORY_MIB {
            return Err(format!(
                "limits.memoryMiB must be 1…{MAX_MEMORY_MIB}, not {mib}"
            ));
        }
        limits.memory_bytes = mib * MIB;
    }
    if let Some(ms) = raw.timeout_ms {
        if ms == 0 || ms > MAX_TIMEOUT_MS {
            return Err(format!(
                "limits.timeoutMs must be 1…{MAX_TIMEOUT_MS}, not {ms}"
            ));
        }
        limits.timeout = Duration::from_millis(ms);
    }
    if let Some(fuel) = raw.fuel {
        if fuel == 0 {
            return Err("limits.fuel must be positive (or null for no fuel limit)".into());
        }
        limits.fuel = Some(fuel);
    }
    if let Some(mib) = raw.output_mib {
        if mib == 0 || mib > MAX_MEMORY_MIB {
            return Err(format!(
                "limits.outputMiB must be 1…{MAX_MEMORY_MIB}, not {mib}"
            ));
        }
        limits.output_bytes = usize::try_from(mib * MIB).unwrap_or(usize::MAX);
    }
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
