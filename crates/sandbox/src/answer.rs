//! What a guest hands back, lifted with bounds.
//!
//! Wasmtime lifts a typed result eagerly: a `list<denial>` becomes a `Vec` of owned
//! strings before the host sees its length. A guest that fills its 64 MiB with millions
//! of empty denials would make the host allocate several times that. The types here are
//! lifted like wasmtime's own `list` and `string`, except that each checks its length
//! against the call's [`Budget`] first, so an answer over a limit costs the host nothing
//! but the check.
//!
//! The budget is per call and per thread: a call's future is polled to completion on the
//! thread that set it (see `call.rs`), and lifting happens inside that poll.

// `ComponentType` and `Lift` are unsafe traits: an implementation vouches for the layout
// of the lowered form. Every implementation here takes its layout, alignment and type
// check from wasmtime's own `[T]` and `str` and adds only a length check before
// delegating the lift to wasmtime's `Vec<T>` and `String`, or reads the bytes of a
// string itself through bounds-checked slices.
#![allow(unsafe_code)]

use std::cell::Cell;

use wasmtime::ValRaw;
use wasmtime::component::__internal::wasmtime_environ::component::StringEncoding;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};

use crate::limits::Limit;

/// What the answer of the call now running may still contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Elements of one list, and the limit that says so.
    pub(crate) items: usize,
    pub(crate) items_limit: Limit,
    /// Bytes of one id, reason or error message.
    pub(crate) string_bytes: usize,
    /// Bytes of one manifest.
    pub(crate) manifest_bytes: usize,
    /// Bytes of strings left for the rest of the answer.
    pub(crate) output_bytes: usize,
    /// Ids left for the waves of the rest of the answer: every wave's list charges its
    /// length here, so that many small waves cannot add up to more ids than hooks.
    pub(crate) wave_ids: usize,
}

thread_local! {
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// Runs `f` (which polls one call to completion on this thread) with `budget` in force.
pub(crate) fn with_budget<T>(budget: Budget, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Budget>);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|b| b.replace(Some(budget))));
    f()
}

/// A limit the answer broke, as the lift's error: `call.rs` turns it into a policy error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer has {size} {}, over {limit} ({max})", limit.unit())]
pub(crate) struct Exceeded {
    pub(crate) limit: Limit,
    pub(crate) size: u64,
    pub(crate) max: u64,
}

fn budget() -> wasmtime::Result<Budget> {
    BUDGET
        .with(Cell::get)
        .ok_or_else(|| wasmtime::format_err!("no answer budget is set for this call"))
}

fn check(limit: Limit, size: usize, max: usize) -> wasmtime::Result<()> {
    if size > max {
        return Err(wasmtime::Error::new(Exceeded {
            limit,
            size: size as u64,
            max: max as u64,
        }));
    }
    Ok(())
}

/// Charges a string of `len` code units against the per-string cap and the answer total.
fn charge_string(
    cx: &LiftContext<'_>,
    len: usize,
    cap: usize,
    limit: Limit,
) -> wasmtime::Result<()> {
    let bytes = host_bytes(cx.options().string_encoding, len);
    check(limit, bytes, cap)?;
    BUDGET.with(|cell| {
        let mut budget = cell
            .get()
            .ok_or_else(|| wasmtime::format_err!("no answer budget"))?;
        check(Limit::OutputBytes, bytes, budget.output_bytes)?;
        budget.output_bytes -= bytes;
        cell.set(Some(budget));
        Ok(())
    })
}

/// The most bytes a string of `len` code units can take as UTF-8 on the host.
fn host_bytes(encoding: StringEncoding, len: usize) -> usize {
    const UTF16_TAG: usize = 1 << 31;
    match encoding {
        StringEncoding::Utf8 => len,
        StringEncoding::Utf16 => len.saturating_mul(3),
        StringEncoding::CompactUtf16 if len & UTF16_TAG != 0 => (len ^ UTF16_TAG).saturating_mul(3),
        // Latin-1: at most two bytes per character in UTF-8.
        StringEncoding::CompactUtf16 => len.saturating_mul(2),
    }
}

fn flat_len(src: &[ValRaw; 2]) -> usize {
    src[1].get_u32() as usize
}

fn memory_pair(bytes: &[u8]) -> wasmtime::Result<(usize, usize)> {
    let word = |at: usize| -> wasmtime::Result<usize> {
        let raw: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| wasmtime::format_err!("pointer pair out of bounds"))?;
        Ok(u32::from_le_bytes(raw) as usize)
    };
    Ok((word(0)?, word(4)?))
}

/// A `list<T>` of at most [`Budget::items`] elements.
#[derive(Debug)]
pub(crate) struct Items<T>(pub(crate) Vec<T>);

unsafe impl<T: ComponentType> ComponentType for Items<T> {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[T] as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl<T: Lift> Lift for Items<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        let budget = budget()?;
        check(budget.items_limit, flat_len(src), budget.items)?;
        Ok(Items(Vec::<T>::linear_lift_from_flat(cx, ty, src)?))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let budget = budget()?;
        check(budget.items_limit, memory_pair(bytes)?.1, budget.items)?;
        Ok(Items(Vec::<T>::linear_lift_from_memory(cx, ty, bytes)?))
    }
}

/// A wave of an orderer's answer: a `list<string>` whose length is charged against
/// [`Budget::wave_ids`], the ids all the answer's waves may hold together.
#[derive(Debug)]
pub(crate) struct Wave(pub(crate) Vec<Text>);

