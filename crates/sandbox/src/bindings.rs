//! Host bindings generated from `wit/`. Private: the rest of the crate speaks in
//! `hooks_plan` types and converts at the boundary, so a contract change touches one place.
//!
//! Contract 0.1.0 (`wit/policy.wit`) is generated here at the top; 0.2.0
//! (`wit/v0.2.0/policy.wit`) in [`v2`]. Each version's types are distinct Rust types, so
//! a role is always called with the types of the version it was built against.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "policy",
});

pub(crate) mod v2 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.2.0",
        world: "policy",
    });
}
