use std::fmt::Write;

use crate::exit_codes;

/// An error on its way out of the process: the message chain, an optional hint, and the
/// exit code it maps to. Built at the binary's edge from the libraries' typed errors.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: i32, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code,
            error: error.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Failure {
        self.hint = hint;
        self
    }

    /// `error: …`, each cause once, then the hint.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}", self.error);
        let mut previous = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            // Libraries sometimes repeat their source's text in their own; print it once.
            if !previous.contains(&cause) {
                let _ = write!(out, "\n  caused by: {cause}");
            }
            previous = cause;
        }
        if let Some(hint) = &self.hint {
            let _ = write!(out, "\n  hint: {hint}");
        }
        escape_lines(&out)
    }
}

/// Errors quote manifests, API servers and policies: each line is escaped, so that only
/// the line breaks the message was written with remain.
pub(crate) fn escape_lines(text: &str) -> String {
    text.lines()
        .map(hooks_plan::escape)
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<hooks_plan::PlanError> for Failure {
    fn from(error: hooks_plan::PlanError) -> Failure {
        let hint = error.hint();
        Failure::new(exit_codes::BAD_INPUT, error).with_hint(hint)
    }
}

impl From<hooks_sandbox::SandboxError> for Failure {
    fn from(error: hooks_sandbox::SandboxError) -> Failure {
        let hint = error.hint();
        let code = if error.is_bad_input() {
            exit_codes::BAD_INPUT
        } else {
            exit_codes::POLICY_ERROR
        };
        Failure::new(code, error).with_hint(hint)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        // `kubectl hooks plan … | head` closes our stdout early: that is success, quietly.
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::new(exit_codes::SUCCESS, error);
        }
        Failure::new(exit_codes::INTERNAL_ERROR, error)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Failure {
        match error.io_error_kind() {
            Some(kind) => Failure::from(std::io::Error::from(kind)),
            None => Failure::new(exit_codes::INTERNAL_ERROR, error),
        }
    }
}

impl From<hooks_apply::ApplyError> for Failure {
    fn from(error: hooks_apply::ApplyError) -> Failure {
        let hint = error.hint();
        Failure::new(apply_exit_code(error.class()), error).with_hint(hint)
    }
}

impl From<hooks_releases::ReleaseError> for Failure {
    fn from(error: hooks_releases::ReleaseError) -> Failure {
        let hint = error.hint();
        let code = match error.class() {
            hooks_releases::ErrorClass::BadInput => exit_codes::BAD_INPUT,
            hooks_releases::ErrorClass::Cluster => exit_codes::CLUSTER_ERROR,
        };
        Failure::new(code, error).with_hint(hint)
    }
}

/// The exit code of a run's error: the one match from the executor's classes to codes.
pub(crate) fn apply_exit_code(class: hooks_apply::ErrorClass) -> i32 {
    match class {
        hooks_apply::ErrorClass::BadInput => exit_codes::BAD_INPUT,
        hooks_apply::ErrorClass::Cluster => exit_codes::CLUSTER_ERROR,
        hooks_apply::ErrorClass::HookFailed => exit_codes::HOOK_FAILED,
        hooks_apply::ErrorClass::Interrupted => exit_codes::INTERRUPTED,
    }
}
