//! A well-behaved validator, except that it speaks `kubectl-hooks:policy@0.9.0`: a copy of
//! the contract with only the version changed. The host must refuse it by name and version.

// wit-bindgen's generated ABI glue (exports with `export_name`, raw pointers) is unsafe
// by nature; the code written here has none.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "wit",
    world: "validator",
});

struct Future;

impl exports::kubectl_hooks::policy::validate::Guest for Future {
    fn validate(
        _ctx: kubectl_hooks::policy::types::Context,
        _hooks: Vec<kubectl_hooks::policy::types::Hook>,
    ) -> Result<Vec<kubectl_hooks::policy::types::Denial>, String> {
        Ok(Vec::new())
    }
}

export!(Future);
