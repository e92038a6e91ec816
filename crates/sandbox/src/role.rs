//! The roles of the contract, and the contract's name and versions.

use std::fmt;

use serde::Serialize;

/// The newest version of `kubectl-hooks:policy` this host speaks.
pub const CONTRACT_VERSION: &str = Contract::NEWEST.version();
pub(crate) const CONTRACT_PACKAGE: &str = "kubectl-hooks:policy";

/// A version of the contract the host speaks. Each role of a component is called with
/// the types of the version it was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Contract {
    /// `wit/policy.wit`: one order per orderer.
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `wit/v0.2.0/policy.wit`: orderers may answer waves; hooks carry their wave and
    /// timeout.
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl Contract {
    /// Oldest first.
    pub const ALL: [Contract; 2] = [Contract::V0_1, Contract::V0_2];
    pub const NEWEST: Contract = Contract::V0_2;

    pub const fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    pub fn from_version(version: &str) -> Option<Contract> {
        Contract::ALL.into_iter().find(|c| c.version() == version)
    }

    /// `@0.1.0 and @0.2.0`, for messages.
    pub fn spoken() -> String {
        let versions: Vec<String> = Contract::ALL
            .iter()
            .map(|c| format!("@{}", c.version()))
            .collect();
        versions.join(" and ")
    }
}

impl fmt::Display for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{CONTRACT_PACKAGE}@{}", self.version())
    }
}

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

    /// The export that implements the role in `contract`, e.g.
    /// `kubectl-hooks:policy/mutate@0.1.0`.
    pub fn export_name(self, contract: Contract) -> String {
        format!(
            "{CONTRACT_PACKAGE}/{}@{}",
            self.as_str(),
            contract.version()
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
