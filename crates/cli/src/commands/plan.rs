use std::io::Write;

use clap::{Args, ValueEnum};
use hooks_plan::{Event, Ordering};

use super::policies::PolicyArgs;
use super::{ClusterArgs, ManifestArgs, SelectArgs, parse_event, runtime};
use crate::{Failure, exit_codes, render};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum PlanOutput {
    Table,
    Json,
    Yaml,
    // SARIF 2.1.0 for code-scanning UIs. A plain comment: a doc comment would turn the
    // whole `plan --help` into the long, one-option-per-paragraph format.
    Sarif,
}

/// Show which hooks an event runs, in which order, and why.
#[derive(Debug, Args)]
pub(crate) struct PlanCommand {
    /// The lifecycle event: pre-install, post-install, pre-upgrade, post-upgrade,
    /// pre-delete, post-delete, pre-rollback, post-rollback or test.
    #[arg(value_parser = parse_event)]
    event: Event,

    #[command(flatten)]
    manifests: ManifestArgs,

    /// Output format; `sarif` reports policy denials for code-scanning UIs, at the hook's
    /// template and line.
    #[arg(short, long, value_enum, default_value_t = PlanOutput::Table)]
    output: PlanOutput,

    /// Tie-breaking among equal weights: `helm` is what Helm does (weight, name, kind,
    /// input order); `documented` is what Helm's docs say (weight, kind, name).
    #[arg(long, default_value_t = Ordering::Helm)]
    ordering: Ordering,

    #[command(flatten)]
    select: SelectArgs,

    #[command(flatten)]
    policies: PolicyArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// The run's `--timeout`, for the TIMEOUT column of hooks without their own
    /// `kubectl-hooks.dev/timeout`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = hooks_plan::parse_duration)]
    timeout: std::time::Duration,

    /// Show the waves `run --parallel` would run (equal weights, or an orderer's).
    #[arg(long)]
    parallel: bool,
}

/// The plan JSON, with a `policies` section when policies ran: existing fields unchanged,
/// `hooks` showing the policed plan.
#[derive(serde::Serialize)]
struct PolicedPlan<'a> {
    #[serde(flatten)]
    plan: &'a hooks_plan::Plan,
    policies: &'a hooks_sandbox::Policed,
}

impl PlanCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let loading = self.policies.load();
        // Manifests are planned without a cluster: the namespace is `-n`, else `default`.
        // A release is read from the cluster: `-n`, else the context's namespace.
        let (loaded, namespace) = match self.manifests.cluster_release() {
            None => (
                self.manifests.manifests(self.policies.reading())?,
                self.cluster
                    .namespace
                    .clone()
                    .unwrap_or_else(|| hooks_plan::DEFAULT_NAMESPACE.to_owned()),
            ),
            Some(release) => {
                let runtime = runtime()?;
                let connection = runtime.block_on(self.cluster.connect())?;
                let loaded = runtime.block_on(self.manifests.read_release(release, &connection))?;
                (loaded, connection.namespace)
            }
        };
        let mut plan = loaded.plan(
            self.event,
            self.ordering,
            &namespace,
            &self.select.selection(),
            false,
        )?;
        plan.default_timeout = self.timeout;
        // `plan` never applies anything: policies are told it is a dry run.
        let policies = loading.wait()?;
        let (unpoliced, policed) = match &policies {
            Some(policies) => (
                None,
                Some(policies.police(plan, self.manifests.release_name(), &namespace, true)?),
            ),
            None => (Some(plan), None),
        };
        let plan = match (&unpoliced, &policed) {
            (Some(plan), _) => plan,
            (None, Some(policed)) => &policed.plan,
            (None, None) => unreachable!("one of the two is set"),
        };
        // Buffered: stdout is line-buffered, and a plan of a thousand hooks is tens of
        // thousands of lines, each a write(2) of its own.
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        match self.output {
            PlanOutput::Table => {
                stdout.write_all(render::plan_table(plan, self.parallel).as_bytes())?;
                if let Some(policed) = &policed {
                    stdout.write_all(render::policies_table(policed).as_bytes())?;
                }
                std::io::stderr()
                    .lock()
                    .write_all(render::warnings(&plan.warnings).as_bytes())?;
            }
            PlanOutput::Json => {
                match &policed {
                    Some(policies) => {
                        serde_json::to_writer_pretty(&mut stdout, &PolicedPlan { plan, policies })?
                    }
                    None => serde_json::to_writer_pretty(&mut stdout, plan)?,
                }
                writeln!(stdout)?;
            }
            PlanOutput::Sarif => {
                serde_json::to_writer_pretty(&mut stdout, &render::sarif(plan, policed.as_ref()))?;
                writeln!(stdout)?;
                let mut stderr = std::io::stderr().lock();
                for warning in &plan.warnings {
                    writeln!(stderr, "warning: {warning}")?;
                }
            }
            PlanOutput::Yaml => {
                let text = match &policed {
                    Some(policies) => serde_saphyr::to_string(&PolicedPlan { plan, policies }),
                    None => serde_saphyr::to_string(plan),
                }
                .map_err(|e| Failure::new(exit_codes::INTERNAL_ERROR, e))?;
                stdout.write_all(text.as_bytes())?;
            }
        }
        stdout.flush()?;
        let code = if policed.as_ref().is_some_and(|p| p.denied) {
            exit_codes::DENIED
        } else {
            exit_codes::SUCCESS
        };
        // The process exits next: the manifests, plans and policy engine go with it,
        // rather than being freed a hook at a time (a tenth of a millisecond at 100 hooks,
        // one at 1,000) and the engine's code and memories unmapped one by one (about a
        // millisecond).
        std::mem::forget((loaded, unpoliced, policed, policies));
        Ok(code)
    }
}
