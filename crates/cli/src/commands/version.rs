//! `kubectl hooks version`: what is running, and which policies it can run.

use std::io::Write;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::{Failure, exit_codes};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum VersionOutput {
    Text,
    Json,
}

/// Print the version of kubectl-hooks, the policy contract it speaks, and the wasmtime
/// that runs policies.
#[derive(Debug, Args)]
pub(crate) struct VersionCommand {
    #[arg(short, long, value_enum, default_value_t = VersionOutput::Text)]
    output: VersionOutput,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Versions {
    version: &'static str,
    /// The newest WIT package policies may implement.
    contract: String,
    /// Every version of it the host speaks, oldest first: a component built for any of
    /// them works unchanged.
    contracts: Vec<String>,
    wasmtime: &'static str,
}

impl VersionCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let versions = Versions {
            version: env!("CARGO_PKG_VERSION"),
            contract: format!("kubectl-hooks:policy@{}", hooks_sandbox::CONTRACT_VERSION),
            contracts: hooks_sandbox::Contract::ALL
                .iter()
                .map(|c| format!("kubectl-hooks:policy@{}", c.version()))
                .collect(),
            // From Cargo.lock by build.rs: the wasmtime actually linked, not a copy of it.
            wasmtime: env!("KUBECTL_HOOKS_WASMTIME_VERSION"),
        };
        let mut stdout = std::io::stdout().lock();
        match self.output {
            VersionOutput::Json => {
                serde_json::to_writer_pretty(&mut stdout, &versions)?;
                writeln!(stdout)?;
            }
            VersionOutput::Text => writeln!(
                stdout,
                "kubectl-hooks {}\npolicy contract: {} (speaks {})\nwasmtime: {}",
                versions.version,
                versions.contract,
                versions.contracts.join(", "),
                versions.wasmtime
            )?,
        }
        Ok(exit_codes::SUCCESS)
    }
}
