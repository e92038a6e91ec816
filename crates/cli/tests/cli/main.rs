//! End-to-end tests of the `kubectl-hooks` binary, one module per topic.

mod bad_input;
mod cluster;
mod help;
mod hostile;
mod plan;
mod policy;
mod run;
mod util;
