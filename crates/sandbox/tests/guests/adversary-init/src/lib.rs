//! A validator that never gets to validate: a static constructor, which runs while the
//! component is instantiated, sleeps for an hour inside a WASI call. The host's time cap
//! must cover instantiation, and reach into host calls.

// wit-bindgen's generated ABI glue and the constructor's link section are unsafe by
// nature; the code written here has none.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "../../../../../wit",
    world: "validator",
});

use exports::kubectl_hooks::policy::validate;
use kubectl_hooks::policy::types::{Context, Denial, Hook};

/// A reactor's `_initialize` is called while the component is instantiated, before any
/// export can be.
#[unsafe(export_name = "_initialize")]
pub extern "C" fn initialize() {
    std::thread::sleep(std::time::Duration::from_secs(3600));
}

struct Sleeper;

impl validate::Guest for Sleeper {
    fn validate(_ctx: Context, _hooks: Vec<Hook>) -> Result<Vec<Denial>, String> {
        Ok(Vec::new())
    }
}

export!(Sleeper);
