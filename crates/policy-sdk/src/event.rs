use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Helm lifecycle event. `test-success` annotations arrive as [`Event::Test`].
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
    /// Every event, in Helm's documentation order.
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

    /// The name as written in `helm.sh/hook`.
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
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Event {
    type Err = String;

    /// Accepts what Helm accepts: trimmed, any case, `test-success` as `test`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "test-success" {
            return Ok(Event::Test);
        }
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == lower)
            .ok_or_else(|| format!("unknown hook event `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_names_and_aliases() {
        for e in Event::ALL {
            assert_eq!(e.as_str().parse::<Event>(), Ok(e));
        }
        assert_eq!(" Test-Success ".parse::<Event>(), Ok(Event::Test));
        assert!("pre-instal".parse::<Event>().is_err());
    }
}
