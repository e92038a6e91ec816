//! One call of one role: a fresh store and instance, the limits armed, the answer or the
//! failure classified, and what the guest said collected.

use wasmtime::Store;
use wasmtime::component::Instance;

use crate::bindings::kubectl_hooks::policy::types as wit;
use crate::engine::{GuestLog, LogLevel, State, TICK};
use crate::limits::STDIO_BYTES;
use crate::pool::Slots;
use crate::{Policy, Role, SandboxError};

/// The most of a failed guest's output quoted in its error.
const QUOTED_OUTPUT: usize = 4096;

/// The outcome of a call, and the guest's log lines whatever the outcome.
pub(crate) struct Called<T> {
    pub(crate) answer: Result<T, SandboxError>,
    pub(crate) logs: Vec<GuestLog>,
}

impl Policy {
    fn store(&self) -> Store<State> {
        let engine = &self.engine.inner.engine;
        let mut store = Store::new(engine, State::new(self.limits.memory_bytes, STDIO_BYTES));
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

    /// Instantiates the policy once and drops the instance: proves it can run and
    /// measures what every call pays before the guest's code starts.
    pub fn instantiate(&self) -> Result<(), SandboxError> {
        let _slot = self.engine.inner.slots.as_ref().map(Slots::take);
        let mut store = self.store();
        self.pre
            .instantiate(&mut store)
            .map(drop)
            .map_err(|e| self.classify(Role::Validate, e, &store))
    }

    pub(crate) fn call_mutate(
        &self,
        ctx: &wit::Context,
        hooks: &[wit::Hook],
    ) -> Called<Vec<wit::Patch>> {
        let indices = self
            .mutate
            .as_ref()
            .expect("mutate called on a policy without it");
        self.call(Role::Mutate, |store, instance| {
            indices
                .load(&mut *store, instance)?
                .call_mutate(store, ctx, hooks)
        })
    }

    pub(crate) fn call_order(
        &self,
        ctx: &wit::Context,
        hooks: &[wit::Hook],
    ) -> Called<Vec<String>> {
        let indices = self
            .order
            .as_ref()
            .expect("order called on a policy without it");
        self.call(Role::Order, |store, instance| {
            indices
                .load(&mut *store, instance)?
                .call_order(store, ctx, hooks)
        })
    }

    pub(crate) fn call_validate(
        &self,
        ctx: &wit::Context,
        hooks: &[wit::Hook],
    ) -> Called<Vec<wit::Denial>> {
        let indices = self
            .validate
            .as_ref()
            .expect("validate called on a policy without it");
        self.call(Role::Validate, |store, instance| {
            indices
                .load(&mut *store, instance)?
                .call_validate(store, ctx, hooks)
        })
    }

    fn call<T>(
        &self,
        role: Role,
        run: impl FnOnce(&mut Store<State>, &Instance) -> wasmtime::Result<Result<T, String>>,
    ) -> Called<T> {
        let _slot = self.engine.inner.slots.as_ref().map(Slots::take);
        let mut store = self.store();
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| run(&mut store, &instance));
        let answer = match result {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(message)) => Err(SandboxError::Guest {
                policy: self.info.name.clone(),
                role,
                message,
            }),
            Err(error) => Err(self.classify(role, error, &store)),
        };
        Called {
            answer,
            logs: self.logs(&store),
        }
    }

    /// Names what stopped the guest: a limit (the limiter's flag, an epoch interrupt, no
    /// fuel left), `exit`, or a trap with the guest's own output (a panic message).
    fn classify(&self, role: Role, error: wasmtime::Error, store: &Store<State>) -> SandboxError {
        let policy = self.info.name.clone();
        let output = quoted_output(store.data());
        if store.data().limiter.hit {
            return SandboxError::MemoryCap {
                policy,
                role,
                limit: self.limits.memory_bytes,
                output,
            };
        }
        if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
            match trap {
                wasmtime::Trap::Interrupt => {
                    return SandboxError::Timeout {
                        policy,
                        role,
                        limit: self.limits.timeout,
                        output,
                    };
                }
                wasmtime::Trap::OutOfFuel => {
                    return SandboxError::OutOfFuel {
                        policy,
                        role,
                        fuel: self.limits.fuel.unwrap_or(u64::MAX),
                        output,
                    };
                }
                wasmtime::Trap::StackOverflow => {
                    return SandboxError::Trap {
                        policy,
                        role,
                        message: "call stack exhausted (runaway recursion?)".into(),
                        output,
                    };
                }
                other => {
                    return SandboxError::Trap {
                        policy,
                        role,
                        message: other.to_string(),
                        output,
                    };
                }
            }
        }
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return SandboxError::Trap {
                policy,
                role,
                message: format!("the policy called exit({}) instead of answering", exit.0),
                output,
            };
        }
        SandboxError::Trap {
            policy,
            role,
            message: format!("{error:#}"),
            output,
        }
    }

    fn logs(&self, store: &Store<State>) -> Vec<GuestLog> {
        let state = store.data();
        let line = |level, message: String| GuestLog {
            policy: self.info.name.clone(),
            level,
            message,
        };
        let mut logs: Vec<GuestLog> = state
            .logs
            .iter()
            .map(|(level, message)| line(*level, message.clone()))
            .collect();
        if state.dropped_logs > 0 {
            logs.push(line(
                LogLevel::Warn,
                format!("{} more log messages dropped", state.dropped_logs),
            ));
        }
        for (level, pipe) in [
            (LogLevel::Stdout, &state.stdout),
            (LogLevel::Stderr, &state.stderr),
        ] {
            let text = pipe.contents();
            logs.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| line(level, l.to_owned())),
            );
        }
        logs
    }
}

/// What the guest logged and printed before it failed, for the error message: the end of
/// it, which is where a panic message is.
fn quoted_output(state: &State) -> String {
    let mut text = String::new();
    for (level, message) in &state.logs {
        text.push_str(&format!("[{}] {message}\n", level.as_str()));
    }
    for pipe in [&state.stdout, &state.stderr] {
        text.push_str(&pipe.contents());
        text.push('\n');
    }
    let text = text.trim();
    if text.len() <= QUOTED_OUTPUT {
        return text.to_owned();
    }
    let mut start = text.len() - QUOTED_OUTPUT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

/// Sizes of answers, for the output cap: every string the guest handed back.
pub(crate) fn answer_size<'a>(strings: impl IntoIterator<Item = &'a str>) -> usize {
    strings.into_iter().map(str::len).sum()
}
