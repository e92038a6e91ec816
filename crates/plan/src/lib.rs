//! Reads rendered Kubernetes manifests and plans Helm-style hook execution.
//!
//! The flow is `load` (files, directories, stdin → documents) → `parse` (documents → hooks,
//! with Helm's annotation rules) → `plan` (hooks of one event in Helm's execution order).
//! Everything Helm does silently (dropping a document, turning a bad weight into 0, applying
//! a default delete policy) is reported as a [`Warning`].

mod duration;
mod error;
mod escape;
mod event;
mod hook;
mod kind_order;
mod load;
mod par;
mod parse;
mod plan;
mod scope;
mod select;
mod stored;
mod yaml;

pub use duration::{
    BadDuration, BadTimeout, DEFAULT_TIMEOUT, TIMEOUT_ANNOTATION, format_duration, parse_duration,
    parse_timeout,
};
pub use error::{Location, PlanError};
pub use escape::{escape, escape_bounded};
pub use event::Event;
pub use hook::{
    BEFORE_HOOK_CREATION, DeletePolicy, HOOK_FAILED, HOOK_SUCCEEDED, Hook, OutputLogPolicy,
    manifests_json, parse_weight,
};
pub use kind_order::{INSTALL_ORDER, install_rank};
pub use load::{Document, Format, Input, LoadOptions, Text, load};
pub use parse::{Catalog, Reading, Skipped, parse, parse_with};
pub use parse::{DELETE_ANNOTATION, HOOK_ANNOTATION, OUTPUT_LOG_ANNOTATION, WEIGHT_ANNOTATION};

pub use plan::{Ordering, Plan, PlannedHook, TieBreak, TimeoutSource, Waves};
pub use scope::{DEFAULT_NAMESPACE, is_cluster_scoped};
pub use select::{HookSelector, Selection};
pub use stored::{StoredDocument, stored_documents};

/// Loads, parses and plans in one call: the common path for the CLI.
pub fn plan_inputs(
    inputs: &[Input],
    options: &LoadOptions,
    event: Event,
    ordering: Ordering,
) -> Result<Plan, PlanError> {
    let documents = load(inputs, options)?;
    parse(&documents)?.into_plan(event, ordering)
}
