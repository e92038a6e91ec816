//! Hooks of one event in execution order.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::kind_order::compare_kinds;
use crate::scope::DEFAULT_NAMESPACE;
use crate::{Catalog, Event, Hook, PlanError, Skipped};

/// How hooks of equal weight are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// What Helm really does: a stable sort by (weight, name) over the kind-sorted input,
    /// so ties go weight → name → kind → input order.
    #[default]
    Helm,
    /// What Helm's documentation describes: weight → kind → name → input order.
    Documented,
}

impl Ordering {
    pub fn as_str(self) -> &'static str {
        match self {
            Ordering::Helm => "helm",
            Ordering::Documented => "documented",
        }
    }
}

impl fmt::Display for Ordering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Ordering {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "helm" => Ok(Ordering::Helm),
            "documented" => Ok(Ordering::Documented),
            other => Err(format!(
                "unknown ordering `{other}` (use `helm` or `documented`)"
            )),
        }
    }
}

/// Which rule put a hook after its neighbour of equal weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    Name,
    Kind,
    InputOrder,
}

impl TieBreak {
    pub fn as_str(self) -> &'static str {
        match self {
            TieBreak::Name => "name",
            TieBreak::Kind => "kind",
            TieBreak::InputOrder => "input order",
        }
    }
}

/// The hooks one event runs, in order, with everything Helm would have done silently.
#[derive(Debug, Clone)]
pub struct Plan {
    pub event: Event,
    pub ordering: Ordering,
    pub hooks: Vec<PlannedHook>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedHook {
    /// 1-based.
    pub position: usize,
    pub hook: Hook,
    /// For a hook with the same weight as the one before it: the rule that decided.
    pub tie_break: Option<TieBreak>,
}

impl Catalog {
    /// The hooks of `event` in execution order, for a release in the namespace
    /// [`DEFAULT_NAMESPACE`]. Fails when two of them are the same Kubernetes object,
    /// which Helm would apply twice in one event.
    pub fn plan(&self, event: Event, ordering: Ordering) -> Result<Plan, PlanError> {
        self.clone().into_plan(event, ordering)
    }

    /// [`Catalog::plan`] without copying the hooks, for a single event.
    pub fn into_plan(self, event: Event, ordering: Ordering) -> Result<Plan, PlanError> {
        self.into_plan_in(event, ordering, DEFAULT_NAMESPACE)
    }

    /// [`Catalog::into_plan`] for a release in `namespace`, where hooks that name no
    /// namespace go: a hook without one and a hook naming `namespace` are one object.
    pub fn into_plan_in(
        self,
        event: Event,
        ordering: Ordering,
        namespace: &str,
    ) -> Result<Plan, PlanError> {
        let mut selected: Vec<usize> = (0..self.hooks.len())
            .filter(|&i| self.hooks[i].events.contains(&event))
            .collect();
        check_duplicates(&self.hooks, &selected, event, namespace)?;
        let hooks = &self.hooks;
        // Stable sorts over the kind-sorted catalogue, exactly like Helm's sort.Stable.
        match ordering {
            Ordering::Helm => selected.sort_by(|&a, &b| {
                let (a, b) = (&hooks[a], &hooks[b]);
                a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name))
            }),
            Ordering::Documented => selected.sort_by(|&a, &b| {
                let (a, b) = (&hooks[a], &hooks[b]);
                a.weight
                    .cmp(&b.weight)
                    .then_with(|| compare_kinds(&a.kind, &b.kind))
                    .then_with(|| a.name.cmp(&b.name))
            }),
        }
        let mut planned: Vec<PlannedHook> = Vec::with_capacity(selected.len());
        let mut warnings = self.warnings;
        let mut hooks: Vec<Option<Hook>> = self.hooks.into_iter().map(Some).collect();
        for &index in &selected {
            let Some(mut hook) = hooks[index].take() else {
                continue;
            };
            let tie_break = planned
                .last()
                .filter(|previous| previous.hook.weight == hook.weight)
                .map(|previous| tie_break(&previous.hook, &hook, ordering));
            warnings.append(&mut hook.warnings);
            planned.push(PlannedHook {
                position: planned.len() + 1,
                hook,
                tie_break,
            });
        }
        Ok(Plan {
            event,
            ordering,
            hooks: planned,
            skipped: self.skipped,
            warnings,
        })
    }
}

