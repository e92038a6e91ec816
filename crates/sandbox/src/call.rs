//! One call of one role: a fresh store and instance, the limits armed, the answer lifted
//! within its budget, the failure classified, and what the guest said collected.
//!
//! The time cap has two halves. Epoch interruption stops a guest running its own code;
//! a guest blocked in a host call (a WASI sleep, a pollable that never becomes ready)
//! runs no code to interrupt, so every call is async, polled on the caller's thread
//! under a deadline that drops it, instantiation included.

use std::future::Future;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{ComponentNamedList, Instance, Lift, Lower};

use crate::answer::{self, Answer, Budget, Exceeded, Items, Schedule};
use crate::bindings::kubectl_hooks::policy::types as wit;
use crate::bindings::v2::kubectl_hooks::policy::types as wit2;
use crate::engine::{GuestLog, LogLevel, State, TICK};
use crate::limits::Limit;
use crate::pool::Slots;
use crate::role::Contract;
use crate::secrets::Masker;
use crate::{Policy, Role, SandboxError};

/// The outcome of a call, and the guest's log lines whatever the outcome.
pub(crate) struct Called<T> {
    pub(crate) answer: Result<T, SandboxError>,
    pub(crate) logs: Vec<GuestLog>,
}

impl<T> Called<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Called<U> {
        Called {
            answer: self.answer.map(f),
            logs: self.logs,
        }
    }
}

/// What a role is called with, in the types of the contract it was built against.
pub(crate) enum Input<'a> {
    V1 {
        ctx: &'a wit::Context,
        hooks: &'a [wit::Hook],
    },
    V2 {
        ctx: wit2::Context,
        hooks: Vec<wit2::Hook>,
    },
}

/// The function a role exports has another signature than the contract's.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ContractMismatch(String);

/// How a call ended before the guest answered.
enum Stopped {
    Error(wasmtime::Error),
    Deadline,
}

