//! End-to-end tests of the `kubectl-hooks` binary, one module per topic.

mod bad_input;
mod cluster;
mod conventions;
mod help;
mod hostile;
mod plan;
mod policy;
mod releases;
mod reports;
mod run;
mod util;
