//! Watch support: a bounded log of changes so a watch can resume "after resourceVersion N",
//! per-watch filtering, and the chunked JSON event stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::ObjKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change to the store. `previous` lets a selector-filtered watch turn a change that moves
/// an object in or out of the selection into ADDED/DELETED, as the real server does.
#[derive(Debug)]
pub(crate) struct StoredEvent {
    pub rv: u64,
    pub key: ObjKey,
    pub etype: EventType,
    pub object: Value,
    pub previous: Option<Value>,
}

/// The resume point is older than what the log still holds: the client must relist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooOld;

#[derive(Debug)]
pub(crate) struct EventLog {
    events: VecDeque<Arc<StoredEvent>>,
    cap: usize,
    /// Highest resourceVersion that has been dropped from the log.
    compacted_through: u64,
}

impl EventLog {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            events: VecDeque::new(),
            cap: cap.max(1),
            compacted_through: 0,
        }
    }

    pub(crate) fn push(&mut self, ev: Arc<StoredEvent>) {
        if self.events.len() == self.cap
            && let Some(old) = self.events.pop_front()
        {
            self.compacted_through = old.rv;
        }
        self.events.push_back(ev);
    }

    /// Every retained event newer than `rv`, or `TooOld` when some of those were compacted
    /// away (the real server answers that with 410 Expired).
    pub(crate) fn since(&self, rv: u64) -> Result<Vec<Arc<StoredEvent>>, TooOld> {
        if rv < self.compacted_through {
            return Err(TooOld);
        }
        Ok(self.events.iter().filter(|e| e.rv > rv).cloned().collect())
    }
}

/// What one watch request wants to see.
#[derive(Debug, Clone)]
pub(crate) struct WatchFilter {
    pub group: String,
    pub plural: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// Served objects are stamped with the requested apiVersion (no conversion between CRD
    /// versions is attempted).
    pub api_version: String,
}

impl WatchFilter {
    pub(crate) fn selects(&self, obj: &Value) -> bool {
        self.labels.matches_object(obj) && self.fields.matches(obj)
    }

    /// The watch event line this store event becomes for this watcher, if any.
    pub(crate) fn translate(&self, ev: &StoredEvent) -> Option<Value> {
        if ev.key.group != self.group || ev.key.plural != self.plural {
            return None;
        }
        if let Some(ns) = &self.namespace
            && ev.key.namespace != *ns
        {
            return None;
        }
        let now = self.selects(&ev.object);
        let before = ev.previous.as_ref().map_or(now, |p| self.selects(p));
        let etype = match (ev.etype, before, now) {
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) => EventType::Deleted,
            (EventType::Added | EventType::Deleted, _, true) => ev.etype,
            _ => return None,
        };
        Some(self.event(etype, &ev.object))
    }

    pub(crate) fn event(&self, etype: EventType, obj: &Value) -> Value {
        let mut obj = obj.clone();
        obj["apiVersion"] = Value::String(self.api_version.clone());
        json!({"type": etype.as_str(), "object": obj})
    }

    /// The bookmark that ends the initial events of a `sendInitialEvents=true` watch
    /// (kube-rs streaming lists wait for it).
    pub(crate) fn initial_events_end(&self, rv: u64) -> Value {
        json!({"type": "BOOKMARK", "object": {
            "kind": self.kind, "apiVersion": self.api_version,
            "metadata": {"resourceVersion": rv.to_string(),
                         "annotations": {"k8s.io/initial-events-end": "true"}}}})
    }
}

