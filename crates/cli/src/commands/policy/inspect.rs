use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use hooks_sandbox::{Limits, Policy, PolicySpec};

use crate::commands::policies;
use crate::{Failure, exit_codes};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InspectOutput {
    Text,
    Json,
}

/// Show what a policy component is: its roles, contract version, size, sha256 (for a
/// `sha256:` pin), imports, and how long it took to compile (or load from the cache).
#[derive(Debug, Args)]
pub(crate) struct InspectCommand {
    /// The policy component.
    #[arg(value_name = "FILE.wasm")]
    file: PathBuf,

    #[arg(short, long, value_enum, default_value_t = InspectOutput::Text)]
    output: InspectOutput,
}

impl InspectCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let name = PolicySpec::from_wasm(&self.file).name;
        let engine = policies::engine(false)?;
        let policy = Policy::load(&engine, name, self.file.as_path(), Limits::default())?;
        let info = policy.info();
        let mut stdout = std::io::stdout().lock();
        match self.output {
            InspectOutput::Json => {
                serde_json::to_writer_pretty(&mut stdout, info)?;
                writeln!(stdout)?;
            }
            InspectOutput::Text => {
                let compilation = &info.compilation;
                let how = if compilation.from_cache {
                    "loaded from the cache".to_owned()
                } else if let Some(reason) = &compilation.rebuilt {
                    format!("compiled; the cache entry was refused: {reason}")
                } else {
                    "compiled".to_owned()
                };
                let list = |items: &[String]| {
                    if items.is_empty() {
                        "(none)".to_owned()
                    } else {
                        items.join("\n           ")
                    }
                };
                let roles: Vec<String> = info.roles.iter().map(|r| r.to_string()).collect();
                write!(
                    stdout,
                    "policy:    {}\nfile:      {}\nsize:      {} bytes\nsha256:    {}\ncontract:  kubectl-hooks:policy@{}\nroles:     {}\nimports:   {}\nexports:   {}\ncompile:   {:.1} ms ({how})\n",
                    info.name,
                    info.origin,
                    info.size,
                    info.sha256,
                    info.contract_version,
                    roles.join(", "),
                    list(&info.imports),
                    list(&info.exports),
                    compilation.duration.as_secs_f64() * 1000.0,
                )?;
            }
        }
        Ok(exit_codes::SUCCESS)
    }
}
