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

//!
//! Without the default `runtime` feature the crate is only what needs no wasmtime: the
//! policy configuration, the limits, and the host's checks on answers, which is what the
//! fuzz targets in `fuzz/` exercise.

mod config;
mod diff;
mod error;
mod invariants;
mod limits;
mod role;
mod secrets;

#[cfg(feature = "runtime")]
mod answer;
#[cfg(feature = "runtime")]
mod bindings;
#[cfg(feature = "runtime")]
mod cache;
#[cfg(feature = "runtime")]
mod call;
#[cfg(feature = "runtime")]
mod contract;
#[cfg(feature = "runtime")]
mod engine;
#[cfg(feature = "runtime")]
mod load;
#[cfg(feature = "runtime")]
mod mapped;
#[cfg(feature = "runtime")]
mod pipeline;
#[cfg(feature = "runtime")]
mod pool;
#[cfg(feature = "runtime")]
mod stdio;

#[doc(hidden)]
pub mod fuzzing;

pub use config::{
    CONFIG_API_VERSION, CONFIG_KIND, FailurePolicy, PolicyConfig, PolicySpec, check_unique_names,
};
pub use error::SandboxError;
pub use limits::{Limit, Limits};
pub use role::{CONTRACT_VERSION, Contract, Role};

#[cfg(feature = "runtime")]
pub use config::load_policies;
#[cfg(feature = "runtime")]
pub use engine::{
    Allocation, CacheDir, EngineOptions, GuestLog, Instances, LogLevel, PolicyEngine,
};
#[cfg(feature = "runtime")]
pub use load::{Compilation, Policy, PolicyInfo, Source};
#[cfg(feature = "runtime")]
pub use pipeline::{ConfiguredPolicy, Decision, PoliceContext, Policed, police};

#[cfg(feature = "runtime")]
impl PolicyEngine {
    /// Where the cache entry for a component with this sha256 lives (whether or not it
    /// exists yet); `None` when caching is off. For tests and diagnostics.
    pub fn cache_entry(&self, sha256: &str) -> Option<std::path::PathBuf> {
        self.inner.cache.entry_path(sha256)
    }
}
