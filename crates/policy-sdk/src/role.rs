//! The three roles. They are plain associated functions so native code (tests, the
//! benchmark) calls exactly the logic the component runs: `DenyPrivileged::validate(&ctx, &hooks)`.

use crate::{Context, Denial, Hook, Patch};

/// Allows or denies an event. An empty list allows it; `Err` is a policy error.
pub trait Validator {
    fn validate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String>;
}

/// Changes hook manifests: one patch per hook to change.
pub trait Mutator {
    fn mutate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Patch>, String>;
}

/// Changes the execution order: every hook id exactly once, in the order to run them.
pub trait Orderer {
    fn order(ctx: &Context, hooks: &[Hook]) -> Result<Vec<String>, String>;
}
