//! Host bindings generated from `wit/`. Private: the rest of the crate speaks in
//! `hooks_plan` types and converts at the boundary, so a contract change touches one place.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "policy",
});
