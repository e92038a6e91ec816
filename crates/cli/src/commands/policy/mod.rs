//! `kubectl hooks policy …`: look inside a policy component, and test one against fixture
//! suites.

mod inspect;
mod test;

use clap::{Args, Subcommand};

use crate::Failure;

/// Inspect and test policy components.
#[derive(Debug, Args)]
pub(crate) struct PolicyCommand {
    #[command(subcommand)]
    command: PolicySubcommand,
}

#[derive(Debug, Subcommand)]
enum PolicySubcommand {
    Inspect(inspect::InspectCommand),
    Test(test::TestCommand),
}

impl PolicyCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        match self.command {
            PolicySubcommand::Inspect(command) => command.execute(),
            PolicySubcommand::Test(command) => command.execute(),
        }
    }
}