pub(crate) fn tie_break(previous: &Hook, hook: &Hook, ordering: Ordering) -> TieBreak {
    let kind_differs = compare_kinds(&previous.kind, &hook.kind) != std::cmp::Ordering::Equal;
    let name_differs = previous.name != hook.name;
    match ordering {
        Ordering::Helm if name_differs => TieBreak::Name,
        Ordering::Documented if kind_differs => TieBreak::Kind,
        Ordering::Documented if name_differs => TieBreak::Name,
        _ if kind_differs => TieBreak::Kind,
        _ => TieBreak::InputOrder,
    }
}

/// Two hooks of one event that name the same object would overwrite each other; Helm
/// lets that happen, we refuse. The same object means the same group, kind, resolved
/// namespace and name: `batch/v1` and `batch/v1beta1` Jobs called `x` are one object,
/// and so are a hook with no namespace and one naming the release's namespace.
fn check_duplicates(
    hooks: &[Hook],
    selected: &[usize],
    event: Event,
    namespace: &str,
) -> Result<(), PlanError> {
    let mut seen: HashMap<(&str, &str, Option<&str>, &str), usize> = HashMap::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for &index in selected {
        let hook = &hooks[index];
        let resolved = hook.resolved_namespace(namespace);
        let key = (
            hook.group(),
            hook.kind.as_str(),
            resolved,
            hook.name.as_str(),
        );
        let same_object = seen.insert(key, index);
        let same_id = ids.insert(hook.id.as_str(), index);
        if let Some(first) = same_object.or(same_id) {
            let (first, second) = if hooks[first].input_position <= hook.input_position {
                (&hooks[first], hook)
            } else {
                (hook, &hooks[first])
            };
            return Err(PlanError::DuplicateHook {
                ids: Box::new([first.id.clone(), second.id.clone()]),
                object: match resolved {
                    Some(ns) => format!("{}/{} in namespace `{ns}`", hook.kind, hook.name),
                    None => format!("{}/{}", hook.kind, hook.name),
                },
                event,
                first: Box::new(first.location.clone()),
                second: Box::new(second.location.clone()),
            });
        }
    }
    Ok(())
}

impl Serialize for Plan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Plan", 5)?;
        s.serialize_field("event", &self.event)?;
        s.serialize_field("ordering", &self.ordering)?;
        s.serialize_field("hooks", &self.hooks)?;
        s.serialize_field("skipped", &self.skipped)?;
        s.serialize_field("warnings", &self.warnings)?;
        s.end()
    }
}

impl Serialize for PlannedHook {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let h = &self.hook;
        let mut s = serializer.serialize_struct("Hook", 14)?;
        s.serialize_field("position", &self.position)?;
        s.serialize_field("id", &h.id)?;
        s.serialize_field("apiVersion", &h.api_version)?;
        s.serialize_field("kind", &h.kind)?;
        s.serialize_field("name", &h.name)?;
        s.serialize_field("namespace", &h.namespace)?;
        s.serialize_field("weight", &h.weight)?;
        s.serialize_field("events", &h.events)?;
        s.serialize_field("deletePolicies", &h.effective_delete_policies())?;
        s.serialize_field("outputLogPolicies", &h.output_log_policies)?;
        s.serialize_field("source", &h.source)?;
        s.serialize_field("document", &h.document)?;
        s.serialize_field("tieBreak", &self.tie_break)?;
        s.end()
    }
}
