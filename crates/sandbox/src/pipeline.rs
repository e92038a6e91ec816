//! Policing one event, like Kubernetes admission: every mutator in configured order, then
//! every orderer, then every validator on the final plan, so validators judge exactly
//! what will be applied. Any denial vetoes the event.

use std::sync::Arc;

use hooks_plan::{Event, Plan};
use serde::Serialize;
use serde_json::Value;

use crate::answer::Schedule;
use crate::bindings::kubectl_hooks::policy::types as wit;
use crate::call::{Called, Input};
use crate::engine::GuestLog;
use crate::invariants::{
    Violation, changed_timeout, check_order, check_patch, check_patch_ids, check_waves, json_shape,
};
use crate::secrets::Masker;
use crate::{FailurePolicy, Policy, Role, SandboxError};

/// A loaded policy with what the configuration says about using it.
#[derive(Debug, Clone)]
pub struct ConfiguredPolicy {
    pub policy: Arc<Policy>,
    /// The events it applies to; `None` for all.
    pub events: Option<Vec<Event>>,
    /// Its settings as JSON text, given to every call.
    pub settings: String,
    pub failure_policy: FailurePolicy,
    /// The longest hook timeout its patches may set (`maxHookTimeout`); `None` refuses
    /// any change to a hook's timeout.
    pub max_hook_timeout: Option<std::time::Duration>,
}

impl ConfiguredPolicy {
    /// A policy on every event with settings `{}` that fails the event when it fails.
    pub fn with_defaults(policy: impl Into<Arc<Policy>>) -> ConfiguredPolicy {
        ConfiguredPolicy {
            policy: policy.into(),
            events: None,
            settings: "{}".into(),
            failure_policy: FailurePolicy::Fail,
            max_hook_timeout: None,
        }
    }

    pub fn applies_to(&self, event: Event) -> bool {
        self.events
            .as_ref()
            .is_none_or(|events| events.contains(&event))
    }
}

/// Facts about the run that policies may want to know.
#[derive(Debug, Clone, Default)]
pub struct PoliceContext {
    pub release: String,
    pub namespace: String,
    pub dry_run: bool,
}

/// The policed plan and every decision that shaped it, in the order they were made.
#[derive(Debug, Clone)]
pub struct Policed {
    /// The plan after every mutation and reordering.
    pub plan: Plan,
    pub decisions: Vec<Decision>,
    pub denied: bool,
}

impl Policed {
    pub fn denials(&self) -> impl Iterator<Item = (&str, Option<&str>, &str)> {
        self.decisions.iter().filter_map(|d| match d {
            Decision::Denial {
                policy,
                hook,
                reason,
            } => Some((policy.as_str(), hook.as_deref(), reason.as_str())),
            _ => None,
        })
    }
}

/// `{"decisions": […], "denied": bool}`: the `policies` section of the plan JSON.
impl Serialize for Policed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Policies", 2)?;
        s.serialize_field("decisions", &self.decisions)?;
        s.serialize_field("denied", &self.denied)?;
        s.end()
    }
}

/// One thing a policy did, or that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Decision {
    /// A mutator changed a hook's manifest.
    Mutation {
        policy: String,
        hook: String,
        /// A unified diff of the manifest, as YAML, before → after.
        diff: String,
        /// What re-reading the delete and output-log policies found odd.
        warnings: Vec<String>,
    },
    /// An orderer answered; `changed` tells whether it moved anything.
    Order {
        policy: String,
        before: Vec<String>,
        after: Vec<String>,
        changed: bool,
    },
    /// An orderer answered waves (contract 0.2.0): the waves before and after, each a
    /// list of hook ids; `changed` tells whether the order or the grouping changed.
    Waves {
        policy: String,
        before: Vec<Vec<String>>,
        after: Vec<Vec<String>>,
        changed: bool,
    },
    /// A validator allowed the event.
    Allow { policy: String },
    /// A validator vetoed the event, about one hook or (`hook` absent) the whole event.
    Denial {
        policy: String,
        hook: Option<String>,
        reason: String,
    },
    /// A policy failed and is configured `failurePolicy: Ignore`: its answer was dropped.
    /// `role` is the call that failed; absent when the policy could not even be loaded
    /// (it broke a limit by its shape), and then it did not run at all.
    IgnoredFailure {
        policy: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        error: String,
    },
    /// Something a policy logged or printed.
    Log(GuestLog),
}

