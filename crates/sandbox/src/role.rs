//! The roles of the contract, and the contract's name and version.

use std::fmt;

use serde::Serialize;

/// The version of `kubectl-hooks:policy` this host speaks.
pub const CONTRACT_VERSION: &str = "0.1.0";
pub(crate) const CONTRACT_PACKAGE: &str = "kubectl-hooks:policy";

/// One of the three things a policy can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mutate,
    Order,
    Validate,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Mutate, Role::Order, Role::Validate];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mutate => "mutate",
            Role::Order => "order",
            Role::Validate => "validate",
        }
    }

    /// The export that implements the role, e.g. `kubectl-hooks:policy/mutate@0.1.0`.
    pub fn export_name(self) -> String {
        format!("{CONTRACT_PACKAGE}/{}@{CONTRACT_VERSION}", self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
