use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::PlanError;

/// A Helm lifecycle event a hook can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    PreInstall,
    PostInstall,
    PreUpgrade,
    PostUpgrade,
    PreDelete,
    PostDelete,
    PreRollback,
    PostRollback,
    Test,
}

impl Event {
    pub const ALL: [Event; 9] = [
        Event::PreInstall,
        Event::PostInstall,
        Event::PreUpgrade,
        Event::PostUpgrade,
        Event::PreDelete,
        Event::PostDelete,
        Event::PreRollback,
        Event::PostRollback,
        Event::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::PreInstall => "pre-install",
            Event::PostInstall => "post-install",
            Event::PreUpgrade => "pre-upgrade",
            Event::PostUpgrade => "post-upgrade",
            Event::PreDelete => "pre-delete",
            Event::PostDelete => "post-delete",
            Event::PreRollback => "pre-rollback",
            Event::PostRollback => "post-rollback",
            Event::Test => "test",
        }
    }

    /// Parses one already trimmed and lower-cased value of `helm.sh/hook`, the way Helm's
    /// manifest sorter does: `test-success` is Helm's old name for `test`.
    pub fn from_annotation_value(value: &str) -> Option<Event> {
        match value {
            "test-success" => Some(Event::Test),
            _ => Event::ALL.into_iter().find(|e| e.as_str() == value),
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::from_annotation_value(&s.trim().to_ascii_lowercase())
            .ok_or_else(|| PlanError::UnknownEvent(s.to_owned()))
    }
}
