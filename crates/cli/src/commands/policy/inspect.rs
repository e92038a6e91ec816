use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hooks_sandbox::{Allocation, Instances, Limits, Policy, PolicyInfo, PolicySpec};
use serde::Serialize;

use crate::commands::policies;
use crate::{Failure, exit_codes};

/// `-o json`: the policy's info and, under `instance`, what instantiating it took.
#[derive(Serialize)]
struct Inspected<'a> {
    #[serde(flatten)]
    info: &'a PolicyInfo,
    instance: Instance,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    #[serde(serialize_with = "micros")]
    duration: Duration,
    /// From the engine's instance pool, rather than allocated for the call.
    pooled: bool,
}

fn micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum InspectOutput {
    Text,
    Json,
}

/// Show what a policy component is: its roles, contract version, size, sha256 (for a
/// `sha256:` pin), imports, how long it took to compile (or load from the cache), and
/// what instantiating it costs.
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
        let engine = policies::engine(false, Instances::Pooled)?;
        let policy = Policy::load(&engine, name, self.file.as_path(), Limits::default())?;
        let info = policy.info();
        // Instantiating once proves the component links and fits the instance pool; the
        // second time shows what every call pays before the policy's own code starts (the
        // first also pays for warming the pool's slot).
        policy.instantiate()?;
        let started = Instant::now();
        policy.instantiate()?;
        let instance = Instance {
            duration: started.elapsed(),
            pooled: engine.allocation() == Allocation::Pooled,
        };
        let mut stdout = std::io::stdout().lock();
        match self.output {
            InspectOutput::Json => {
                serde_json::to_writer_pretty(&mut stdout, &Inspected { info, instance })?;
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
                let allocation = if instance.pooled {
                    "from the instance pool"
                } else {
                    "allocated per call: the instance pool's address space was refused"
                };
                let roles: Vec<String> = info.roles.iter().map(|r| r.to_string()).collect();
                write!(
                    stdout,
                    "policy:    {}\nfile:      {}\nsize:      {} bytes\nsha256:    {}\ncontract:  kubectl-hooks:policy@{}\nroles:     {}\nimports:   {}\nexports:   {}\ncompile:   {:.1} ms ({how})\ninstance:  {:.1} µs per call to instantiate ({allocation})\n",
                    info.name,
                    info.origin,
                    info.size,
                    info.sha256,
                    info.contract_version,
                    roles.join(", "),
                    list(&info.imports),
                    list(&info.exports),
                    compilation.duration.as_secs_f64() * 1000.0,
                    instance.duration.as_secs_f64() * 1e6,
                )?;
            }
        }
        Ok(exit_codes::SUCCESS)
    }
}