fn line(v: &Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Everything a watch stream needs once the store lock has been released.
#[derive(Debug)]
pub(crate) struct WatchPlan {
    pub filter: WatchFilter,
    /// Events to send before live ones (initial state and/or the resumed backlog).
    pub initial: Vec<Value>,
    /// Live events at or below this were already covered by `initial`.
    pub last_rv: u64,
    pub rx: broadcast::Receiver<Arc<StoredEvent>>,
    /// The earliest of `timeoutSeconds` and the emulator's dropped-watch fault.
    pub close_after: Option<Duration>,
}

/// Starts the task that feeds a watch response. Each event is its own chunk, so hyper flushes
/// it at once; the task ends when the client goes away, the timeout passes or the emulator stops.
pub(crate) fn stream(plan: WatchPlan) -> BoxBody<Bytes, Infallible> {
    let (tx, rx_body) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let WatchPlan {
            filter,
            initial,
            last_rv,
            mut rx,
            close_after,
        } = plan;
        for ev in &initial {
            if tx.send(line(ev)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now()
            + close_after.unwrap_or(Duration::from_secs(365 * 24 * 3600));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = tx.closed() => break,
                r = rx.recv() => match r {
                    Ok(ev) => {
                        if ev.rv <= last_rv {
                            continue;
                        }
                        if let Some(v) = filter.translate(&ev)
                            && tx.send(line(&v)).await.is_err()
                        {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::expired("watch fell too far behind; relist").to_json();
                        let _ = tx.send(line(&json!({"type": "ERROR", "object": status}))).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    });
    let body = futures::stream::unfold(rx_body, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    StreamBody::new(body).boxed()
}

/// The single event a watch gets when its resourceVersion is too old to resume from.
pub(crate) fn expired_event() -> Value {
    let status = ApiError::expired("too old resource version").to_json();
    json!({"type": "ERROR", "object": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(plural: &str, ns: &str, name: &str) -> ObjKey {
        ObjKey {
            group: String::new(),
            plural: plural.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn ev(
        rv: u64,
        etype: EventType,
        name: &str,
        labels: Value,
        prev: Option<Value>,
    ) -> Arc<StoredEvent> {
        Arc::new(StoredEvent {
            rv,
            key: key("pods", "default", name),
            etype,
            object: json!({"kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": name, "namespace": "default", "labels": labels,
                             "resourceVersion": rv.to_string()}}),
            previous: prev.map(|l| json!({"metadata": {"name": name, "labels": l}})),
        })
    }

    #[test]
    fn resume_returns_only_newer_events() {
        let mut log = EventLog::new(10);
        for rv in 1..=5 {
            log.push(ev(rv, EventType::Added, &format!("p{rv}"), json!({}), None));
        }
        let got: Vec<u64> = log.since(3).unwrap().iter().map(|e| e.rv).collect();
        assert_eq!(got, [4, 5]);
        assert!(log.since(5).unwrap().is_empty());
        assert!(log.since(99).unwrap().is_empty(), "a future RV just waits");
    }

    #[test]
    fn resume_from_compacted_history_is_too_old() {
        let mut log = EventLog::new(3);
        for rv in 1..=6 {
            log.push(ev(rv, EventType::Added, "p", json!({}), None));
        }
        // 1..=3 were dropped: resuming after 2 would miss 3.
        assert_eq!(log.since(2).unwrap_err(), TooOld);
        let got: Vec<u64> = log.since(3).unwrap().iter().map(|e| e.rv).collect();
        assert_eq!(got, [4, 5, 6]);
    }

    #[test]
    fn selector_transitions_become_added_and_deleted() {
        let filter = WatchFilter {
            group: String::new(),
            plural: "pods".into(),
            kind: "Pod".into(),
            namespace: Some("default".into()),
            labels: LabelSelector::parse("app=web").unwrap(),
            fields: FieldSelector::default(),
            api_version: "v1".into(),
        };
        let ty = |e: &Arc<StoredEvent>| {
            filter
                .translate(e)
                .map(|v| v["type"].as_str().unwrap().to_string())
        };
        let web = json!({"app": "web"});
        let db = json!({"app": "db"});
        assert_eq!(
            ty(&ev(1, EventType::Added, "a", web.clone(), None)).as_deref(),
            Some("ADDED")
        );
        assert_eq!(ty(&ev(2, EventType::Added, "b", db.clone(), None)), None);
        assert_eq!(
            ty(&ev(
                3,
                EventType::Modified,
                "b",
                web.clone(),
                Some(db.clone())
            ))
            .as_deref(),
            Some("ADDED")
        );
        assert_eq!(
            ty(&ev(
                4,
                EventType::Modified,
                "a",
                db.clone(),
                Some(web.clone())
            ))
            .as_deref(),
            Some("DELETED")
        );
        assert_eq!(
            ty(&ev(
                5,
                EventType::Modified,
                "a",
                web.clone(),
                Some(web.clone())
            ))
            .as_deref(),
            Some("MODIFIED")
        );
        assert_eq!(
            ty(&ev(6, EventType::Deleted, "a", web, None)).as_deref(),
            Some("DELETED")
        );
    }

    #[test]
    fn other_namespaces_and_kinds_are_not_seen() {
        let filter = WatchFilter {
            group: String::new(),
            plural: "configmaps".into(),
            kind: "ConfigMap".into(),
            namespace: Some("other".into()),
            labels: LabelSelector::default(),
            fields: FieldSelector::default(),
            api_version: "v1".into(),
        };
        assert!(
            filter
                .translate(&ev(1, EventType::Added, "p", json!({}), None))
                .is_none()
        );
    }
}
