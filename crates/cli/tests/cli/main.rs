//! End-to-end tests of the `kubectl-hooks` binary, one module per topic.

mod bad_input;
mod help;
mod cluster;
mod plan;
mod run;
mod util;