/// Runs every applicable policy over `plan`. Returns the first failure of a policy
/// configured `failurePolicy: Fail`; a denial is not a failure (see [`Policed::denied`]).
pub fn police(
    plan: Plan,
    policies: &[ConfiguredPolicy],
    ctx: &PoliceContext,
) -> Result<Policed, SandboxError> {
    let mut run = Run::new(plan, ctx)?;
    let applicable: Vec<&ConfiguredPolicy> = policies
        .iter()
        .filter(|p| p.applies_to(run.plan.event))
        .collect();
    for role in Role::ALL {
        for configured in applicable.iter().filter(|p| p.policy.has_role(role)) {
            let outcome = match role {
                Role::Mutate => run.mutate(configured),
                Role::Order => run.order(configured),
                Role::Validate => run.validate(configured),
            };
            if let Err(error) = outcome {
                match configured.failure_policy {
                    FailurePolicy::Fail => return Err(error),
                    FailurePolicy::Ignore => run.decisions.push(Decision::IgnoredFailure {
                        policy: configured.policy.name().to_owned(),
                        role: Some(role),
                        error: error.to_string(),
                    }),
                }
            }
        }
    }
    let denied = run
        .decisions
        .iter()
        .any(|d| matches!(d, Decision::Denial { .. }));
    Ok(Policed {
        plan: run.plan,
        decisions: run.decisions,
        denied,
    })
}

/// The state of one event as policies change it: the plan, and its hooks as the guests
/// see them (converted once, updated on every patch).
struct Run<'a> {
    plan: Plan,
    hooks: Vec<wit::Hook>,
    decisions: Vec<Decision>,
    ctx: &'a PoliceContext,
    /// The values of the plan's Secrets, masked in whatever a policy says.
    masker: Arc<Masker>,
}

