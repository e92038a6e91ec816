use std::path::PathBuf;
use std::time::Duration;

use crate::Role;
use crate::limits::Limit;
use crate::role::{CONTRACT_VERSION, Contract};

/// Everything that stops loading, configuring or running a policy. Each variant names the
/// policy (and the file or hook it is about); [`SandboxError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("policy `{policy}`: cannot read `{}`", path.display())]
    Read {
        policy: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("policy `{policy}`: `{origin}` is not WebAssembly (it does not start with `\\0asm`)")]
    NotWasm { policy: String, origin: String },

    #[error("policy `{policy}`: `{origin}` is a core WebAssembly module, not a component")]
    CoreModule { policy: String, origin: String },

    #[error(
        "policy `{policy}`: `{origin}` was built against contract kubectl-hooks:policy@{found}, but this host speaks {}",
        Contract::spoken()
    )]
    ContractVersion {
        policy: String,
        origin: String,
        found: String,
    },

    #[error(
        "policy `{policy}`: `{origin}` implements no role: it exports none of kubectl-hooks:policy/mutate, /order or /validate ({})",
        Contract::spoken()
    )]
    NoRole {
        policy: String,
        origin: String,
        exports: Vec<String>,
    },

    #[error(
        "policy `{policy}`: `{origin}` imports what the sandbox does not provide: {}",
        imports.join(", ")
    )]
    MissingImports {
        policy: String,
        origin: String,
        imports: Vec<String>,
    },

    #[error("policy `{policy}`: `{origin}` does not match the contract: {message}")]
    Incompatible {
        policy: String,
        origin: String,
        message: String,
    },

    #[error("policy `{policy}`: `{origin}` is not a valid component: {message}")]
    Compile {
        policy: String,
        origin: String,
        message: String,
    },

    #[error(
        "policy `{policy}`: `{origin}` has sha256 {actual}, but the configuration pins {expected}"
    )]
    DigestMismatch {
        policy: String,
        origin: String,
        expected: String,
        actual: String,
    },

    #[error("policy `{policy}`: `{origin}` changed while it was being loaded{}", if *pinned { " (after its sha256 was checked against the pin)" } else { "" })]
    Changed {
        policy: String,
        origin: String,
        pinned: bool,
    },

    #[error("policy `{policy}`: {role} ran out of time (wall-clock cap of {} ms){}", limit.as_millis(), output_suffix(output))]
    Timeout {
        policy: String,
        role: Role,
        limit: Duration,
        output: String,
    },

    #[error("policy `{policy}`: {role} hit the memory cap of {} MiB{}", limit / MIB, output_suffix(output))]
    MemoryCap {
        policy: String,
        role: Role,
        limit: u64,
        output: String,
    },

    #[error(
        "policy `{policy}`: {role} ran out of fuel ({fuel} units){}",
        output_suffix(output)
    )]
    OutOfFuel {
        policy: String,
        role: Role,
        fuel: u64,
        output: String,
    },

    #[error(
        "policy `{policy}`: {role} trapped: {message}{}",
        output_suffix(output)
    )]
    Trap {
        policy: String,
        role: Role,
        message: String,
        output: String,
    },

    #[error("policy `{policy}`: {role} failed: {message}")]
    Guest {
        policy: String,
        role: Role,
        message: String,
    },

    #[error(
        "policy `{policy}`: {role} answered something the host refuses{}: {problem}",
        hook_suffix(hook)
    )]
    InvalidAnswer {
        policy: String,
        role: Role,
        hook: Option<String>,
        problem: String,
    },

    #[error(
        "policy `{policy}`: mutate sets the timeout of hook `{hook}` (`{}: {value}`), {}",
        hooks_plan::TIMEOUT_ANNOTATION,
        match max {
            Some(max) => format!("over its `maxHookTimeout` ({})", hooks_plan::format_duration(*max)),
            None => "but its configuration has no `maxHookTimeout`, so it may not set timeouts".into(),
        }
    )]
    HookTimeout {
        policy: String,
        hook: String,
        /// The annotation as the patch left it, quoted (or `(removed)`), escaped.
        value: String,
        /// The policy's `maxHookTimeout`, when it has one.
        max: Option<Duration>,
    },

    #[error(
        "policy `{policy}`: {role} answered {size} {}, over {limit} ({max})",
        limit.unit()
    )]
    Limit {
        policy: String,
        role: Role,
        limit: Limit,
        size: u64,
        max: u64,
    },

    #[error(
        "policy `{policy}`: `{origin}` declares {size} {}, over {limit} ({max})",
        limit.unit()
    )]
    Structure {
        policy: String,
        origin: String,
        limit: Limit,
        size: u32,
        max: u32,
    },

    #[error(
        "policy `{policy}`: `{origin}` defines resource types of its own, which the contract has none of"
    )]
    OwnResources { policy: String, origin: String },

    #[error("policy `{policy}`: the sandbox could not run it: {message}")]
    Host { policy: String, message: String },

    #[error("hook `{hook}`: cannot give its manifest to policies")]
    Manifest {
        hook: String,
        #[source]
        source: Box<hooks_plan::PlanError>,
    },

    #[error("{}: cannot read the policy configuration", file.display())]
    ConfigRead {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}{}: {message}", file.display(), policy_suffix(policy))]
    Config {
        file: PathBuf,
        policy: Option<String>,
        message: String,
    },
}

const MIB: u64 = 1024 * 1024;

fn output_suffix(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!("; it printed:\n{}", output.trim_end())
    }
}

