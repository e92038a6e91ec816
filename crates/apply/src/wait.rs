//! Waiting on one object through a watch: until it is gone, or until a Job or Pod finishes.
//!
//! The watch is narrowed to the object with `fieldSelector=metadata.name=…` and resumes
//! from the last resourceVersion it saw when the server closes it; a 410 Gone (the version
//! was compacted) falls back to a fresh list. Nothing here polls.

use std::time::{Duration, Instant as StdInstant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::Value;

use crate::retry::{Backoff, CallError, Guard, is_status, is_transient};

/// The server ends each watch after this long and it is reopened from the last version, so
/// no single connection has to live for the whole wait.
const WATCH_SECONDS: u32 = 290;
/// A watch that ends this soon without an event is a server refusing to watch; reopening it
/// at once would spin.
const SHORT_WATCH: Duration = Duration::from_millis(500);

/// Decides, from what the watch sees, whether the wait is over.
pub(crate) trait Judge {
    type Out;
    /// The object as it is now; `Some` ends the wait.
    fn current(&mut self, object: &DynamicObject) -> Option<Self::Out>;
    /// The object is gone; `last` is its final state when known.
    fn gone(&mut self, last: Option<&DynamicObject>) -> Self::Out;
}

/// Watches the object called `name` (with `uid`, when known) until `judge` is satisfied.
/// `start` is a state already in hand (the create response): the watch begins from its
/// resourceVersion, which saves a list.
pub(crate) async fn watch_object<J: Judge>(
    api: &Api<DynamicObject>,
    name: &str,
    uid: Option<String>,
    start: Option<DynamicObject>,
    guard: &Guard<'_>,
    judge: &mut J,
) -> Result<J::Out, CallError> {
    let fields = format!("metadata.name={name}");
    let list_params = ListParams::default().fields(&fields);
    let mut uid = uid;
    let mut last: Option<DynamicObject> = None;
    let mut resource_version: Option<String> = None;
    if let Some(object) = start {
        resource_version = object.metadata.resource_version.clone();
        if uid.is_none() {
            uid = object.metadata.uid.clone();
        }
        if let Some(out) = judge.current(&object) {
            return Ok(out);
        }
        last = Some(object);
    }
    let mut backoff = Backoff::default();
    loop {
        let from = match resource_version.take() {
            Some(version) => version,
            None => {
                let list = guard
                    .call(&format!("list {name}"), || api.list(&list_params))
                    .await?;
                let version = list.metadata.resource_version.clone().unwrap_or_default();
                let found = list
                    .items
                    .into_iter()
                    .find(|o| o.metadata.name.as_deref() == Some(name));
                match found {
                    Some(object) if same_object(&uid, &object) => {
                        if uid.is_none() {
                            uid = object.metadata.uid.clone();
                        }
                        if let Some(out) = judge.current(&object) {
                            return Ok(out);
                        }
                        last = Some(object);
                    }
                    _ => return Ok(judge.gone(last.as_ref())),
                }
                version
            }
        };
        let params = WatchParams::default()
            .fields(&fields)
            .timeout(WATCH_SECONDS);
        let opened = StdInstant::now();
        let stream = match guard.bound(api.watch(&params, &from)).await? {
            Ok(stream) => stream,
            Err(error) if is_status(&error, 410) => continue,
            Err(error) if is_transient(&error) => {
                resource_version = Some(from);
                retry_pause(guard, &mut backoff, name, error).await?;
                continue;
            }
            Err(error) => return Err(CallError::Api(error)),
        };
        let mut stream = std::pin::pin!(stream);
        let mut current_version = from;
        let mut events = 0usize;
        let mut relist = false;
        loop {
            let Some(item) = guard.bound(stream.next()).await? else {
                break;
            };
            let event = match item {
                Ok(event) => event,
                Err(error) if is_status(&error, 410) => {
                    relist = true;
                    break;
                }
                Err(error) => {
                    resource_version = Some(current_version.clone());
                    retry_pause(guard, &mut backoff, name, error).await?;
                    break;
                }
            };
            events += 1;
            backoff.reset();
            match event {
                WatchEvent::Added(object) | WatchEvent::Modified(object) => {
                    if let Some(v) = &object.metadata.resource_version {
                        current_version.clone_from(v);
                    }
                    if !same_object(&uid, &object) {
                        // Same name, another uid: ours was deleted and replaced.
                        return Ok(judge.gone(last.as_ref()));
                    }
                    if uid.is_none() {
                        uid = object.metadata.uid.clone();
                    }
                    if let Some(out) = judge.current(&object) {
                        return Ok(out);
                    }
                    last = Some(object);
                }
                WatchEvent::Deleted(object) => {
                    if let Some(v) = &object.metadata.resource_version {
                        current_version.clone_from(v);
                    }
                    if same_object(&uid, &object) {
                        return Ok(judge.gone(Some(&object)));
                    }
                }
                WatchEvent::Bookmark(bookmark) => {
                    current_version = bookmark.metadata.resource_version;
                }
                WatchEvent::Error(status) => {
                    if status.code == 410 || status.reason == "Expired" || status.reason == "Gone" {
                        relist = true;
                    } else {
                        resource_version = Some(current_version.clone());
                        retry_pause(guard, &mut backoff, name, kube::Error::Api(status)).await?;
                    }
                    break;
                }
            }
        }
        if relist {
            resource_version = None;
            continue;
        }
        if resource_version.is_none() {
            resource_version = Some(current_version);
            if events == 0 && opened.elapsed() < SHORT_WATCH {
                let delay = backoff.next().unwrap_or(Duration::from_secs(2));
                guard.pause(delay).await?;
            }
        }
    }
}

async fn retry_pause(
    guard: &Guard<'_>,
    backoff: &mut Backoff,
    name: &str,
    error: kube::Error,
) -> Result<(), CallError> {
    if !is_transient(&error) && !matches!(error, kube::Error::SerdeError(_)) {
        return Err(CallError::Api(error));
    }
    match backoff.next() {
        Some(delay) => {
            (guard.on_retry)(&format!("watch {name}"), &error, backoff.attempt, delay);
            guard.pause(delay).await.map_err(CallError::Halt)
        }
        None => Err(CallError::Api(error)),
    }
}

fn same_object(uid: &Option<String>, object: &DynamicObject) -> bool {
    match (uid, &object.metadata.uid) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    }
}