impl<'a> Run<'a> {
    fn new(plan: Plan, ctx: &'a PoliceContext) -> Result<Run<'a>, SandboxError> {
        // Every manifest as JSON, converted once for all policies, on all cores.
        let planned: Vec<&hooks_plan::Hook> = plan.hooks.iter().map(|p| &p.hook).collect();
        let hooks: Vec<wit::Hook> = hooks_plan::manifests_json(&planned)
            .into_iter()
            .zip(&planned)
            .map(|(json, hook)| to_wit(hook, json))
            .collect::<Result<_, _>>()?;
        let mut masker = Masker::default();
        for hook in hooks.iter().filter(|h| h.kind == "Secret") {
            if let Ok(manifest) = serde_json::from_str::<Value>(&hook.manifest) {
                masker.learn(&manifest);
            }
        }
        Ok(Run {
            plan,
            hooks,
            decisions: Vec::new(),
            ctx,
            masker: Arc::new(masker),
        })
    }

    fn context(&self, configured: &ConfiguredPolicy) -> wit::Context {
        wit::Context {
            event: wit_event(self.plan.event),
            release: self.ctx.release.clone(),
            namespace: self.ctx.namespace.clone(),
            settings: configured.settings.clone(),
            dry_run: self.ctx.dry_run,
        }
    }

    fn ids(&self) -> Vec<&str> {
        self.hooks.iter().map(|h| h.id.as_str()).collect()
    }

    /// What `policy`'s `role` is called with, in the types of its contract.
    fn input<'b>(&'b self, policy: &Policy, role: Role, ctx: &'b wit::Context) -> Input<'b> {
        let contract = policy.contract(role).unwrap_or(crate::Contract::V0_1);
        crate::contract::input(contract, ctx, &self.hooks, &self.plan)
    }

    /// The current waves, as lists of ids.
    fn waves(&self) -> Vec<Vec<String>> {
        self.plan
            .waves()
            .map(|wave| wave.iter().map(|h| h.hook.id.clone()).collect())
            .collect()
    }

    /// Keeps the guest's log lines whatever the outcome, then the answer.
    fn answer<T>(&mut self, called: Called<T>) -> Result<T, SandboxError> {
        self.decisions
            .extend(called.logs.into_iter().map(Decision::Log));
        called.answer
    }

    /// Guest text as a decision shows it: Secret values masked, escaped, bounded.
    fn shown(&self, policy: &Policy, text: &str) -> String {
        self.masker.shown(text, policy.limits().string_bytes)
    }

    fn mutate(&mut self, configured: &ConfiguredPolicy) -> Result<(), SandboxError> {
        let policy = &configured.policy;
        let ctx = self.context(configured);
        let input = self.input(policy, Role::Mutate, &ctx);
        let patches = self.answer(policy.call_mutate(&input, &self.masker))?;
        let masker = Arc::clone(&self.masker);
        let invalid = |v: Violation| invalid_answer(policy, Role::Mutate, v, &masker);
        let targets = check_patch_ids(&self.ids(), patches.iter().map(|p| p.hook_id.0.as_str()))
            .map_err(invalid)?;
        // Check every patch before applying any: an answer is taken whole or not at all.
        let limits = policy.limits();
        let mut changes = Vec::with_capacity(patches.len());
        for (patch, &index) in patches.iter().zip(&targets) {
            // Counted before parsing: a megabyte of `[0,0,…]` is half a million values,
            // tens of megabytes once parsed.
            json_shape(&patch.manifest.0, limits.json_nodes, limits.json_depth).map_err(
                |(limit, size, max)| SandboxError::Limit {
                    policy: policy.name().to_owned(),
                    role: Role::Mutate,
                    limit,
                    size: size as u64,
                    max: max as u64,
                },
            )?;
            let before: Value = serde_json::from_str(&self.hooks[index].manifest)
                .expect("the host's own manifest text is JSON");
            let after =
                check_patch(&patch.hook_id.0, &before, &patch.manifest.0).map_err(invalid)?;
            if let Some(timeout) = changed_timeout(&before, &after) {
                self.check_timeout(configured, &self.hooks[index].id, timeout)?;
            }
            if after != before {
                let size = self.hooks[index].manifest.len() + patch.manifest.0.len();
                changes.push((index, before, after, size));
            }
        }
        let mut masker = (*self.masker).clone();
        for (index, before, after, size) in changes {
            let hook = &mut self.plan.hooks[index].hook;
            let warnings = hook.replace_manifest(&after).map_err(|error| {
                invalid_answer(
                    policy,
                    Role::Mutate,
                    Violation {
                        hook: Some(hook.id.clone()),
                        problem: error.to_string(),
                    },
                    &self.masker,
                )
            })?;
            self.hooks[index] = to_wit(hook, hook.manifest_json())?;
            masker.learn(&after);
            self.decisions.push(Decision::Mutation {
                policy: policy.name().to_owned(),
                hook: hook.id.clone(),
                diff: self
                    .masker
                    .mask(&crate::diff::mutation_diff(
                        &before,
                        &after,
                        size,
                        limits.diff_lines,
                    ))
                    .into_owned(),
                warnings,
            });
        }
        self.masker = Arc::new(masker);
        Ok(())
    }

    /// A patch changed a hook's `kubectl-hooks.dev/timeout` to `timeout` (`None`:
    /// removed it): only a policy configured with `maxHookTimeout` may, to a valid
    /// timeout no longer than that.
    fn check_timeout(
        &self,
        configured: &ConfiguredPolicy,
        hook: &str,
        timeout: Option<&Value>,
    ) -> Result<(), SandboxError> {
        let policy = &configured.policy;
        let max = configured.max_hook_timeout;
        let shown = |value: &str| self.shown(policy, value);
        let refused = |value: String| SandboxError::HookTimeout {
            policy: policy.name().to_owned(),
            hook: shown(hook),
            value,
            max,
        };
        let Some(value) = timeout else {
            return match max {
                Some(_) => Ok(()),
                None => Err(refused("(removed)".into())),
            };
        };
        let Some(text) = value.as_str() else {
            return Err(invalid_answer(
                policy,
                Role::Mutate,
                Violation {
                    hook: Some(hook.to_owned()),
                    problem: format!(
                        "the patch sets `{}` to {}, which is not a string",
                        hooks_plan::TIMEOUT_ANNOTATION,
                        value
                    ),
                },
                &self.masker,
            ));
        };
        let quoted = format!("\"{}\"", shown(text));
        let duration = hooks_plan::parse_timeout(text).map_err(|problem| {
            invalid_answer(
                policy,
                Role::Mutate,
                Violation {
                    hook: Some(hook.to_owned()),
                    problem: format!(
                        "the patch sets `{}: {quoted}`, which is {problem}",
                        hooks_plan::TIMEOUT_ANNOTATION
                    ),
                },
                &self.masker,
            )
        })?;
        match max {
            Some(max) if duration <= max => Ok(()),
            _ => Err(refused(quoted)),
        }
    }

    fn order(&mut self, configured: &ConfiguredPolicy) -> Result<(), SandboxError> {
        let policy = &configured.policy;
        let ctx = self.context(configured);
        let input = self.input(policy, Role::Order, &ctx);
        let schedule = self.answer(policy.call_order(&input, &self.masker))?;
        let invalid =
            |v: Violation, masker: &Masker| invalid_answer(policy, Role::Order, v, masker);
        match schedule {
            Schedule::Order(answer) => {
                let order: Vec<String> = answer.0.into_iter().map(|id| id.0).collect();
                let before: Vec<String> = self.hooks.iter().map(|h| h.id.clone()).collect();
                let permutation =
                    check_order(&self.ids(), &order).map_err(|v| invalid(v, &self.masker))?;
                let changed = permutation.iter().enumerate().any(|(to, &from)| to != from);
                if changed {
                    self.reorder(&permutation);
                }
                self.decisions.push(Decision::Order {
                    policy: policy.name().to_owned(),
                    before,
                    after: order,
                    changed,
                });
            }
            Schedule::Waves(answer) => {
                let waves: Vec<Vec<String>> = answer
                    .0
                    .into_iter()
                    .map(|wave| wave.0.into_iter().map(|id| id.0).collect())
                    .collect();
                let before = self.waves();
                let (permutation, sizes) =
                    check_waves(&self.ids(), &waves).map_err(|v| invalid(v, &self.masker))?;
                let changed = before != waves;
                if changed {
                    if permutation.iter().enumerate().any(|(to, &from)| to != from) {
                        self.reorder(&permutation);
                    }
                    self.plan.set_waves(&sizes, policy.name());
                }
                self.decisions.push(Decision::Waves {
                    policy: policy.name().to_owned(),
                    before,
                    after: waves,
                    changed,
                });
            }
        }
        Ok(())
    }

    /// Puts the plan and the guests' view of it in the order `permutation` gives.
    fn reorder(&mut self, permutation: &[usize]) {
        self.plan.reorder(permutation);
        let mut hooks: Vec<Option<wit::Hook>> = std::mem::take(&mut self.hooks)
            .into_iter()
            .map(Some)
            .collect();
        self.hooks = permutation
            .iter()
            .map(|&from| hooks[from].take().expect("a permutation"))
            .collect();
    }

    fn validate(&mut self, configured: &ConfiguredPolicy) -> Result<(), SandboxError> {
        let policy = &configured.policy;
        let ctx = self.context(configured);
        let input = self.input(policy, Role::Validate, &ctx);
        let denials = self.answer(policy.call_validate(&input, &self.masker))?;
        if denials.is_empty() {
            self.decisions.push(Decision::Allow {
                policy: policy.name().to_owned(),
            });
        }
        // A denial about an id the plan does not have still denies: failing closed beats
        // dropping a veto over a typo.
        for denial in denials {
            let decision = Decision::Denial {
                policy: policy.name().to_owned(),
                hook: denial.hook_id.map(|id| self.shown(policy, &id.0)),
                reason: self.shown(policy, &denial.reason.0),
            };
            self.decisions.push(decision);
        }
        Ok(())
    }
}

/// A violation as the user sees it: it quotes the guest's answer, so it is masked and
/// escaped like everything else a policy says.
fn invalid_answer(
    policy: &Policy,
    role: Role,
    violation: Violation,
    masker: &Masker,
) -> SandboxError {
    let max = policy.limits().string_bytes;
    SandboxError::InvalidAnswer {
        policy: policy.name().to_owned(),
        role,
        hook: violation.hook.map(|hook| masker.shown(&hook, max)),
        problem: masker.shown(&violation.problem, max),
    }
}

/// The hook as the contract shows it to guests, with its manifest as JSON text.
fn to_wit(
    hook: &hooks_plan::Hook,
    manifest: Result<std::borrow::Cow<'_, str>, hooks_plan::PlanError>,
) -> Result<wit::Hook, SandboxError> {
    let manifest = manifest
        .map_err(|source| SandboxError::Manifest {
            hook: hook.id.clone(),
            source: Box::new(source),
        })?
        .into_owned();
    Ok(wit::Hook {
        id: hook.id.clone(),
        api_version: hook.api_version.clone(),
        kind: hook.kind.clone(),
        name: hook.name.clone(),
        namespace: hook.namespace.clone(),
        weight: hook.weight,
        events: hook.events.iter().map(|e| wit_event(*e)).collect(),
        delete_policies: hook.delete_policies.clone(),
        output_log_policies: hook.output_log_policies.clone(),
        source: hook.source.to_string(),
        manifest,
    })
}

fn wit_event(event: Event) -> wit::Event {
    match event {
        Event::PreInstall => wit::Event::PreInstall,
        Event::PostInstall => wit::Event::PostInstall,
        Event::PreUpgrade => wit::Event::PreUpgrade,
        Event::PostUpgrade => wit::Event::PostUpgrade,
        Event::PreDelete => wit::Event::PreDelete,
        Event::PostDelete => wit::Event::PostDelete,
        Event::PreRollback => wit::Event::PreRollback,
        Event::PostRollback => wit::Event::PostRollback,
        Event::Test => wit::Event::Test,
    }
}
