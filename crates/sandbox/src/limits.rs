//! Per-policy resource limits, and the store limiter that enforces the memory cap.
//!
//! A policy is hostile code: every limit here holds whatever the guest does, and every
//! one is configurable per policy (`limits:` in the policy configuration) with a default
//! that no honest guard comes near.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
#[cfg(feature = "runtime")]
use wasmtime::ResourceLimiter;

pub const MIB: u64 = 1024 * 1024;
const KIB: usize = 1024;

/// The most linear memories and tables one core module may have: what an instance pool
/// slot holds, and so the most a policy's `limits.memories` and `limits.tables` allow.
pub(crate) const MEMORIES_PER_MODULE: u64 = 4;
pub(crate) const TABLES_PER_MODULE: u64 = 16;

/// What one call of a policy may use and hand back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Bytes of every linear memory and table of the instance together.
    pub memory_bytes: u64,
    /// Wall-clock time per call, instantiation included, whatever the guest does.
    #[serde(serialize_with = "millis")]
    pub timeout: Duration,
    /// Wasm instructions (roughly) per call; `None` for no fuel accounting.
    pub fuel: Option<u64>,
    /// Linear memories and tables the component may create: checked when it is loaded.
    pub memories: u32,
    pub tables: u32,
    /// Total bytes of strings in one answer (patch manifests, ids, reasons).
    pub output_bytes: usize,
    /// Denials in one answer. (Patches and ids are bounded by the number of hooks.)
    pub answer_items: usize,
    /// Bytes of one id, denial reason or error message.
    pub string_bytes: usize,
    /// Bytes of one patched manifest, and its JSON nodes and nesting depth.
    pub patch_bytes: usize,
    pub json_nodes: usize,
    pub json_depth: usize,
    /// Log messages kept per call (`host.log` calls and printed lines together), and
    /// bytes kept of each.
    pub log_messages: usize,
    pub log_bytes: usize,
    /// Bytes of stdout and of stderr kept per call.
    pub stdio_bytes: usize,
    /// Lines of one mutation's diff shown; beyond, only how many lines changed.
    pub diff_lines: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 * MIB,
            timeout: Duration::from_secs(1),
            fuel: None,
            memories: 4,
            tables: 16,
            output_bytes: 16 * MIB as usize,
            answer_items: 1000,
            string_bytes: 4 * KIB,
            patch_bytes: 1024 * KIB,
            json_nodes: 100_000,
            json_depth: 64,
            log_messages: 100,
            log_bytes: KIB,
            stdio_bytes: 16 * KIB,
            diff_lines: 1000,
        }
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A limit a policy can hit, named as the configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Limit {
    Memories,
    Tables,
    OutputBytes,
    AnswerItems,
    /// Patches and ids may not outnumber the hooks (not configurable: the contract).
    HookCount,
    StringBytes,
    PatchBytes,
    JsonNodes,
    JsonDepth,
}

impl Limit {
    /// The key under `limits:` that raises it, if it can be raised.
    pub fn config_key(self) -> Option<&'static str> {
        Some(match self {
            Limit::Memories => "memories",
            Limit::Tables => "tables",
            Limit::OutputBytes => "outputMiB",
            Limit::AnswerItems => "answerItems",
            Limit::StringBytes => "stringBytes",
            Limit::PatchBytes => "patchKiB",
            Limit::JsonNodes => "jsonNodes",
            Limit::JsonDepth => "jsonDepth",
            Limit::HookCount => return None,
        })
    }

    /// What is counted, for messages: "{size} {unit} over the limit of {max}".
    pub fn unit(self) -> &'static str {
        match self {
            Limit::Memories => "linear memories",
            Limit::Tables => "tables",
            Limit::OutputBytes => "bytes of answer",
            Limit::AnswerItems => "denials",
            Limit::HookCount => "items for the plan's hooks",
            Limit::StringBytes => "bytes in one string",
            Limit::PatchBytes => "bytes in one patched manifest",
            Limit::JsonNodes => "JSON values in one patched manifest",
            Limit::JsonDepth => "levels of nesting in one patched manifest",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.config_key() {
            Some(key) => write!(f, "`limits.{key}`"),
            None => f.write_str("the number of hooks"),
        }
    }
}

/// Bytes a table element is charged: a pointer, what a funcref slot costs the host.
#[cfg(feature = "runtime")]
const TABLE_ELEMENT_BYTES: usize = 8;

/// Enforces one cap across every memory and table of a call's instance, as growth from
/// nothing (wasmtime reports each memory's and table's creation as growth from zero). The
/// counts of memories and tables are bounded too; a failed grow traps, and [`Limiter::hit`]
/// records that the cap, not a guest bug, stopped the call.
#[cfg(feature = "runtime")]
pub(crate) struct Limiter {
    cap: usize,
    used: usize,
    memories: usize,
    tables: usize,
    pub(crate) hit: bool,
}

#[cfg(feature = "runtime")]
impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Limiter {
        Limiter {
            cap: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
            used: 0,
            memories: limits.memories as usize,
            tables: limits.tables as usize,
            hit: false,
        }
    }

    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let used = desired
            .checked_sub(current)
            .and_then(|more| self.used.checked_add(more));
        match used {
            Some(used) if used <= self.cap => {
                self.used = used;
                Ok(true)
            }
            _ => {
                self.hit = true;
                wasmtime::bail!("the policy's memory cap of {} bytes was reached", self.cap)
            }
        }
    }
}

#[cfg(feature = "runtime")]
impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        // The pool bounds instances per component; this bounds the per-call fallback.
        1000
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "runtime")]
    fn one_cap_for_every_memory_and_table() {
        let mut limiter = Limiter::new(&Limits {
            memory_bytes: 100,
            ..Limits::default()
        });
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        assert!(limiter.memory_growing(0, 40, None).unwrap());
        // A third memory of 40 would bring the total to 120.
        assert!(limiter.memory_growing(0, 40, None).is_err());
        assert!(limiter.hit);
        // 2 table elements are 16 bytes: 96 in all.
        let mut limiter = Limiter::new(&Limits {
            memory_bytes: 100,
            ..Limits::default()
        });
        assert!(limiter.memory_growing(0, 80, None).unwrap());
        assert!(limiter.table_growing(0, 2, None).unwrap());
        assert!(limiter.table_growing(2, 3, None).is_err());
    }

    #[test]
    fn limits_are_named_by_their_configuration_key() {
        assert_eq!(Limit::AnswerItems.to_string(), "`limits.answerItems`");
        assert_eq!(Limit::HookCount.to_string(), "the number of hooks");
    }
}
