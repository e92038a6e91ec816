//! The `kubectl-hooks` command line: clap commands, rendering and exit codes over the
//! `hooks-plan` → `hooks-sandbox` → `hooks-apply` pipeline.

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

mod commands;
pub mod exit_codes;
mod failure;
mod render;

pub use failure::Failure;

/// Plan, police and run Helm-style hooks.
///
/// Reads rendered manifests (`helm template` output, a directory of YAML, or stdin) or an
/// installed release's hooks from Helm's storage, plans the hooks of one lifecycle event
/// exactly as Helm orders them, lets WebAssembly policies veto, reorder or mutate them, and
/// applies them to a cluster; `gc` collects the hook objects runs left behind.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-hooks",
    bin_name = "kubectl hooks",
    version,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Plan(commands::plan::PlanCommand),
    Policy(commands::policy::PolicyCommand),
    Run(commands::run::RunCommand),
    Gc(commands::gc::GcCommand),
    Completion(commands::completion::CompletionCommand),
    Version(commands::version::VersionCommand),
}

/// Runs the command line and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                exit_codes::BAD_INPUT
            } else {
                exit_codes::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Plan(command) => command.execute(),
        Command::Policy(command) => command.execute(),
        Command::Run(command) => command.execute(),
        Command::Gc(command) => command.execute(),
        Command::Completion(command) => command.execute(),
        Command::Version(command) => command.execute(),
    };
    match result {
        Ok(code) => code,
        Err(failure) if failure.code == exit_codes::SUCCESS => failure.code,
        Err(failure) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{}", failure.render());
            failure.code
        }
    }
}
