//! Policies for `plan` (and any command that polices a plan): the flags, loading the
//! configured components, and running them.

use std::path::{Path, PathBuf};

use clap::Args;
use hooks_plan::Plan;
use std::io::Write;

use hooks_plan::escape;
use hooks_sandbox::{
    CacheDir, ConfiguredPolicy, Decision, EngineOptions, Instances, PoliceContext, Policed,
    PolicyConfig, PolicyEngine, PolicySpec,
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

    /// Starts loading the policies, on a thread of its own: the engine and the compiled
    /// components are ready by the time the manifests are read and planned, which need
    /// nothing from them. `plan` and `run` load once and police every event's plan.
    pub(crate) fn load(&self) -> Loading {
        if !self.any() {
            return Loading(None);
        }
        let (policies, configs) = (self.policies.clone(), self.policy_config.clone());
        let loader = std::thread::Builder::new()
            .name("policy-loader".into())
            .spawn(move || load(&policies, &configs));
        Loading(Some(match loader {
            Ok(thread) => Loader::Thread(thread),
            // No thread to be had: load here and now; what came of it is still told when
            // waited for, after the manifests' own errors, as with a thread.
            Err(_) => Loader::Done(load(&self.policies, &self.policy_config)),
        }))
    }
}

/// Policies being loaded; [`Loading::wait`] for them.
#[derive(Debug)]
pub(crate) struct Loading(Option<Loader>);

#[derive(Debug)]
enum Loader {
    Thread(std::thread::JoinHandle<Result<Loaded, Failure>>),
    Done(Result<Loaded, Failure>),
}

impl Loading {
    /// The loaded policies (`None` when none were given), once the loader is done; what
    /// the compile cache refused or could not do is said on stderr now, in order.
    pub(crate) fn wait(self) -> Result<Option<Loaded>, Failure> {
        let loaded = match self.0 {
            None => return Ok(None),
            Some(Loader::Thread(thread)) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            Some(Loader::Done(loaded)) => loaded?,
        };
        let mut stderr = std::io::stderr().lock();
        for warning in &loaded.warnings {
            let _ = writeln!(stderr, "{warning}");
        }
        Ok(Some(loaded))
    }
}

/// Configured policies, loaded and ready to police plans.
#[derive(Debug)]
pub(crate) struct Loaded {
    policies: Vec<ConfiguredPolicy>,
    /// Policies that could not be loaded but may be ignored, as decisions.
    ignored: Vec<Decision>,
    warnings: Vec<String>,
}

impl Loaded {
    /// The policies' names, in the order they run.
    pub(crate) fn names(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|p| p.policy.name().to_owned())
            .collect()
    }

    /// Polices `plan`; policies are told the release's name and that hooks without a
    /// namespace go to `namespace`.
    pub(crate) fn police(
        &self,
        plan: Plan,
        release: &str,
        namespace: &str,
        dry_run: bool,
    ) -> Result<Policed, Failure> {
        let ctx = PoliceContext {
            release: release.to_owned(),
            namespace: namespace.to_owned(),
            dry_run,
        };
        let mut policed = hooks_sandbox::police(plan, &self.policies, &ctx)?;
        // Policies that could not be loaded come first, as they were decided first.
        policed.decisions.splice(0..0, self.ignored.iter().cloned());
        Ok(policed)
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
/// decisions, and what the compile cache refused or could not do as warnings.
fn load(policies: &[PathBuf], configs: &[PathBuf]) -> Result<Loaded, Failure> {
    let specs = specs(policies, configs)?;
    // `plan` and `run` call each policy's roles once or twice and exit: a pool would
    // cost more to reserve and tear down than it saves them.
    let engine = engine(
        specs.iter().any(|s| s.limits.fuel.is_some()),
        Instances::PerCall,
    )?;
    let (policies, ignored) = hooks_sandbox::load_policies(&engine, &specs)?;
    let mut warnings = Vec::new();
    for policy in &policies {
        let info = policy.policy.info();
        if let Some(reason) = &info.compilation.rebuilt {
            warnings.push(format!(
                "warning: policy `{}`: the compile cache's entry was refused and rebuilt: {}",
                escape(&info.name),
                escape(reason)
            ));
        }
        if let Some(warning) = &info.compilation.cache_warning {
            warnings.push(format!(
                "warning: policy `{}`: {}",
                escape(&info.name),
                escape(warning)
            ));
        }
    }
    Ok(Loaded {
        policies,
        ignored,
        warnings,
    })
}

pub(crate) fn engine(fuel: bool, instances: Instances) -> Result<PolicyEngine, Failure> {
    let cache = match std::env::var_os(CACHE_ENV) {
        Some(dir) if dir.is_empty() => CacheDir::Disabled,
        Some(dir) => CacheDir::At(Path::new(&dir).to_owned()),
        None => CacheDir::User,
    };
    PolicyEngine::new(EngineOptions {
        cache,
        fuel,
        instances,
    })
    .map_err(|e| Failure::new(exit_codes::INTERNAL_ERROR, anyhow::anyhow!(e)))
}
