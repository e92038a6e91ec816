//! The object store: one global resourceVersion counter, a change log for watches, and the
//! deletion state machine (finalizers, deletion delay, owner references).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::controllers::Sims;
use crate::obj;
use crate::resources::{CRD_GROUP, CRD_PLURAL, Registry, ResourceType};
use crate::time::now_rfc3339;
use crate::watch::{EventLog, EventType, StoredEvent, TooOld, WatchFilter};

/// Where an object lives. `namespace` is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub(crate) fn new(rt: &ResourceType, namespace: &str, name: &str) -> Self {
        Self {
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            namespace: if rt.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }

    fn namespace_key(ns: &str) -> Self {
        Self {
            group: String::new(),
            plural: "namespaces".into(),
            namespace: String::new(),
            name: ns.into(),
        }
    }

    pub(crate) fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeleteOutcome {
    /// Removed; the value is the object's last state.
    Gone(Value),
    /// Still present with `deletionTimestamp` (finalizers, deletion delay, namespace teardown).
    Pending(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamespacePhase {
    Missing,
    Active,
    Terminating,
}

/// Initial events, the resourceVersion they cover, and the live feed.
pub(crate) type WatchStart = (Vec<Value>, u64, broadcast::Receiver<Arc<StoredEvent>>);

const FOREGROUND: &str = "foregroundDeletion";
const EVENT_LOG_CAP: usize = 20_000;

#[derive(Debug)]
pub(crate) struct State {
    pub registry: Registry,
    objects: BTreeMap<ObjKey, Value>,
    rv: u64,
    log: EventLog,
    events: broadcast::Sender<Arc<StoredEvent>>,
    rng: StdRng,
    pub pod_duration: Duration,
    pub deletion_delay: Duration,
    /// How long a new CustomResourceDefinition takes to become Established (and its
    /// resource to be served); zero establishes it on creation.
    pub crd_establish_delay: Duration,
    /// When each terminating object may vanish (once its finalizers are gone).
    pub vanish_at: HashMap<ObjKey, Instant>,
    pub sims: Sims,
    next_ip: u32,
}

impl State {
    pub(crate) fn new(seed: u64, pod_duration: Duration, deletion_delay: Duration) -> Self {
        let (events, _) = broadcast::channel(4096);
        let mut s = Self {
            registry: Registry::builtin(),
            objects: BTreeMap::new(),
            rv: 0,
            log: EventLog::new(EVENT_LOG_CAP),
            events,
            rng: StdRng::seed_from_u64(seed),
            pod_duration,
            deletion_delay,
            crd_establish_delay: Duration::ZERO,
            vanish_at: HashMap::new(),
            sims: Sims::default(),
            next_ip: 10,
        };
        for ns in ["default", "kube-system", "kube-public"] {
            s.ensure_namespace(ns);
        }
        s
    }

    pub(crate) fn ensure_namespace(&mut self, ns: &str) {
        let key = ObjKey::namespace_key(ns);
        if self.objects.contains_key(&key) {
            return;
        }
        let mut o = json!({"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        self.stamp_new(&mut o);
        self.insert(key, o);
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn uid(&mut self) -> String {
        let n: u128 = self.rng.random();
        // Shape of a v4 UUID; uniqueness is all that matters here.
        let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let h = format!("{n:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// The 5-character suffix the real controllers and `generateName` use.
    pub(crate) fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }

    pub(crate) fn next_pod_ip(&mut self) -> String {
        self.next_ip += 1;
        format!(
            "10.244.{}.{}",
            (self.next_ip >> 8) & 0xff,
            self.next_ip & 0xff
        )
    }

    /// Sets the server-owned metadata of a brand-new object.
    pub(crate) fn stamp_new(&mut self, o: &mut Value) {
        let uid = self.uid();
        let m = obj::meta(o);
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(now_rfc3339()));
        m.insert("generation".into(), json!(1));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            m.remove(k);
        }
    }

    pub(crate) fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.objects.get(key)
    }

    pub(crate) fn contains(&self, key: &ObjKey) -> bool {
        self.objects.contains_key(key)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ObjKey, &Value)> {
        self.objects.iter()
    }

    pub(crate) fn keys_where(&self, mut f: impl FnMut(&ObjKey, &Value) -> bool) -> Vec<ObjKey> {
        self.objects
            .iter()
            .filter(|(k, v)| f(k, v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub(crate) fn list<'a>(
        &'a self,
        group: &'a str,
        plural: &'a str,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| k.is(group, plural) && ns.is_none_or(|n| k.namespace == n))
            .map(|(_, v)| v)
    }

    pub(crate) fn namespace_phase(&self, ns: &str) -> NamespacePhase {
        match self.objects.get(&ObjKey::namespace_key(ns)) {
            None => NamespacePhase::Missing,
            Some(o) if obj::is_deleting(o) => NamespacePhase::Terminating,
            Some(_) => NamespacePhase::Active,
        }
    }

    fn bump(&mut self, o: &mut Value) {
        self.rv += 1;
        obj::meta(o).insert("resourceVersion".into(), json!(self.rv.to_string()));
    }

    fn emit(&mut self, key: ObjKey, etype: EventType, object: Value, previous: Option<Value>) {
        let ev = Arc::new(StoredEvent {
            rv: self.rv,
            key,
            etype,
            object,
            previous,
        });
        self.log.push(ev.clone());
        // No receivers is normal: nobody is watching.
        let _ = self.events.send(ev);
    }

    /// Stores a new object (the caller checked it is absent) and emits ADDED.
    pub(crate) fn insert(&mut self, key: ObjKey, mut o: Value) -> Value {
        self.bump(&mut o);
        if key.is(CRD_GROUP, CRD_PLURAL) {
            if self.crd_establish_delay.is_zero() {
                // Validated before it got here; a failure would only mean "not served".
                let _ = self.registry.register_crd(&o);
            } else {
                // As the real apiextensions controller: names first, served later.
                crate::admission::unestablish_crd(&mut o);
                self.sims
                    .establish_crd_at(obj::uid(&o), Instant::now() + self.crd_establish_delay);
            }
        }
        self.objects.insert(key.clone(), o.clone());
        self.emit(key, EventType::Added, o.clone(), None);
        o
    }

    /// Replaces an existing object and emits MODIFIED.
    pub(crate) fn replace(&mut self, key: &ObjKey, mut o: Value) -> Value {
        self.bump(&mut o);
        if key.is(CRD_GROUP, CRD_PLURAL) && crate::admission::crd_established(&o) {
            let _ = self.registry.register_crd(&o);
        }
        let previous = self.objects.insert(key.clone(), o.clone());
        self.emit(key.clone(), EventType::Modified, o.clone(), previous);
        o
    }

    /// Removes an object for good and emits DELETED. Removing a CRD takes its objects along.
    pub(crate) fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let mut o = self.objects.remove(key)?;
        self.vanish_at.remove(key);
        self.sims.forget(obj::uid(&o));
        self.bump(&mut o);
        self.emit(key.clone(), EventType::Deleted, o.clone(), None);
        if key.is(CRD_GROUP, CRD_PLURAL)
            && let Some(t) = self.registry.unregister_crd(&key.name)
        {
            for k in self.keys_where(|k, _| k.is(&t.group, &t.plural)) {
                self.remove(&k);
            }
        }
        Some(o)
    }

    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<ObjKey> {
        if uid.is_empty() {
            return vec![];
        }
        self.keys_where(|_, v| obj::owner_uids(v).iter().any(|u| u == uid))
    }

    fn lingers(&self, key: &ObjKey, o: &Value, immediate: bool) -> bool {
        key.is("", "namespaces")
            || !obj::finalizers(o).is_empty()
            || (!immediate && !self.deletion_delay.is_zero())
    }

    /// What a delete would do, without doing it (`dryRun=All`).
    pub(crate) fn delete_preview(&self, key: &ObjKey, immediate: bool) -> Option<DeleteOutcome> {
        let o = self.objects.get(key)?.clone();
        if obj::is_deleting(&o) {
            return Some(DeleteOutcome::Pending(o));
        }
        if self.lingers(key, &o, immediate) {
            let mut o = o;
            obj::meta(&mut o).insert("deletionTimestamp".into(), json!(now_rfc3339()));
            Some(DeleteOutcome::Pending(o))
        } else {
            Some(DeleteOutcome::Gone(o))
        }
    }

    /// Starts deleting an object. `immediate` (grace period 0) skips the deletion delay but
    /// not finalizers, like the real server.
    pub(crate) fn delete(
        &mut self,
        key: &ObjKey,
        policy: Propagation,
        immediate: bool,
        now: Instant,
    ) -> Option<DeleteOutcome> {
        let mut o = self.objects.get(key)?.clone();
        if obj::is_deleting(&o) {
            return Some(DeleteOutcome::Pending(o));
        }
        let uid = obj::uid(&o).to_string();
        let dependents = self.dependents_of(&uid);
        let mut foreground = false;
        match policy {
            Propagation::Background => {} // the garbage collector pass removes orphans later
            Propagation::Orphan => {
                for dep in dependents {
                    if let Some(mut d) = self.objects.get(&dep).cloned() {
                        if let Some(refs) = d
                            .pointer_mut("/metadata/ownerReferences")
                            .and_then(Value::as_array_mut)
                        {
                            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&uid));
                        }
                        self.replace(&dep, d);
                    }
                }
            }
            Propagation::Foreground => {
                foreground = !dependents.is_empty();
                for dep in dependents {
                    self.delete(&dep, Propagation::Foreground, immediate, now);
                }
            }
        }
        if foreground {
            let fins = obj::meta(&mut o)
                .entry("finalizers")
                .or_insert_with(|| json!([]));
            if let Some(a) = fins.as_array_mut() {
                a.push(json!(FOREGROUND));
            }
        }
        if self.lingers(key, &o, immediate) {
            let m = obj::meta(&mut o);
            m.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            if key.is("", "namespaces") {
                obj::child(&mut o, "status").insert("phase".into(), json!("Terminating"));
            }
            let delay = if immediate {
                Duration::ZERO
            } else {
                self.deletion_delay
            };
            self.vanish_at.insert(key.clone(), now + delay);
            Some(DeleteOutcome::Pending(self.replace(key, o)))
        } else {
            self.remove(key).map(DeleteOutcome::Gone)
        }
    }

    /// Removes the foreground finalizer once nothing depends on the object any more.
    pub(crate) fn settle_foreground(&mut self, key: &ObjKey) {
        let Some(o) = self.objects.get(key) else {
            return;
        };
        if !obj::finalizers(o).iter().any(|f| f == FOREGROUND)
            || !self.dependents_of(obj::uid(o)).is_empty()
        {
            return;
        }
        let mut o = o.clone();
        if let Some(a) = o
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            a.retain(|f| f.as_str() != Some(FOREGROUND));
        }
        self.replace(key, o);
    }

    /// Collects what a new watch needs while the lock is held, so no event can slip between
    /// the snapshot and the live subscription.
    pub(crate) fn start_watch(
        &self,
        filter: &WatchFilter,
        since: Option<u64>,
        send_initial: bool,
    ) -> Result<WatchStart, TooOld> {
        let rx = self.events.subscribe();
        let mut initial = Vec::new();
        match since {
            Some(rv) if rv != 0 && !send_initial => {
                for ev in self.log.since(rv)? {
                    if let Some(v) = filter.translate(&ev) {
                        initial.push(v);
                    }
                }
            }
            _ => {
                for o in self.list(&filter.group, &filter.plural, filter.namespace.as_deref()) {
                    if filter.selects(o) {
                        initial.push(filter.event(EventType::Added, o));
                    }
                }
                if send_initial {
                    initial.push(filter.initial_events_end(self.rv));
                }
            }
        }
        Ok((initial, self.rv, rx))
    }

    /// Resolves a CRD-or-builtin type for an object, cloning so callers can keep mutating.
    pub(crate) fn type_of(&self, api_version: &str, kind: &str) -> Option<(ResourceType, String)> {
        self.registry
            .find_kind(api_version, kind)
            .map(|(t, v)| (t.clone(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(delay_ms: u64) -> State {
        State::new(
            7,
            Duration::from_millis(10),
            Duration::from_millis(delay_ms),
        )
    }

    fn cm_key(name: &str) -> ObjKey {
        ObjKey {
            group: String::new(),
            plural: "configmaps".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn put(s: &mut State, name: &str, extra: Value) -> Value {
        let mut o = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default"}});
        if let (Some(m), Some(e)) = (o["metadata"].as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        s.stamp_new(&mut o);
        s.insert(cm_key(name), o)
    }

    #[test]
    fn resource_versions_increase_and_watch_resumes_after_them() {
        let mut s = state(0);
        let a = put(&mut s, "a", json!({}));
        let rv_a: u64 = a["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        put(&mut s, "b", json!({}));
        let filter = WatchFilter {
            group: String::new(),
            plural: "configmaps".into(),
            kind: "ConfigMap".into(),
            namespace: Some("default".into()),
            labels: Default::default(),
            fields: Default::default(),
            api_version: "v1".into(),
        };
        let (initial, last, _rx) = s.start_watch(&filter, Some(rv_a), false).unwrap();
        assert_eq!(initial.len(), 1, "only b is newer than a");
        assert_eq!(initial[0]["object"]["metadata"]["name"], "b");
        assert_eq!(last, s.rv());
        let (initial, _, _) = s.start_watch(&filter, None, false).unwrap();
        assert_eq!(initial.len(), 2, "no RV means current state as ADDED");
    }

    #[test]
    fn deletion_delay_and_finalizers_keep_objects_terminating() {
        let mut s = state(50);
        put(&mut s, "a", json!({}));
        let now = Instant::now();
        let out = s
            .delete(&cm_key("a"), Propagation::Background, false, now)
            .unwrap();
        assert!(matches!(out, DeleteOutcome::Pending(ref o) if obj::is_deleting(o)));
        assert_eq!(s.vanish_at[&cm_key("a")], now + Duration::from_millis(50));

        let mut s = state(0);
        put(&mut s, "f", json!({"finalizers": ["example.com/hold"]}));
        let out = s
            .delete(&cm_key("f"), Propagation::Background, true, now)
            .unwrap();
        assert!(matches!(out, DeleteOutcome::Pending(_)));
        put(&mut s, "g", json!({}));
        let out = s
            .delete(&cm_key("g"), Propagation::Background, false, now)
            .unwrap();
        assert!(matches!(out, DeleteOutcome::Gone(_)));
        assert!(!s.contains(&cm_key("g")));
    }

    #[test]
    fn orphan_strips_owner_references() {
        let mut s = state(0);
        let owner = put(&mut s, "owner", json!({}));
        let uid = obj::uid(&owner).to_string();
        put(
            &mut s,
            "dep",
            json!({"ownerReferences": [{"uid": uid, "kind": "ConfigMap", "name": "owner", "apiVersion": "v1"}]}),
        );
        s.delete(&cm_key("owner"), Propagation::Orphan, false, Instant::now());
        assert!(obj::owner_uids(s.get(&cm_key("dep")).unwrap()).is_empty());
    }
}
