//! Guest-side SDK for writing kubectl-hooks policies in Rust.
//!
//! A policy is a type implementing one or more roles ([`Validator`], [`Mutator`],
//! [`Orderer`]) over plain Rust types ([`Context`], [`Hook`], [`Denial`], [`Patch`]),
//! exported with [`export_validator!`], [`export_mutator!`], [`export_orderer!`] or
//! [`export_policy!`]. Built for `wasm32-wasip2` it is a component of the
//! `kubectl-hooks:policy@0.1.0` contract (`wit/policy.wit`), or of 0.2.0
//! (`wit/v0.2.0/policy.wit`) for a [`Scheduler`], which may answer waves; built natively the same
//! functions can be called directly, which is how policies are unit-tested and
//! benchmarked:
//!
//! ```
//! use hooks_policy_sdk::{Context, Denial, Event, Hook, Validator};
//!
//! struct NoPods;
//!
//! impl Validator for NoPods {
//!     fn validate(_ctx: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String> {
//!         Ok(hooks
//!             .iter()
//!             .filter(|h| h.kind == "Pod")
//!             .map(|h| Denial::hook(h, "bare pods are not allowed as hooks"))
//!             .collect())
//!     }
//! }
//! hooks_policy_sdk::export_validator!(NoPods);
//!
//! let hook = Hook::from_manifest(serde_json::json!({
//!     "kind": "Pod",
//!     "metadata": {"name": "smoke", "annotations": {"helm.sh/hook": "test"}}
//! }))?;
//! let denials = NoPods::validate(&Context::new(Event::Test), &[hook])?;
//! assert_eq!(denials[0].hook_id.as_deref(), Some("Pod/smoke"));
//! # Ok::<(), String>(())
//! ```
//!
//! A panic in a component aborts the call: the host reports it as a trap and shows the
//! panic message, which the guest prints to stderr.

// The generated bindings name the SDK by its crate name so they also resolve when the
// export macros expand inside a policy crate.
#[cfg(target_arch = "wasm32")]
extern crate self as hooks_policy_sdk;

mod context;
mod event;
mod export;
mod hook;
pub mod log;
mod path;
pub mod pod;
mod role;
mod schedule;
#[cfg(feature = "testing")]
pub mod testing;
mod verdict;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use context::Context;
pub use event::Event;
pub use hook::Hook;
pub use path::FieldPath;
pub use pod::{ContainerKind, ContainerRef, PodSpecMut, PodSpecRef, pod_specs, pod_specs_mut};
pub use role::{Mutator, Orderer, Validator};
pub use schedule::{Schedule, Scheduler, TIMEOUT_ANNOTATION};
pub use serde_json;
pub use verdict::{Denial, Patch};

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
