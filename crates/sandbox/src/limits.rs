//! Per-policy resource limits and the store limiter that enforces the memory cap.

use std::time::Duration;

use serde::Serialize;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

pub const MIB: u64 = 1024 * 1024;

/// What one call of a policy may use. Every limit is on by default; fuel is optional
/// because it needs a separately compiled artifact and costs 10–25 % per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Linear memory (all memories of the instance together), in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time per call, enforced by epoch interruption.
    #[serde(serialize_with = "millis")]
    pub timeout: Duration,
    /// Wasm instructions (roughly) per call; `None` for no fuel accounting.
    pub fuel: Option<u64>,
    /// Total bytes of strings in one answer (patch manifests, ids, reasons).
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 * MIB,
            timeout: Duration::from_secs(1),
            fuel: None,
            output_bytes: 16 * MIB as usize,
        }
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Bytes the guest may write to stdout and to stderr per call. Beyond that output is
/// dropped (not an error: a chatty policy should not fail for it).
pub(crate) const STDIO_BYTES: usize = 64 * 1024;
/// `host.log` calls kept per call, and bytes kept per message.
pub(crate) const LOG_MESSAGES: usize = 200;
pub(crate) const LOG_MESSAGE_BYTES: usize = 4096;

/// Wasmtime's [`StoreLimits`] with `trap_on_grow_failure`, plus a flag: a failed grow
/// surfaces as a generic error, not a `Trap` variant, so this is how the host knows the
/// cap (and not a guest bug) stopped the call.
pub(crate) struct Limiter {
    cap: usize,
    inner: StoreLimits,
    pub(crate) hit: bool,
}

impl Limiter {
    pub(crate) fn new(memory_bytes: u64) -> Limiter {
        let cap = usize::try_from(memory_bytes).unwrap_or(usize::MAX);
        Limiter {
            cap,
            inner: StoreLimitsBuilder::new()
                .memory_size(cap)
                .trap_on_grow_failure(true)
                .build(),
            hit: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
        }
        self.inner.memory_growing(current, desired, maximum)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