/// Charges a wave of `len` ids against what the answer's waves may still hold.
fn charge_wave(len: usize) -> wasmtime::Result<()> {
    BUDGET.with(|cell| {
        let mut budget = cell
            .get()
            .ok_or_else(|| wasmtime::format_err!("no answer budget"))?;
        let left = budget.wave_ids;
        if len > left {
            // Report the whole count the answer reached, not what was left of it.
            let max = budget.items;
            return Err(wasmtime::Error::new(Exceeded {
                limit: Limit::HookCount,
                size: (max - left).saturating_add(len) as u64,
                max: max as u64,
            }));
        }
        budget.wave_ids = left - len;
        cell.set(Some(budget));
        Ok(())
    })
}

unsafe impl ComponentType for Wave {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[Text] as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl Lift for Wave {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge_wave(flat_len(src))?;
        Ok(Wave(Vec::<Text>::linear_lift_from_flat(cx, ty, src)?))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge_wave(memory_pair(bytes)?.1)?;
        Ok(Wave(Vec::<Text>::linear_lift_from_memory(cx, ty, bytes)?))
    }
}

/// Declares a `string` lifted only within one of the budget's caps.
macro_rules! capped_string {
    ($(#[$doc:meta])* $name:ident, $cap:ident, $limit:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $name(pub(crate) String);

        unsafe impl ComponentType for $name {
            type Lower = [ValRaw; 2];
            const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

            fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
                <str as ComponentType>::typecheck(ty, types)
            }
        }

        unsafe impl Lift for $name {
            fn linear_lift_from_flat(
                cx: &mut LiftContext<'_>,
                ty: InterfaceType,
                src: &Self::Lower,
            ) -> wasmtime::Result<Self> {
                charge_string(cx, flat_len(src), budget()?.$cap, $limit)?;
                Ok($name(String::linear_lift_from_flat(cx, ty, src)?))
            }

            fn linear_lift_from_memory(
                cx: &mut LiftContext<'_>,
                ty: InterfaceType,
                bytes: &[u8],
            ) -> wasmtime::Result<Self> {
                charge_string(cx, memory_pair(bytes)?.1, budget()?.$cap, $limit)?;
                Ok($name(String::linear_lift_from_memory(cx, ty, bytes)?))
            }
        }
    };
}

capped_string!(
    /// An id or a denial reason: at most [`Budget::string_bytes`].
    Text,
    string_bytes,
    Limit::StringBytes
);
capped_string!(
    /// A patched manifest: at most [`Budget::manifest_bytes`].
    ManifestText,
    manifest_bytes,
    Limit::PatchBytes
);

/// A guest's error message: the call failed anyway, so rather than refuse a long one the
/// host keeps its first [`Budget::string_bytes`] and says how long it was.
#[derive(Debug)]
pub(crate) struct ErrorText(pub(crate) String);

unsafe impl ComponentType for ErrorText {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <str as ComponentType>::typecheck(ty, types)
    }
}

unsafe impl Lift for ErrorText {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        prefix(cx, src[0].get_u32() as usize, flat_len(src))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let (ptr, len) = memory_pair(bytes)?;
        prefix(cx, ptr, len)
    }
}

/// The first `string_bytes` of the string at `ptr`, decoded from the guest's encoding.
fn prefix(cx: &LiftContext<'_>, ptr: usize, len: usize) -> wasmtime::Result<ErrorText> {
    const UTF16_TAG: usize = 1 << 31;
    let cap = budget()?.string_bytes;
    let memory = cx.memory();
    let out_of_bounds = || wasmtime::format_err!("string pointer/length out of bounds of memory");
    let (units, unit_bytes, latin1) = match cx.options().string_encoding {
        StringEncoding::Utf8 => (len, 1, false),
        StringEncoding::Utf16 => (len, 2, false),
        StringEncoding::CompactUtf16 if len & UTF16_TAG != 0 => (len ^ UTF16_TAG, 2, false),
        StringEncoding::CompactUtf16 => (len, 1, true),
    };
    let total = units.checked_mul(unit_bytes).ok_or_else(out_of_bounds)?;
    let whole = ptr
        .checked_add(total)
        .and_then(|end| memory.get(ptr..end))
        .ok_or_else(out_of_bounds)?;
    let kept = &whole[..total.min(cap.saturating_mul(unit_bytes))];
    let mut text = match (unit_bytes, latin1) {
        (1, false) => String::from_utf8_lossy(kept).into_owned(),
        (1, true) => kept.iter().map(|&b| char::from(b)).collect(),
        _ => char::decode_utf16(
            kept.chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
    };
    if kept.len() < total {
        text.push_str(&format!(
            " … (the message has {total} bytes; the first {cap} are kept: `limits.stringBytes`)"
        ));
    }
    Ok(ErrorText(text))
}

/// `denial` of the contract.
#[derive(Debug, wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(record)]
pub(crate) struct Denial {
    #[component(name = "hook-id")]
    pub(crate) hook_id: Option<Text>,
    pub(crate) reason: Text,
}

/// `patch` of the contract.
#[derive(Debug, wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(record)]
pub(crate) struct Patch {
    #[component(name = "hook-id")]
    pub(crate) hook_id: Text,
    pub(crate) manifest: ManifestText,
}

/// `schedule` of contract 0.2.0: an order, or waves. Both are bounded by the hooks: at
/// most one id per hook, and at most as many waves as hooks (a wave holds one at least).
#[derive(Debug, wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(variant)]
pub(crate) enum Schedule {
    #[component(name = "order")]
    Order(Items<Text>),
    #[component(name = "waves")]
    Waves(Items<Wave>),
}

/// The result of a role's function, as lifted: the answer, or the guest's error.
pub(crate) type Answer<T> = (Result<T, ErrorText>,);
