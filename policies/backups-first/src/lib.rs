//! Moves hooks marked as backups to the front of their event, keeping every other
//! relative order (a stable partition). See README.md.

use hooks_policy_sdk::{Context, Hook, Orderer, log};
use serde::Deserialize;

pub const DEFAULT_KEY: &str = "hooks.kubectl-hooks.dev/backup";

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The label or annotation key that marks a backup hook.
    pub label: String,
    /// The value it must have; `null` means any value.
    pub value: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            label: DEFAULT_KEY.to_owned(),
            value: Some("true".to_owned()),
        }
    }
}

impl Settings {
    fn marks(&self, hook: &Hook) -> bool {
        [hook.label(&self.label), hook.annotation(&self.label)]
            .into_iter()
            .flatten()
            .any(|v| self.value.as_deref().is_none_or(|want| v == want))
    }
}

#[derive(Debug)]
pub struct BackupsFirst;

impl Orderer for BackupsFirst {
    fn order(ctx: &Context, hooks: &[Hook]) -> Result<Vec<String>, String> {
        let settings: Settings = ctx.settings_as()?;
        if settings.label.is_empty() {
            return Err("setting `label` must not be empty".to_owned());
        }
        let (backups, rest): (Vec<&Hook>, Vec<&Hook>) =
            hooks.iter().partition(|h| settings.marks(h));
        let moved = backups
            .iter()
            .enumerate()
            .filter(|(i, b)| hooks[*i].id != b.id)
            .count();
        if moved > 0 {
            let ids: Vec<&str> = backups.iter().map(|h| h.id.as_str()).collect();
            log::info(&format!("running backups first: {}", ids.join(", ")));
        }
        Ok(backups
            .into_iter()
            .chain(rest)
            .map(|h| h.id.clone())
            .collect())
    }
}

hooks_policy_sdk::export_orderer!(BackupsFirst);

#[cfg(test)]
mod tests;
