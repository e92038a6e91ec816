//! Installed Helm releases as a source of hooks, and the hook objects they (or our own
//! runs) left in the cluster.
//!
//! - [`storage`]: Helm's release records (`pkg/storage/driver`), decoded with every step
//!   bounded: base64, gzip (at most [`storage::MAX_RELEASE_BYTES`] inflated), JSON.
//! - [`ReleaseStore`]: a namespace's records read through the `secret` or `configmap`
//!   driver; a revision's hooks become a [`hooks_plan::Catalog`] planned exactly as
//!   manifests are. Read-only: Helm's storage is never written, so a hook's `last_run`
//!   stays what Helm recorded.

mod error;
pub mod storage;
mod store;

pub use error::{ErrorClass, ReleaseError, Revision};
pub use storage::{Driver, Status};
pub use store::{Release, ReleaseStore, Which};
