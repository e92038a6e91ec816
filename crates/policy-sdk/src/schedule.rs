//! Contract 0.2.0's additions for policy authors: an orderer that answers waves
//! ([`Scheduler`], exported with [`export_scheduler!`](crate::export_scheduler)), and a
//! mutator's patch that sets a hook's own timeout ([`Patch::timeout`]).

use std::time::Duration;

use serde_json::Value;

use crate::{Context, Hook, Patch};

/// The annotation that bounds one hook's waits instead of the run's `--timeout`.
pub const TIMEOUT_ANNOTATION: &str = "kubectl-hooks.dev/timeout";

/// What a [`Scheduler`] answers: one order (waves are then runs of equal weight), or the
/// waves themselves. Either way every hook id exactly once; the host checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Order(Vec<String>),
    /// Waves run one after the other; `kubectl hooks run --parallel` runs a wave's Jobs
    /// and Pods together. No wave may be empty.
    Waves(Vec<Vec<String>>),
}

impl Schedule {
    /// The waves as the host gave them (each hook's [`Hook::wave`]), unchanged.
    pub fn current(hooks: &[Hook]) -> Schedule {
        let mut waves: Vec<Vec<String>> = Vec::new();
        let mut last = None;
        for hook in hooks {
            if last != Some(hook.wave) || waves.is_empty() {
                waves.push(Vec::new());
                last = Some(hook.wave);
            }
            waves
                .last_mut()
                .expect("pushed above")
                .push(hook.id.clone());
        }
        Schedule::Waves(waves)
    }

    /// The current waves, with every hook for which `together` holds moved into one wave,
    /// where the first of them is; the other hooks keep their waves and order. Waves left
    /// empty are dropped.
    pub fn together(hooks: &[Hook], together: impl Fn(&Hook) -> bool) -> Schedule {
        let mut waves: Vec<Vec<String>> = Vec::new();
        let mut gathered: Option<usize> = None;
        let mut last = None;
        for hook in hooks {
            let joins = together(hook);
            if last != Some(hook.wave) || waves.is_empty() {
                waves.push(Vec::new());
                last = Some(hook.wave);
            }
            let wave = match (joins, gathered) {
                (true, Some(wave)) => wave,
                (true, None) => {
                    gathered = Some(waves.len() - 1);
                    waves.len() - 1
                }
                (false, _) => waves.len() - 1,
            };
            waves[wave].push(hook.id.clone());
        }
        waves.retain(|wave| !wave.is_empty());
        Schedule::Waves(waves)
    }

    /// The ids in the order they run.
    pub fn order(&self) -> Vec<&str> {
        match self {
            Schedule::Order(ids) => ids.iter().map(String::as_str).collect(),
            Schedule::Waves(waves) => waves.iter().flatten().map(String::as_str).collect(),
        }
    }
}

/// An orderer of contract 0.2.0: answers an order or waves.
pub trait Scheduler {
    fn schedule(ctx: &Context, hooks: &[Hook]) -> Result<Schedule, String>;
}

impl Patch {
    /// Sets the hook's own timeout (`kubectl-hooks.dev/timeout`), in the grammar of
    /// `--timeout`. The host takes it only from a policy configured with a
    /// `maxHookTimeout` at least this long.
    pub fn timeout(hook: &Hook, timeout: Duration) -> Patch {
        let mut manifest = hook.manifest.clone();
        if let Some(metadata) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(
                    TIMEOUT_ANNOTATION.to_owned(),
                    Value::String(format!("{}ms", timeout.as_millis())),
                );
            }
        }
        Patch::new(hook, manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(kind: &str, name: &str, wave: u32) -> Hook {
        let mut hook = Hook::from_manifest(json!({"apiVersion": "v1", "kind": kind,
            "metadata": {"name": name, "annotations": {"helm.sh/hook": "test"}}}))
        .unwrap();
        hook.wave = wave;
        hook
    }

    #[test]
    fn together_gathers_matching_hooks_where_the_first_one_is() {
        let hooks = [
            hook("ConfigMap", "cm", 1),
            hook("Pod", "a", 1),
            hook("Pod", "b", 2),
            hook("Job", "j", 3),
            hook("Pod", "c", 4),
        ];
        assert_eq!(
            Schedule::together(&hooks, |h| h.kind == "Pod"),
            Schedule::Waves(vec![
                vec![
                    "ConfigMap/cm".into(),
                    "Pod/a".into(),
                    "Pod/b".into(),
                    "Pod/c".into()
                ],
                vec!["Job/j".into()],
            ])
        );
        assert_eq!(
            Schedule::current(&hooks).order(),
            ["ConfigMap/cm", "Pod/a", "Pod/b", "Job/j", "Pod/c"]
        );
    }

    #[test]
    fn a_timeout_patch_sets_the_annotation() {
        let patch = Patch::timeout(&hook("Job", "j", 1), Duration::from_secs(90));
        assert_eq!(
            patch.manifest["metadata"]["annotations"][TIMEOUT_ANNOTATION],
            "90000ms"
        );
    }
}