/// Waits until the object is gone.
pub(crate) struct UntilGone;

impl Judge for UntilGone {
    type Out = ();
    fn current(&mut self, _: &DynamicObject) -> Option<()> {
        None
    }
    fn gone(&mut self, _: Option<&DynamicObject>) {}
}

/// How a Job or Pod ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Completion {
    Succeeded,
    Failed(String),
}

/// What a hook's wait concludes, by the hook's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waitable {
    Job,
    Pod,
    /// Helm waits only for Jobs and Pods; a CRD is waited for until Established, because
    /// until then its resource is not served and a later hook of that kind would fail.
    CustomResourceDefinition,
}

impl Waitable {
    pub fn of(group: &str, kind: &str) -> Option<Waitable> {
        match (group, kind) {
            ("batch", "Job") => Some(Waitable::Job),
            ("", "Pod") => Some(Waitable::Pod),
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                Some(Waitable::CustomResourceDefinition)
            }
            _ => None,
        }
    }

    pub fn state(self, object: &DynamicObject) -> Option<Completion> {
        match self {
            Waitable::Job => job_state(&object.data),
            Waitable::Pod => pod_state(&object.data),
            Waitable::CustomResourceDefinition => crd_state(&object.data),
        }
    }

    /// What the wait is for.
    pub fn goal(self) -> crate::WaitGoal {
        match self {
            Waitable::Job => crate::WaitGoal::Complete,
            Waitable::Pod => crate::WaitGoal::Succeed,
            Waitable::CustomResourceDefinition => crate::WaitGoal::BeEstablished,
        }
    }

    /// Whether it runs containers whose logs can be shown.
    pub fn has_logs(self) -> bool {
        matches!(self, Waitable::Job | Waitable::Pod)
    }
}

