//! The instance pool every call is instantiated from.
//!
//! A fresh instance per call is the sandbox's promise; with wasmtime's default allocator
//! that means a new mapping for the guest's memory each call, a page fault for every
//! page the guest touches, and an unmapping (with a TLB shootdown) afterwards: a fifth of
//! a guard's time at 100 hooks. The pooling allocator keeps slots mapped and resets them
//! between calls, the way `wasmtime serve` runs a fresh instance per request.
//!
//! The pool is sized for what policies are, not for what wasmtime's defaults expect: few
//! calls at once (the pipeline calls one policy at a time), but generous per-module
//! limits so that components from any toolchain fit. Calls beyond [`CALLS_IN_FLIGHT`]
//! wait for a slot instead of failing.

use std::sync::{Condvar, Mutex};

use wasmtime::PoolingAllocationConfig;

use crate::limits::{MEMORIES_PER_MODULE, MIB, TABLES_PER_MODULE};

/// Calls that may be instantiated at the same time on one engine.
pub(crate) const CALLS_IN_FLIGHT: usize = 32;

/// Bytes of each linear memory reset with `memset` (dirty pages only, where the kernel
/// can say which) rather than handed back to the kernel: what a guard evaluating a few
/// hundred hooks touches, so its next call takes no page faults.
const KEEP_RESIDENT: usize = 8 * MIB as usize;

pub(crate) fn config() -> PoolingAllocationConfig {
    let calls = u32::try_from(CALLS_IN_FLIGHT).unwrap_or(u32::MAX);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        // A component is several core instances (the guest, its adapters and shims) and
        // each may have tables; memories are reserved address space (4 GiB + guard each),
        // so those are the ones kept few.
        .total_core_instances(calls * 32)
        .total_tables(calls * 8)
        .total_memories(calls * 2)
        .max_memories_per_module(MEMORIES_PER_MODULE as u32)
        .max_tables_per_module(TABLES_PER_MODULE as u32)
        // Interpreters compiled to wasm (Python, JavaScript engines) have function tables
        // of tens of thousands of entries.
        .table_elements(1 << 20)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(64 * 1024)
        // Calls run on fibers (so that a deadline can stop a guest blocked in a host
        // call); their stacks come from the pool too.
        .total_stacks(calls)
        .async_stack_keep_resident(64 * 1024);
    pool
}

/// Counts calls in flight so that the pool is never asked for more instances than it
/// has: a caller beyond [`CALLS_IN_FLIGHT`] waits for one to finish.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    pub(crate) fn take(&self) -> Slot<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= CALLS_IN_FLIGHT {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
        Slot { slots: self }
    }
}

/// A taken slot; freed on drop. Declare it before the call's store so that the store
/// (and with it the instance) is gone when the slot is handed on.
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut busy = self.slots.busy.lock().unwrap_or_else(|e| e.into_inner());
        *busy -= 1;
        self.slots.freed.notify_one();
    }
}