impl Policy {
    fn store(&self, masker: Arc<Masker>) -> Store<State> {
        let engine = &self.engine.inner.engine;
        let mut store = Store::new(engine, State::new(&self.limits, masker));
        store.limiter(|state| &mut state.limiter);
        // One tick more than the cap: the first tick may come at any moment after the
        // deadline is set, so the call gets at least the whole cap, at most one tick more.
        let ticks = self.limits.timeout.as_nanos().div_ceil(TICK.as_nanos()) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        if self.engine.inner.fuel {
            // An engine with metering needs fuel in every store, even for policies
            // without a fuel limit.
            let _ = store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX));
        }
        store
    }

    /// Polls `work` to completion on this thread, but for no longer than the time cap
    /// (and one tick, so that a guest in its own code meets its epoch deadline first and
    /// is reported the same way whatever it was doing).
    fn under_cap<T: Send>(
        &self,
        budget: Budget,
        work: impl Future<Output = wasmtime::Result<T>> + Send,
    ) -> Result<T, Stopped> {
        let cap = self.limits.timeout + TICK;
        let timers = self.engine.inner.timers.handle();
        let run = || {
            answer::with_budget(budget, || {
                timers.block_on(async {
                    match tokio::time::timeout(cap, work).await {
                        Ok(Ok(value)) => Ok(value),
                        Ok(Err(error)) => Err(Stopped::Error(error)),
                        Err(_) => Err(Stopped::Deadline),
                    }
                })
            })
        };
        // A caller inside an async runtime cannot block its thread on another one: the
        // call then gets a thread of its own for as long as it lasts.
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|scope| {
                scope
                    .spawn(run)
                    .join()
                    .unwrap_or(Err(Stopped::Error(wasmtime::format_err!(
                        "the policy call's thread panicked"
                    ))))
            })
        } else {
            run()
        }
    }

    /// Instantiates the policy once, under the time cap, and drops the instance: proves
    /// it can run and measures what every call pays before the guest's code starts.
    pub fn instantiate(&self) -> Result<(), SandboxError> {
        let _slot = self.engine.inner.slots.as_ref().map(Slots::take);
        let mut store = self.store(Arc::default());
        let budget = self.budget(Role::Validate, 0);
        self.under_cap(budget, async {
            self.pre.instantiate_async(&mut store).await.map(drop)
        })
        .map_err(|stopped| self.classify(Role::Validate, stopped, &store))
    }

    pub(crate) fn call_mutate(
        &self,
        input: &Input<'_>,
        masker: &Arc<Masker>,
    ) -> Called<Vec<answer::Patch>> {
        let called = match input {
            Input::V1 { ctx, hooks } => self.call::<_, Items<answer::Patch>>(
                Role::Mutate,
                (*ctx, *hooks),
                hooks.len(),
                masker,
            ),
            Input::V2 { ctx, hooks } => self.call::<_, Items<answer::Patch>>(
                Role::Mutate,
                (ctx, &hooks[..]),
                hooks.len(),
                masker,
            ),
        };
        called.map(|Items(patches)| patches)
    }

    /// An order (0.1.0), or an order or waves (0.2.0).
    pub(crate) fn call_order(&self, input: &Input<'_>, masker: &Arc<Masker>) -> Called<Schedule> {
        match input {
            Input::V1 { ctx, hooks } => self
                .call::<_, Items<answer::Text>>(Role::Order, (*ctx, *hooks), hooks.len(), masker)
                .map(Schedule::Order),
            Input::V2 { ctx, hooks } => {
                self.call::<_, Schedule>(Role::Order, (ctx, &hooks[..]), hooks.len(), masker)
            }
        }
    }

    pub(crate) fn call_validate(
        &self,
        input: &Input<'_>,
        masker: &Arc<Masker>,
    ) -> Called<Vec<answer::Denial>> {
        let called = match input {
            Input::V1 { ctx, hooks } => self.call::<_, Items<answer::Denial>>(
                Role::Validate,
                (*ctx, *hooks),
                hooks.len(),
                masker,
            ),
            Input::V2 { ctx, hooks } => self.call::<_, Items<answer::Denial>>(
                Role::Validate,
                (ctx, &hooks[..]),
                hooks.len(),
                masker,
            ),
        };
        called.map(|Items(denials)| denials)
    }

    /// What the answer to a call over `hooks` hooks may hold: patches and ids are never
    /// more than the hooks, and neither are waves or the ids of all waves together;
    /// denials are no more than `limits.answerItems`.
    fn budget(&self, role: Role, hooks: usize) -> Budget {
        let (items, items_limit) = match role {
            Role::Validate => (self.limits.answer_items, Limit::AnswerItems),
            Role::Mutate | Role::Order => (hooks, Limit::HookCount),
        };
        Budget {
            items,
            items_limit,
            string_bytes: self.limits.string_bytes,
            manifest_bytes: self.limits.patch_bytes,
            output_bytes: self.limits.output_bytes,
            wave_ids: hooks,
        }
    }

    /// Instantiates the policy, calls `role`'s function with `params` (the context and
    /// `hooks` hooks, in the types of the role's contract) and lifts the answer `R`
    /// within the call's budget.
    fn call<P, R>(&self, role: Role, params: P, hooks: usize, masker: &Arc<Masker>) -> Called<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: Lift + Send + Sync + 'static,
    {
        let export = self
            .exports
            .get(role)
            .expect("called a role the policy does not export");
        let _slot = self.engine.inner.slots.as_ref().map(Slots::take);
        let mut store = self.store(Arc::clone(masker));
        let budget = self.budget(role, hooks);
        let outcome = self.under_cap(budget, async {
            let instance: Instance = self.pre.instantiate_async(&mut store).await?;
            let func = instance
                .get_typed_func::<P, Answer<R>>(&mut store, export)
                .map_err(|e| wasmtime::Error::new(ContractMismatch(format!("{e:#}"))))?;
            let (answer,) = func.call_async(&mut store, params).await?;
            Ok(answer)
        });
        let answer = match outcome {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(message)) => Err(SandboxError::Guest {
                policy: self.info.name.clone(),
                role,
                message: store.data().shown(&message.0, usize::MAX),
            }),
            Err(stopped) => Err(self.classify(role, stopped, &store)),
        };
        Called {
            answer,
            logs: self.logs(&store),
        }
    }

    /// Names what stopped the guest: a limit (the limiter's flag, the deadline, no fuel
    /// left, an answer over its budget), `exit`, or a trap with the guest's own output
    /// (a panic message).
    fn classify(&self, role: Role, stopped: Stopped, store: &Store<State>) -> SandboxError {
        let policy = self.info.name.clone();
        let output = quoted_output(&policy, store.data());
        let timeout = |output| SandboxError::Timeout {
            policy: policy.clone(),
            role,
            limit: self.limits.timeout,
            output,
        };
        let error = match stopped {
            Stopped::Deadline => return timeout(output),
            Stopped::Error(error) => error,
        };
        if store.data().limiter.hit {
            return SandboxError::MemoryCap {
                policy,
                role,
                limit: self.limits.memory_bytes,
                output,
            };
        }
        if let Some(ContractMismatch(message)) = error.downcast_ref::<ContractMismatch>() {
            return SandboxError::Incompatible {
                policy,
                origin: self.info.origin.clone(),
                message: format!(
                    "its `{}` function: {message}",
                    role.export_name(self.exports.contract(role).unwrap_or(Contract::V0_1))
                ),
            };
        }
        if let Some(exceeded) = error.downcast_ref::<Exceeded>() {
            return SandboxError::Limit {
                policy,
                role,
                limit: exceeded.limit,
                size: exceeded.size,
                max: exceeded.max,
            };
        }
        if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
            let message = match trap {
                wasmtime::Trap::Interrupt => return timeout(output),
                wasmtime::Trap::OutOfFuel => {
                    return SandboxError::OutOfFuel {
                        policy,
                        role,
                        fuel: self.limits.fuel.unwrap_or(u64::MAX),
                        output,
                    };
                }
                wasmtime::Trap::StackOverflow => "call stack exhausted (runaway recursion?)".into(),
                other => other.to_string(),
            };
            return SandboxError::Trap {
                policy,
                role,
                message,
                output,
            };
        }
        let message = match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => format!("the policy called exit({}) instead of answering", exit.0),
            None => store
                .data()
                .shown(&format!("{error:#}"), self.limits.string_bytes),
        };
        SandboxError::Trap {
            policy,
            role,
            message,
            output,
        }
    }

    /// What the guest logged and printed, in that order, each line escaped and bounded:
    /// printed lines share the log's message budget.
    fn logs(&self, store: &Store<State>) -> Vec<GuestLog> {
        let state = store.data();
        let policy = &self.info.name;
        let line = |level, message: String| GuestLog {
            policy: policy.clone(),
            level,
            message,
        };
        let mut logs: Vec<GuestLog> = state
            .logs
            .iter()
            .map(|(level, message)| line(*level, message.clone()))
            .collect();
        let mut dropped = state.dropped_logs;
        for (level, pipe) in [
            (LogLevel::Stdout, &state.stdout),
            (LogLevel::Stderr, &state.stderr),
        ] {
            for printed in pipe.contents().lines().filter(|l| !l.trim().is_empty()) {
                if logs.len() >= self.limits.log_messages {
                    dropped += 1;
                    continue;
                }
                logs.push(line(level, state.shown(printed, self.limits.log_bytes)));
            }
        }
        if dropped > 0 {
            logs.push(line(
                LogLevel::Warn,
                format!(
                    "{dropped} more log messages and printed lines dropped (`limits.logMessages` is {})",
                    self.limits.log_messages
                ),
            ));
        }
        logs
    }
}

/// The most of a failed guest's output quoted in its error.
const QUOTED_OUTPUT: usize = 4096;

/// What the guest logged and printed before it failed, for the error message: the end of
/// it, which is where a panic message is. Every line is escaped and carries the policy's
/// name, so that nothing the guest wrote reads as the tool's own output.
fn quoted_output(policy: &str, state: &State) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (level, message) in &state.logs {
        lines.push(format!("[{}] {message}", level.as_str()));
    }
    for pipe in [&state.stdout, &state.stderr] {
        lines.extend(pipe.contents().lines().map(|l| state.shown(l, usize::MAX)));
    }
    let mut kept = Vec::new();
    let mut size = 0;
    for line in lines.iter().rev().filter(|l| !l.trim().is_empty()) {
        let line = truncated(line, QUOTED_OUTPUT);
        size += line.len();
        if size > QUOTED_OUTPUT && !kept.is_empty() {
            kept.push("…".to_owned());
            break;
        }
        kept.push(line);
    }
    kept.reverse();
    kept.iter()
        .map(|line| format!("  {policy} | {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
