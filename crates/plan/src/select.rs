//! Running some hooks of an event only: `--hook` and `--exclude-hook`, the way
//! `helm test --filter name=…,!name=…` picks test hooks.

use std::fmt;
use std::str::FromStr;

use crate::{Hook, Plan, PlanError};

/// A hook named on the command line: `KIND/NAME` (any namespace), or the hook's id with
/// the namespace its manifest names, `KIND/NAMESPACE/NAME`. The kind matches
/// case-insensitively, as in `kubectl get job/x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSelector {
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl HookSelector {
    pub fn matches(&self, hook: &Hook) -> bool {
        hook.kind.eq_ignore_ascii_case(&self.kind)
            && hook.name == self.name
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| hook.namespace.as_ref() == Some(ns))
    }
}

impl FromStr for HookSelector {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let parts: Vec<&str> = value.split('/').collect();
        let selector = match parts.as_slice() {
            [kind, name] => HookSelector {
                kind: (*kind).to_owned(),
                namespace: None,
                name: (*name).to_owned(),
            },
            [kind, namespace, name] => HookSelector {
                kind: (*kind).to_owned(),
                namespace: Some((*namespace).to_owned()),
                name: (*name).to_owned(),
            },
            _ => {
                return Err(format!(
                    "`{value}` is not `KIND/NAME` or `KIND/NAMESPACE/NAME`"
                ));
            }
        };
        if selector.kind.is_empty()
            || selector.name.is_empty()
            || selector.namespace.as_ref().is_some_and(String::is_empty)
        {
            return Err(format!(
                "`{value}` has an empty part; write e.g. `Job/db-migrate`"
            ));
        }
        Ok(selector)
    }
}

impl fmt::Display for HookSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{ns}/{}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Which hooks of an event run: all but the excluded ones, and of those only the
/// included ones when any are named. As Helm's test filter: exclusions first, so a hook
/// both included and excluded does not run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub include: Vec<HookSelector>,
    pub exclude: Vec<HookSelector>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    fn keeps(&self, hook: &Hook) -> bool {
        !self.exclude.iter().any(|s| s.matches(hook))
            && (self.include.is_empty() || self.include.iter().any(|s| s.matches(hook)))
    }
}

impl Plan {
    /// Keeps the hooks `selection` picks, in plan order, renumbered, each tie-break
    /// recomputed against its new neighbour. A selector that names no hook of the event
    /// is an error listing the event's hooks (Helm ignores an unknown name silently, so a
    /// typo runs every test).
    pub fn select(mut self, selection: &Selection) -> Result<Plan, PlanError> {
        if selection.is_empty() {
            return Ok(self);
        }
        let unknown = selection
            .include
            .iter()
            .chain(&selection.exclude)
            .find(|s| !self.hooks.iter().any(|p| s.matches(&p.hook)));
        if let Some(selector) = unknown {
            return Err(PlanError::UnknownHook {
                selector: selector.to_string(),
                event: self.event,
                hooks: self.hooks.iter().map(|p| p.hook.id.clone()).collect(),
            });
        }
        let ordering = self.ordering;
        self.hooks.retain(|p| selection.keeps(&p.hook));
        for index in 0..self.hooks.len() {
            let tie_break = match index.checked_sub(1).map(|i| &self.hooks[i].hook) {
                Some(previous) if previous.weight == self.hooks[index].hook.weight => Some(
                    crate::plan::tie_break(previous, &self.hooks[index].hook, ordering),
                ),
                _ => None,
            };
            let planned = &mut self.hooks[index];
            planned.position = index + 1;
            planned.tie_break = tie_break;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Input, LoadOptions, Ordering, TieBreak};

    fn plan() -> Plan {
        let mut yaml = String::new();
        for (kind, name, ns) in [
            ("Pod", "a", None),
            ("Pod", "b", None),
            ("ConfigMap", "b", Some("other")),
            ("Pod", "c", None),
        ] {
            let api = "v1";
            yaml.push_str(&format!(
                "---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n{}  annotations:\n    helm.sh/hook: test\n",
                ns.map(|n| format!("  namespace: {n}\n")).unwrap_or_default()
            ));
        }
        crate::plan_inputs(
            &[Input::Text {
                name: "t.yaml".into(),
                content: yaml,
            }],
            &LoadOptions::default(),
            Event::Test,
            Ordering::Helm,
        )
        .unwrap()
    }

    fn selection(include: &[&str], exclude: &[&str]) -> Selection {
        Selection {
            include: include.iter().map(|s| s.parse().unwrap()).collect(),
            exclude: exclude.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn ids(plan: &Plan) -> Vec<(usize, String, Option<TieBreak>)> {
        plan.hooks
            .iter()
            .map(|p| (p.position, p.hook.id.clone(), p.tie_break))
            .collect()
    }

    #[test]
    fn include_keeps_plan_order_and_renumbers() {
        let selected = plan().select(&selection(&["pod/c", "Pod/a"], &[])).unwrap();
        assert_eq!(
            ids(&selected),
            [
                (1, "Pod/a".into(), None),
                (2, "Pod/c".into(), Some(TieBreak::Name))
            ]
        );
    }

    #[test]
    fn exclude_goes_first_as_in_helm_test_filter() {
        let selected = plan()
            .select(&selection(&["Pod/a", "Pod/b"], &["Pod/b"]))
            .unwrap();
        assert_eq!(ids(&selected), [(1, "Pod/a".into(), None)]);
        let selected = plan().select(&selection(&[], &["Pod/b"])).unwrap();
        let names: Vec<_> = selected.hooks.iter().map(|p| p.hook.id.as_str()).collect();
        assert_eq!(names, ["Pod/a", "ConfigMap/other/b", "Pod/c"]);
    }

    #[test]
    fn namespace_narrows_a_selector() {
        let selected = plan()
            .select(&selection(&["ConfigMap/other/b"], &[]))
            .unwrap();
        assert_eq!(ids(&selected), [(1, "ConfigMap/other/b".into(), None)]);
        assert!(
            plan()
                .select(&selection(&["ConfigMap/apps/b"], &[]))
                .is_err()
        );
    }

    #[test]
    fn unknown_hook_lists_the_events_hooks() {
        let error = plan().select(&selection(&[], &["Job/a"])).unwrap_err();
        assert_eq!(error.to_string(), "no hook `Job/a` in event `test`");
        assert_eq!(
            error.hint().unwrap(),
            "the hooks of `test` are: Pod/a, ConfigMap/other/b, Pod/b, Pod/c"
        );
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for bad in ["Job", "Job/", "/x", "a/b/c/d", "Job//x"] {
            assert!(bad.parse::<HookSelector>().is_err(), "{bad}");
        }
    }
}
