//! `kubectl hooks completion SHELL`: a completion script for the `kubectl-hooks` binary.

use clap::{Args, CommandFactory, ValueEnum};

use crate::{Failure, exit_codes};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Print a shell completion script for `kubectl-hooks`.
///
/// bash: `source <(kubectl-hooks completion bash)`; zsh: `kubectl-hooks completion zsh >
/// "${fpath[1]}/_kubectl-hooks"`; fish: `kubectl-hooks completion fish >
/// ~/.config/fish/completions/kubectl-hooks.fish`. The scripts complete the plugin's
/// binary by name (`kubectl-hooks plan <TAB>`).
#[derive(Debug, Args)]
pub(crate) struct CompletionCommand {
    #[arg(value_enum)]
    shell: Shell,
}

impl CompletionCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let shell = match self.shell {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        };
        let mut command = crate::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "kubectl-hooks", &mut script);
        std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
        Ok(exit_codes::SUCCESS)
    }
}