impl Judge for Waitable {
    type Out = Completion;
    fn current(&mut self, object: &DynamicObject) -> Option<Completion> {
        self.state(object)
    }
    /// A hook deleted while being waited on (`ttlSecondsAfterFinished`, a person, a
    /// controller) is judged by the last state seen, instead of waiting for the timeout.
    fn gone(&mut self, last: Option<&DynamicObject>) -> Completion {
        match last.and_then(|o| self.state(o)) {
            Some(done) => done,
            None => Completion::Failed("deleted while running, before it finished".into()),
        }
    }
}

/// Helm's rule: condition Complete=True succeeds, Failed=True fails.
fn job_state(data: &Value) -> Option<Completion> {
    let conditions = data.pointer("/status/conditions")?.as_array()?;
    let is_true = |kind: &str| {
        conditions.iter().find(|c| {
            c.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    };
    if is_true("Complete").is_some() {
        return Some(Completion::Succeeded);
    }
    is_true("Failed").map(|c| Completion::Failed(condition_text(c, "the Job failed")))
}

/// Established=True succeeds; NamesAccepted=False (a name another CRD holds) fails, as
/// the CRD would never be served.
fn crd_state(data: &Value) -> Option<Completion> {
    let conditions = data.pointer("/status/conditions")?.as_array()?;
    let status = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            .map(|c| (c, c.get("status").and_then(Value::as_str)))
    };
    if let Some((_, Some("True"))) = status("Established") {
        return Some(Completion::Succeeded);
    }
    match status("NamesAccepted") {
        Some((c, Some("False"))) => Some(Completion::Failed(condition_text(
            c,
            "the CustomResourceDefinition's names were not accepted",
        ))),
        _ => None,
    }
}

fn pod_state(data: &Value) -> Option<Completion> {
    match data.pointer("/status/phase").and_then(Value::as_str)? {
        "Succeeded" => Some(Completion::Succeeded),
        "Failed" => {
            let reason = data.pointer("/status/reason").and_then(Value::as_str);
            let message = data.pointer("/status/message").and_then(Value::as_str);
            Some(Completion::Failed(match (reason, message) {
                (Some(r), Some(m)) => format!("the Pod failed: {r}: {m}"),
                (Some(r), None) | (None, Some(r)) => format!("the Pod failed: {r}"),
                (None, None) => "the Pod failed".into(),
            }))
        }
        _ => None,
    }
}

fn condition_text(condition: &Value, default: &str) -> String {
    let reason = condition.get("reason").and_then(Value::as_str);
    let message = condition.get("message").and_then(Value::as_str);
    match (reason, message) {
        (Some(r), Some(m)) => format!("{default}: {r}: {m}"),
        (Some(r), None) | (None, Some(r)) => format!("{default}: {r}"),
        (None, None) => default.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn job_complete_and_failed() {
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(job_state(&done), Some(Completion::Succeeded));
        let failed = json!({"status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(
            job_state(&failed),
            Some(Completion::Failed(
                "the Job failed: BackoffLimitExceeded".into()
            ))
        );
        let running = json!({"status": {"active": 1}});
        assert_eq!(job_state(&running), None);
    }

    #[test]
    fn crd_established_or_refused() {
        let established = json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "True"},
            {"type": "Established", "status": "True"}]}});
        assert_eq!(crd_state(&established), Some(Completion::Succeeded));
        let pending = json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "True"}]}});
        assert_eq!(crd_state(&pending), None);
        assert_eq!(crd_state(&json!({})), None);
        let refused = json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "False", "reason": "MultipleNamesConflict",
             "message": "\"widgets\" is already in use"}]}});
        assert_eq!(
            crd_state(&refused),
            Some(Completion::Failed(
                "the CustomResourceDefinition's names were not accepted: MultipleNamesConflict: \"widgets\" is already in use".into()
            ))
        );
    }

    #[test]
    fn pod_phases() {
        assert_eq!(pod_state(&json!({"status": {"phase": "Running"}})), None);
        assert_eq!(
            pod_state(&json!({"status": {"phase": "Succeeded"}})),
            Some(Completion::Succeeded)
        );
        assert!(matches!(
            pod_state(&json!({"status": {"phase": "Failed"}})),
            Some(Completion::Failed(_))
        ));
    }
}
