//! Retries of transient API errors, bounded by the step's deadline and the user's Ctrl-C.

use std::future::Future;
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::status_code;

const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Without a deadline (dry runs, clean-up) a transient failure still has to end somewhere.
const MAX_ATTEMPTS: u32 = 12;

/// Why a call stopped without an answer from the server.
#[derive(Debug)]
pub(crate) enum Halt {
    Cancelled,
    TimedOut,
}

#[derive(Debug)]
pub(crate) enum CallError {
    Api(kube::Error),
    Halt(Halt),
}

impl From<Halt> for CallError {
    fn from(halt: Halt) -> Self {
        CallError::Halt(halt)
    }
}

/// 5xx, 429 and broken connections: the request may succeed if sent again. 4xx other than
/// 429 are answers, not accidents.
pub(crate) fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(_) => {
            matches!(status_code(error), Some(code) if code >= 500 || code == 429)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

pub(crate) fn is_status(error: &kube::Error, code: u16) -> bool {
    status_code(error) == Some(code)
}

/// The limits one step of a hook runs under, and the sink for "retrying" notices.
/// Told of each retry: what is retried, the error, the attempt and the pause before it.
pub(crate) type OnRetry<'a> = Box<dyn Fn(&str, &kube::Error, u32, Duration) + Sync + 'a>;

pub(crate) struct Guard<'a> {
    pub cancel: &'a CancellationToken,
    pub deadline: Option<Instant>,
    pub on_retry: OnRetry<'a>,
}

impl Guard<'_> {
    /// Runs `future` unless Ctrl-C or the deadline comes first.
    pub async fn bound<T>(&self, future: impl Future<Output = T>) -> Result<T, Halt> {
        let deadline = self.deadline;
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(Halt::Cancelled),
            value = future => Ok(value),
            _ = timer => Err(Halt::TimedOut),
        }
    }

    /// Waits out a backoff delay, still answering Ctrl-C and the deadline.
    pub async fn pause(&self, delay: Duration) -> Result<(), Halt> {
        self.bound(tokio::time::sleep(delay)).await
    }

    /// Sends a request that is safe to repeat (reads, deletes) until it gives an answer
    /// that is not transient.
    pub async fn call<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut backoff = Backoff::default();
        loop {
            match self.bound(op()).await? {
                Ok(value) => return Ok(value),
                Err(error) if is_transient(&error) => {
                    let Some(delay) = backoff.next() else {
                        return Err(CallError::Api(error));
                    };
                    (self.on_retry)(what, &error, backoff.attempt, delay);
                    self.pause(delay).await?;
                }
                Err(error) => return Err(CallError::Api(error)),
            }
        }
    }
}

/// 404 is an answer, not an error: there is no such object.
pub(crate) fn optional<T>(result: Result<T, kube::Error>) -> Result<Option<T>, kube::Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_status(&error, 404) => Ok(None),
        Err(error) => Err(error),
    }
}

impl Guard<'_> {
    /// GETs the object called `name`; `None` when there is none. `what` names the request
    /// in retry notices.
    pub async fn get_opt(
        &self,
        what: &str,
        api: &Api<DynamicObject>,
        name: &str,
    ) -> Result<Option<DynamicObject>, CallError> {
        self.call(what, || async { optional(api.get(name).await) })
            .await
    }

    /// DELETEs the object called `name`; `None` when there was none, else the object as
    /// the server answered with it (`None` when it answered with a Status).
    pub async fn delete_opt(
        &self,
        what: &str,
        api: &Api<DynamicObject>,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Option<Option<DynamicObject>>, CallError> {
        self.call(what, || async {
            optional(api.delete(name, params).await).map(|found| found.map(|r| r.left()))
        })
        .await
    }
}

/// Capped exponential backoff: 50 ms, 100 ms, … 2 s.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    pub attempt: u32,
}

impl Backoff {
    pub fn next(&mut self) -> Option<Duration> {
        if self.attempt >= MAX_ATTEMPTS {
            return None;
        }
        let delay = FIRST_DELAY
            .saturating_mul(1 << self.attempt.min(10))
            .min(MAX_DELAY);
        self.attempt += 1;
        Some(delay)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps_then_stops() {
        let mut b = Backoff::default();
        let delays: Vec<_> = std::iter::from_fn(|| b.next()).collect();
        assert_eq!(delays[0], Duration::from_millis(50));
        assert_eq!(delays[1], Duration::from_millis(100));
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
        assert_eq!(delays.len(), MAX_ATTEMPTS as usize);
    }

    #[test]
    fn server_errors_are_transient_client_errors_are_not() {
        let api = |code| {
            kube::Error::Api(
                kube::core::Status::failure("x", "y")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(is_transient(&api(500)));
        assert!(is_transient(&api(503)));
        assert!(is_transient(&api(429)));
        assert!(!is_transient(&api(404)));
        assert!(!is_transient(&api(409)));
        assert!(!is_transient(&api(403)));
    }
}
