//! The policy test suite format, `tests.yaml` (described in `policies/README.md`): one
//! parser ([`Suite::read`]) and one matcher ([`Case::check`]).
//!
//! Two runners share them: `kubectl hooks policy test`, which runs a built component in
//! the sandbox, and the policy SDK's native runner, which calls a policy's Rust functions
//! in `cargo test`. Each runner only produces an [`Outcome`] for a [`Case`]; what the
//! suite expects, and how an expectation matches, is decided here, so a suite passes or
//! fails the same way under both.
//!
//! ```yaml
//! policy: ../../target/wasm32-wasip2/release/deny_privileged.wasm  # relative to this file
//! settings: {}                        # default for every case
//! regoFile: policy.rego               # optional: read into `settings.policy`
//! cases:
//!   - name: privileged init job is denied
//!     event: pre-install
//!     manifests: fixtures/privileged.yaml   # file or directory, relative to this file
//!     settings: {}                          # optional override
//!     expect:
//!       allowed: false
//!       denials: [{hook: Job/db-init, reasonContains: privileged}]  # one-to-one
//!       order: [Job/backup, Job/drain]
//!       patched: [{hook: Job/db-init, path: /spec/backoffLimit, value: 1}]  # or absent: true
//!       error: "substring"                  # the policy must fail with this
//! ```

mod check;
mod error;
mod format;

pub use check::{Denial, FinalHook, Outcome};
pub use error::SuiteError;
pub use format::{Case, Expect, ExpectedDenial, ExpectedField, FieldExpectation, Suite};

use std::time::{Duration, Instant};

/// One case's result: what did not match (empty when it passed) and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    pub name: String,
    pub problems: Vec<String>,
    pub duration: Duration,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Suite {
    /// Runs every case through `run` (which plans the case, runs the policy and returns
    /// what came out, or the policy's error) and checks each outcome.
    pub fn run(&self, mut run: impl FnMut(&Case) -> Result<Outcome, String>) -> Vec<CaseReport> {
        self.cases
            .iter()
            .map(|case| {
                let started = Instant::now();
                let problems = case.check(run(case));
                CaseReport {
                    name: case.name.clone(),
                    problems,
                    duration: started.elapsed(),
                }
            })
            .collect()
    }
}