fn hook_suffix(hook: &Option<String>) -> String {
    hook.as_ref()
        .map_or(String::new(), |h| format!(" about hook `{h}`"))
}

fn policy_suffix(policy: &Option<String>) -> String {
    policy
        .as_ref()
        .map_or(String::new(), |p| format!(": policy `{p}`"))
}

impl SandboxError {
    /// The policy the error is about, when there is one.
    pub fn policy(&self) -> Option<&str> {
        use SandboxError::*;
        match self {
            Read { policy, .. }
            | NotWasm { policy, .. }
            | CoreModule { policy, .. }
            | ContractVersion { policy, .. }
            | NoRole { policy, .. }
            | MissingImports { policy, .. }
            | Incompatible { policy, .. }
            | Compile { policy, .. }
            | DigestMismatch { policy, .. }
            | Changed { policy, .. }
            | Timeout { policy, .. }
            | MemoryCap { policy, .. }
            | OutOfFuel { policy, .. }
            | Trap { policy, .. }
            | Guest { policy, .. }
            | InvalidAnswer { policy, .. }
            | HookTimeout { policy, .. }
            | Limit { policy, .. }
            | Structure { policy, .. }
            | OwnResources { policy, .. }
            | Host { policy, .. } => Some(policy),
            Config { policy, .. } => policy.as_deref(),
            Manifest { .. } | ConfigRead { .. } => None,
        }
    }

    /// True for errors in what the user gave (files, configuration), as opposed to a
    /// policy misbehaving while it runs. The CLI maps the first to "bad input".
    pub fn is_bad_input(&self) -> bool {
        use SandboxError::*;
        matches!(
            self,
            Read { .. }
                | NotWasm { .. }
                | CoreModule { .. }
                | ContractVersion { .. }
                | NoRole { .. }
                | MissingImports { .. }
                | Incompatible { .. }
                | Compile { .. }
                | DigestMismatch { .. }
                | Changed { .. }
                | Manifest { .. }
                | ConfigRead { .. }
                | Config { .. }
        )
    }

    /// What the user can do about it, shown after the error.
    pub fn hint(&self) -> Option<String> {
        use SandboxError::*;
        Some(match self {
            Read { .. } => "check the policy's `path` (relative paths in a config file are relative to that file)".into(),
            NotWasm { .. } => "a policy is a WebAssembly component (`.wasm`); build one with `cargo build --release --target wasm32-wasip2`".into(),
            CoreModule { .. } => "build the policy as a component: `cargo build --release --target wasm32-wasip2` (Rust), or wrap the module with `wasm-tools component new MODULE.wasm -o POLICY.wasm`".into(),
            ContractVersion { found, .. } => format!(
                "rebuild the policy against kubectl-hooks:policy@{CONTRACT_VERSION} (`wit/v0.2.0/`) or @0.1.0 (`wit/policy.wit`) of this kubectl-hooks, or use a kubectl-hooks that speaks @{found}"
            ),
            NoRole { .. } => "export at least one of the worlds `mutator`, `orderer` or `validator` from `wit/policy.wit`".into(),
            MissingImports { .. } => "policies run without filesystem, network or other host services; remove the code that needs them (only `kubectl-hooks:policy/host` and WASI p2 cli, io, clocks and random are available)".into(),
            Incompatible { .. } => format!("rebuild the policy against kubectl-hooks:policy@{CONTRACT_VERSION}"),
            Compile { .. } => "rebuild the policy; the file may be truncated or corrupt".into(),
            DigestMismatch { .. } => "the file changed since it was pinned: check where it came from, then update `sha256` in the configuration".into(),
            Changed { .. } => "something is writing the file: load it once it is written (write a copy beside it and rename it into place, so readers never see it half written)".into(),
            Timeout { .. } => "make the policy faster, or raise `limits.timeoutMs` for it".into(),
            MemoryCap { .. } => "make the policy use less memory, or raise `limits.memoryMiB` for it".into(),
            OutOfFuel { .. } => "raise `limits.fuel` for it, or remove the fuel limit".into(),
            Trap { .. } => "a bug in the policy; its output above may say more. Set `failurePolicy: Ignore` to run without it".into(),
            Guest { .. } => "the policy refused to decide; see its message. Set `failurePolicy: Ignore` to run without it".into(),
            InvalidAnswer { .. } => "a bug in the policy: patches may not change a hook's identity or position; an order, or waves, must list every hook exactly once, and no wave may be empty".into(),
            HookTimeout { max: Some(_), .. } => "if the hook should wait that long, raise `maxHookTimeout` for the policy in the policy configuration".into(),
            HookTimeout { max: None, .. } => "if the policy is trusted to set how long hooks wait, give it `maxHookTimeout` (the longest it may set, e.g. `10m`) in the policy configuration".into(),
            Limit { limit, .. } | Structure { limit, .. } => match limit.config_key() {
                Some(key) => format!("a policy that needs more can be given it: raise `limits.{key}` for it in the policy configuration"),
                None => "a bug in the policy: it answered more items than the plan has hooks".into(),
            },
            OwnResources { .. } => format!("build the policy against kubectl-hooks:policy@{CONTRACT_VERSION}, which defines no resources"),
            Manifest { source, .. } => return source.hint(),
            Config { .. } => "see the PolicyConfig format: apiVersion kubectl-hooks.dev/v1alpha1, kind PolicyConfig, policies: [{name, path, sha256, events, settings, failurePolicy, limits}]".into(),
            ConfigRead { .. } | Host { .. } => return None,
        })
    }
}
