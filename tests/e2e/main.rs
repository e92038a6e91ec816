//! End-to-end tests of the `kubectl-hooks` binary against the emulator, one module per
//! topic, with real Helm 4 as the oracle where it matters.

mod differential;
mod divergences;
mod example_chart;
mod releases;
mod server_side;
mod util;
mod waves;
