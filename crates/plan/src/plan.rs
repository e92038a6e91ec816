//! Hooks of one event in execution order.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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

/// Where a plan's waves come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "camelCase")]
pub enum Waves {
    /// Runs of consecutive hooks of equal weight: what `run --parallel` does unless an
    /// orderer says otherwise.
    Weight,
    /// The last orderer that reordered the plan answered waves.
    Policy { policy: String },
}

/// What bounds a hook's waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeoutSource {
    /// Its own `kubectl-hooks.dev/timeout` annotation.
    Annotation,
    /// The run's `--timeout`.
    Default,
}

/// The hooks one event runs, in order, with everything Helm would have done silently.
#[derive(Debug, Clone)]
pub struct Plan {
    pub event: Event,
    pub ordering: Ordering,
    pub hooks: Vec<PlannedHook>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// Who grouped the hooks into waves.
    pub waves: Waves,
    /// What bounds the waits of hooks without a timeout of their own (`--timeout`);
    /// [`crate::DEFAULT_TIMEOUT`] unless the caller says otherwise.
    pub default_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct PlannedHook {
    /// 1-based.
    pub position: usize,
    pub hook: Hook,
    /// For a hook with the same weight as the one before it: the rule that decided.
    pub tie_break: Option<TieBreak>,
    /// 1-based. Hooks of one wave may run together (`run --parallel`); a wave is a run
    /// of consecutive hooks, and waves are numbered in plan order.
    pub wave: usize,
}

impl Plan {
    /// The hooks of each wave, in plan order.
    pub fn waves(&self) -> impl Iterator<Item = &[PlannedHook]> {
        self.hooks.chunk_by(|a, b| a.wave == b.wave)
    }

    pub fn wave_count(&self) -> usize {
        self.hooks.last().map_or(0, |h| h.wave)
    }

    /// Numbers the waves as runs of consecutive hooks of equal weight.
    pub fn waves_by_weight(&mut self) {
        let mut wave = 0;
        let mut previous: Option<i64> = None;
        for planned in &mut self.hooks {
            if previous != Some(planned.hook.weight) {
                wave += 1;
                previous = Some(planned.hook.weight);
            }
            planned.wave = wave;
        }
        self.waves = Waves::Weight;
    }

    /// Puts the hooks in the order `permutation` gives (for each new position, the index
    /// of the hook in the current order) and numbers the waves by weight again. Tie-breaks
    /// are cleared: they explained Helm's order, and this one has another reason.
    pub fn reorder(&mut self, permutation: &[usize]) {
        let mut current: Vec<Option<PlannedHook>> = std::mem::take(&mut self.hooks)
            .into_iter()
            .map(Some)
            .collect();
        for (position, &from) in permutation.iter().enumerate() {
            let Some(mut hook) = current.get_mut(from).and_then(Option::take) else {
                continue;
            };
            hook.position = position + 1;
            hook.tie_break = None;
            self.hooks.push(hook);
        }
        // Whatever a caller's permutation left out keeps its relative order at the end,
        // so that no hook is ever lost.
        for hook in current.into_iter().flatten() {
            let mut hook = hook;
            hook.position = self.hooks.len() + 1;
            hook.tie_break = None;
            self.hooks.push(hook);
        }
        self.waves_by_weight();
    }

    /// Groups the hooks, in their current order, into waves of the given sizes, as
    /// `policy` answered. Sizes that do not add up to the hooks leave the rest in one
    /// last wave.
    pub fn set_waves(&mut self, sizes: &[usize], policy: &str) {
        let mut waves = sizes
            .iter()
            .enumerate()
            .flat_map(|(wave, &size)| std::iter::repeat_n(wave + 1, size));
        let last = sizes.len() + 1;
        for planned in &mut self.hooks {
            planned.wave = waves.next().unwrap_or(last);
        }
        self.waves = Waves::Policy {
            policy: policy.to_owned(),
        };
    }

    /// How long `hook` may wait, and why.
    pub fn timeout_of(&self, hook: &PlannedHook) -> (Duration, TimeoutSource) {
        match hook.hook.timeout {
            Some(timeout) => (timeout, TimeoutSource::Annotation),
            None => (self.default_timeout, TimeoutSource::Default),
        }
    }
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
                wave: 0,
            });
        }
        let mut plan = Plan {
            event,
            ordering,
            hooks: planned,
            skipped: self.skipped,
            warnings,
            waves: Waves::Weight,
            default_timeout: crate::DEFAULT_TIMEOUT,
        };
        plan.waves_by_weight();
        Ok(plan)
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
        let mut s = serializer.serialize_struct("Plan", 6)?;
        s.serialize_field("event", &self.event)?;
        s.serialize_field("ordering", &self.ordering)?;
        let hooks: Vec<HookView<'_>> = self
            .hooks
            .iter()
            .map(|planned| HookView {
                planned,
                timeout: self.timeout_of(planned),
            })
            .collect();
        s.serialize_field("hooks", &hooks)?;
        s.serialize_field("waves", &self.waves)?;
        s.serialize_field("skipped", &self.skipped)?;
        s.serialize_field("warnings", &self.warnings)?;
        s.end()
    }
}

/// A planned hook as the plan JSON shows it: with its effective timeout, which needs the
/// plan's default.
struct HookView<'a> {
    planned: &'a PlannedHook,
    timeout: (Duration, TimeoutSource),
}

impl Serialize for HookView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let h = &self.planned.hook;
        let planned = self.planned;
        let mut s = serializer.serialize_struct("Hook", 17)?;
        s.serialize_field("position", &planned.position)?;
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
        s.serialize_field("tieBreak", &planned.tie_break)?;
        s.serialize_field("wave", &planned.wave)?;
        let (timeout, from) = self.timeout;
        s.serialize_field(
            "timeoutMs",
            &u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        )?;
        s.serialize_field("timeoutFrom", &from)?;
        s.end()
    }
}
