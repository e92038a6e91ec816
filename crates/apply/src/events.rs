//! Progress of a run as typed events, so the CLI can draw progress and the executor never
//! learns about terminals.

use std::time::{Duration, SystemTime};

use crate::report::{DeleteReason, HookOutcome};
use crate::{DryRunAction, ObjectRef};

/// One thing that happened, stamped when it happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: SystemTime,
    /// The hook's 1-based position in the plan, for events about one hook.
    pub position: Option<usize>,
    /// The hook's id (`Kind/name`), for events about one hook.
    pub hook: Option<String>,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    RunStarted {
        hooks: usize,
        namespace: String,
        server: String,
    },
    /// A parallel run starts a wave: `hooks` hooks, of which `waited` are Jobs and Pods
    /// that run together after the others are in place.
    WaveStarted {
        wave: usize,
        waves: usize,
        hooks: usize,
        waited: usize,
    },
    HookStarted {
        total: usize,
        wave: usize,
    },
    Deleting {
        object: ObjectRef,
        reason: DeleteReason,
    },
    /// The object is gone (or never existed, `existed == false`).
    Deleted {
        object: ObjectRef,
        reason: DeleteReason,
        existed: bool,
        waited: Duration,
    },
    Created {
        object: ObjectRef,
    },
    /// Waiting for a Job or Pod to finish, or a CustomResourceDefinition to be established.
    Waiting {
        object: ObjectRef,
    },
    /// A transient API error is being retried.
    Retrying {
        what: String,
        error: String,
        attempt: u32,
        delay: Duration,
    },
    /// What a dry run would have done for this hook.
    DryRun {
        actions: Vec<DryRunAction>,
    },
    /// The hook reached an outcome; `message` says why for failures.
    HookFinished {
        outcome: HookOutcome,
        message: Option<String>,
        duration: Duration,
    },
    LogLines {
        pod: String,
        container: String,
        lines: Vec<String>,
    },
    /// Something the user should know that did not stop the run (a log that could not
    /// be read, a clean-up deletion that failed).
    Warning {
        message: String,
    },
}

/// Receives the events of a run, in order, on the executor's task; keep it quick.
pub trait EventSink: Send {
    fn event(&mut self, event: Event);
}

impl<F: FnMut(Event) + Send> EventSink for F {
    fn event(&mut self, event: Event) {
        self(event)
    }
}

/// A sink that drops everything, for callers that only want the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn event(&mut self, _: Event) {}
}

/// Hands events to the sink from anywhere in the executor, stamping them on the way.
pub(crate) struct Emitter<'a> {
    sink: std::sync::Mutex<&'a mut dyn EventSink>,
}

impl<'a> Emitter<'a> {
    pub fn new(sink: &'a mut dyn EventSink) -> Self {
        Emitter {
            sink: std::sync::Mutex::new(sink),
        }
    }
}

/// [`Emitter`] behind a trait object, which hides its (invariant) sink lifetime.
pub(crate) trait Emit {
    fn emit(&self, position: Option<usize>, hook: Option<&str>, kind: EventKind);
}

impl Emit for Emitter<'_> {
    fn emit(&self, position: Option<usize>, hook: Option<&str>, kind: EventKind) {
        let event = Event {
            at: SystemTime::now(),
            position,
            hook: hook.map(str::to_owned),
            kind,
        };
        // A sink that panicked poisons the lock; progress output is not worth a second panic.
        if let Ok(mut sink) = self.sink.lock() {
            sink.event(event);
        }
    }
}
