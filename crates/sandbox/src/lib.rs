//! WebAssembly policy host: runs mutator, orderer and validator components over a hook
//! plan, sandboxed by wasmtime.
//!
//! The flow is [`PolicyEngine`] (one per process: the engine, the linker, the epoch
//! ticker and the compile cache) → [`Policy::load`] (read, recognise, verify, compile or
//! fetch from the cache, inspect roles and imports, pre-instantiate) → [`police`] (every
//! mutator, then every orderer, then every validator; a fresh instance per call, limits
//! armed, every answer checked) → [`Policed`] (the final plan and every decision).
//!
//! Policies get nothing from the host but `kubectl-hooks:policy/host.log` and a WASI p2
//! context with nothing in it (no files, network, environment or arguments; stdout and
//! stderr go to bounded buffers whose contents reach the user's log).

mod answer;
mod bindings;
mod cache;
mod call;
mod config;
mod diff;
mod engine;
mod error;
mod invariants;
mod limits;
mod load;
mod pipeline;
mod pool;
mod secrets;
mod stdio;

pub use config::{
    CONFIG_API_VERSION, CONFIG_KIND, PolicyConfig, PolicySpec, check_unique_names, load_policies,
};
pub use engine::{CacheDir, EngineOptions, GuestLog, LogLevel, PolicyEngine};
pub use error::SandboxError;
pub use limits::{Limit, Limits};
pub use load::{CONTRACT_VERSION, Compilation, Policy, PolicyInfo, Role, Source};
pub use pipeline::{ConfiguredPolicy, Decision, FailurePolicy, PoliceContext, Policed, police};

impl PolicyEngine {
    /// Where the cache entry for a component with this sha256 lives (whether or not it
    /// exists yet); `None` when caching is off. For tests and diagnostics.
    pub fn cache_entry(&self, sha256: &str) -> Option<std::path::PathBuf> {
        self.inner.cache.entry_path(sha256)
    }
}
