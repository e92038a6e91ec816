//! Policies for `plan` (and any command that polices a plan): the flags, loading the
//! configured components, and running them.

use std::path::{Path, PathBuf};

use clap::Args;
use hooks_plan::Plan;
use std::io::Write;

use hooks_plan::escape;
use hooks_sandbox::{
    CacheDir, ConfiguredPolicy, Decision, EngineOptions, PoliceContext, Policed, PolicyConfig,
    PolicyEngine, PolicySpec,
};

use crate::{Failure, exit_codes};

/// Overrides where compiled policies are cached (default: the user's cache directory,
/// `$XDG_CACHE_HOME/kubectl-hooks/policies` on Linux). Empty disables the cache.
pub(crate) const CACHE_ENV: &str = "KUBECTL_HOOKS_CACHE_DIR";

#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// A policy component (`.wasm`) to run over the plan, on every event, with settings
    /// `{}` and default limits; named after the file. Repeatable.
    #[arg(long = "policy", value_name = "FILE.wasm")]
    pub policies: Vec<PathBuf>,

    /// A policy configuration file (kind PolicyConfig: names, paths, sha256 pins, events,
    /// settings, failurePolicy, limits). Repeatable; its policies run before `--policy`
    /// ones.
    #[arg(long, value_name = "FILE")]
    pub policy_config: Vec<PathBuf>,
}

impl PolicyArgs {
    pub(crate) fn any(&self) -> bool {
        !self.policies.is_empty() || !self.policy_config.is_empty()
    }

    /// Policies read every hook whole, so planning reads them whole in the same pass.
    pub(crate) fn reading(&self) -> hooks_plan::Reading {
        if self.any() {
            hooks_plan::Reading::Whole
        } else {
            hooks_plan::Reading::Heads
        }
    }

    /// Loads the policies and polices `plan`; policies are told the release's name and
    /// that hooks without a namespace go to `namespace`. Also returns the policies'
    /// names, in order.
    pub(crate) fn police(
        &self,
        plan: Plan,
        release: &str,
        namespace: &str,
        dry_run: bool,
    ) -> Result<(Policed, Vec<String>), Failure> {
        let (policies, ignored) = load(&self.policies, &self.policy_config)?;
        let ctx = PoliceContext {
            release: release.to_owned(),
            namespace: namespace.to_owned(),
            dry_run,
        };
        let names = policies
            .iter()
            .map(|p| p.policy.name().to_owned())
            .collect();
        let mut policed = hooks_sandbox::police(plan, &policies, &ctx)?;
        // Policies that could not be loaded come first, as they were decided first.
        policed.decisions.splice(0..0, ignored);
        Ok((policed, names))
    }
}

/// Config files' policies in file order, then `--policy` ones; names must be unique.
pub(crate) fn specs(policies: &[PathBuf], configs: &[PathBuf]) -> Result<Vec<PolicySpec>, Failure> {
    let mut specs = Vec::new();
    for config in configs {
        specs.extend(PolicyConfig::from_file(config)?.policies);
    }
    specs.extend(policies.iter().map(PolicySpec::from_wasm));
    hooks_sandbox::check_unique_names(&specs)
        .map_err(|e| Failure::new(exit_codes::BAD_INPUT, anyhow::anyhow!(e)))?;
    Ok(specs)
}

/// Loads the policies; those that could not be loaded but may be ignored come back as
/// decisions. What the compile cache refused or could not do is said on stderr.
pub(crate) fn load(
    policies: &[PathBuf],
    configs: &[PathBuf],
) -> Result<(Vec<ConfiguredPolicy>, Vec<Decision>), Failure> {
    let specs = specs(policies, configs)?;
    let engine = engine(specs.iter().any(|s| s.limits.fuel.is_some()))?;
    let (loaded, ignored) = hooks_sandbox::load_policies(&engine, &specs)?;
    let mut stderr = std::io::stderr().lock();
    for policy in &loaded {
        let info = policy.policy.info();
        if let Some(reason) = &info.compilation.rebuilt {
            let _ = writeln!(
                stderr,
                "warning: policy `{}`: the compile cache's entry was refused and rebuilt: {}",
                escape(&info.name),
                escape(reason)
            );
        }
        if let Some(warning) = &info.compilation.cache_warning {
            let _ = writeln!(
                stderr,
                "warning: policy `{}`: {}",
                escape(&info.name),
                escape(warning)
            );
        }
    }
    Ok((loaded, ignored))
}

pub(crate) fn engine(fuel: bool) -> Result<PolicyEngine, Failure> {
    let cache = match std::env::var_os(CACHE_ENV) {
        Some(dir) if dir.is_empty() => CacheDir::Disabled,
        Some(dir) => CacheDir::At(Path::new(&dir).to_owned()),
        None => CacheDir::User,
    };
    PolicyEngine::new(EngineOptions { cache, fuel })
        .map_err(|e| Failure::new(exit_codes::INTERNAL_ERROR, anyhow::anyhow!(e)))
}
