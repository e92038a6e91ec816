//! The public handle: start/stop, kubeconfig, request log, test seeding and fault knobs.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admission;
use crate::controllers::reconcile;
use crate::faults::Faults;
use crate::obj;
use crate::resources::{CRD_GROUP, CRD_PLURAL, parse_crd};
use crate::server::{self, Shared, lock};
use crate::store::{ObjKey, Propagation, State};
use crate::tls;

/// How the emulator behaves. `Default` gives a plain-HTTP, fault-free server with 200 ms pods.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Serve HTTPS with a freshly generated CA (written into the kubeconfig). Needed for
    /// anything involving tokens: kubectl sends no credentials over plain HTTP.
    pub tls: bool,
    /// Loopback port to bind; 0 picks a free one.
    pub port: u16,
    /// How long a simulated pod runs (after a short Pending phase).
    pub pod_duration: Duration,
    /// How long a deleted object lingers with `deletionTimestamp` before it vanishes.
    pub deletion_delay: Duration,
    /// Fraction of non-discovery requests answered with 500 InternalError before doing anything.
    pub error_rate: f64,
    /// Let `error_rate` hit `/version`, discovery and OpenAPI too.
    pub fault_discovery: bool,
    /// Added to every request.
    pub latency: Duration,
    /// Close every watch stream after this long, as a flaky load balancer would.
    pub drop_watch_after: Option<Duration>,
    /// Requests bearing this bearer token get 403 Forbidden on POST/PUT/PATCH/DELETE and on
    /// any request for Secrets, as Kubernetes' `view` ClusterRole has it.
    pub read_only_token: Option<String>,
    /// Seeds the RNGs (fault rolls, generated names and UIDs).
    pub seed: u64,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            tls: false,
            port: 0,
            pod_duration: Duration::from_millis(200),
            deletion_delay: Duration::ZERO,
            error_rate: 0.0,
            fault_discovery: false,
            latency: Duration::ZERO,
            drop_watch_after: None,
            read_only_token: None,
            seed: 0,
        }
    }
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw (still percent-encoded) query string, without `?`.
    pub query: String,
    pub status: u16,
    /// The object a request addresses: the name in its URL, or the `metadata.name` a
    /// create sent (whose URL names none).
    pub name: Option<String>,
    /// `dryRun=All` in the query (or in a DELETE's options body).
    pub dry_run: bool,
    pub at: SystemTime,
    pub received: Instant,
    pub user_agent: String,
}

impl RequestRecord {
    /// POST, PUT, PATCH or DELETE, dry run or not.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }

    /// A write that was not a dry run, i.e. one that may have changed the cluster.
    pub fn is_mutating(&self) -> bool {
        self.is_write() && !self.dry_run
    }
}

/// Errors from the test-seeding API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(
        "the emulator does not serve kind {kind:?} in apiVersion {api_version:?} (create its CRD first?)"
    )]
    UnknownKind { api_version: String, kind: String },
    #[error("invalid object: {0}")]
    InvalidObject(String),
}

/// A running emulator. Dropping it (or calling [`Emulator::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

const TICK: Duration = Duration::from_millis(10);

impl Emulator {
    /// Binds `127.0.0.1:port` and starts serving on the current tokio runtime. The runtime must
    /// keep running while clients talk to it: in tests that run blocking clients (e.g.
    /// `std::process::Command` for kubectl), use a multi-threaded runtime or `tokio::process`.
    pub async fn start(opts: EmulatorOptions) -> io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let tls = if opts.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(
                opts.seed,
                opts.pod_duration,
                opts.deletion_delay,
            )),
            faults: Mutex::new(Faults::new(
                opts.seed,
                opts.error_rate,
                opts.fault_discovery,
                opts.latency,
                opts.drop_watch_after,
                opts.read_only_token.clone(),
            )),
            requests: Mutex::new(Vec::new()),
            address: addr.to_string(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let server = tokio::spawn(server::serve(
            listener,
            tls.as_ref().map(|t| t.acceptor.clone()),
            shared.clone(),
            stop_rx.clone(),
        ));
        let ticker = tokio::spawn(controller_loop(shared.clone(), stop_rx));
        Ok(Emulator {
            shared,
            addr,
            ca_pem: tls.map(|t| t.ca_pem),
            stop,
            tasks: vec![server, ticker],
        })
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the CA that signed the server certificate, when serving TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A kubeconfig (context `kube-emulator`) for this server, with the CA inlined as
    /// `certificate-authority-data` when serving TLS. Strings are JSON-quoted, which is
    /// valid YAML, so odd namespaces or tokens cannot break it.
    pub fn kubeconfig_yaml(&self, namespace: &str, token: Option<&str>) -> String {
        let q = |s: &str| Value::String(s.to_string()).to_string();
        let mut cluster = format!("    server: {}\n", q(&self.url()));
        if let Some(ca) = &self.ca_pem {
            let data = base64::engine::general_purpose::STANDARD.encode(ca);
            cluster.push_str(&format!("    certificate-authority-data: {}\n", q(&data)));
        }
        let user = match token {
            Some(t) => format!("  user:\n    token: {}\n", q(t)),
            None => "  user: {}\n".to_string(),
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-emulator\n  cluster:\n{cluster}\
             contexts:\n- name: kube-emulator\n  context:\n    cluster: kube-emulator\n    user: kube-emulator\n    namespace: {}\n\
             current-context: kube-emulator\npreferences: {{}}\nusers:\n- name: kube-emulator\n{user}",
            q(namespace)
        )
    }

    /// Writes [`Emulator::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        namespace: &str,
        token: Option<&str>,
    ) -> io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml(namespace, token))
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.requests).clone()
    }

    /// Requests that may have changed the cluster: writes that were not dry runs.
    pub fn mutating_requests(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(RequestRecord::is_mutating)
            .collect()
    }

    /// All POST/PUT/PATCH/DELETE requests, dry runs included.
    pub fn write_requests(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(RequestRecord::is_write)
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// The stored object, or `None`. `namespace` is ignored for cluster-scoped kinds.
    pub fn get_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let st = lock(&self.shared.state);
        let (rt, _) = st.type_of(api_version, kind)?;
        st.get(&ObjKey::new(&rt, namespace.unwrap_or("default"), name))
            .cloned()
    }

    /// The plural resource name of a kind (`configmaps`) and whether it is namespaced, as
    /// discovery would say; `None` for a kind the emulator does not serve.
    pub fn resource_of(&self, api_version: &str, kind: &str) -> Option<(String, bool)> {
        let st = lock(&self.shared.state);
        let (rt, _) = st.type_of(api_version, kind)?;
        Some((rt.plural, rt.namespaced))
    }

    /// All stored objects of a kind, in one namespace or (with `None`) everywhere.
    pub fn list_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        let st = lock(&self.shared.state);
        let Some((rt, _)) = st.type_of(api_version, kind) else {
            return vec![];
        };
        st.list(&rt.group, &rt.plural, namespace).cloned().collect()
    }

    /// Stores an object as-is (creating its namespace if needed), e.g. one left behind by an
    /// earlier run. Given `uid`, `status` and timestamps are kept; missing server fields are
    /// filled in. An existing object of the same name is replaced. Controllers then act on it
    /// as on any object (a seeded Job without a finished condition will run).
    pub fn put_object(&self, object: Value) -> Result<Value, EmulatorError> {
        let s = |p: &str| obj::str_at(&object, p).unwrap_or("").to_string();
        let (api_version, kind, name) = (s("/apiVersion"), s("/kind"), s("/metadata/name"));
        if api_version.is_empty() || kind.is_empty() || name.is_empty() {
            return Err(EmulatorError::InvalidObject(
                "apiVersion, kind and metadata.name are required".into(),
            ));
        }
        let mut st = lock(&self.shared.state);
        let (rt, _) =
            st.type_of(&api_version, &kind)
                .ok_or_else(|| EmulatorError::UnknownKind {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                })?;
        if rt.is(CRD_GROUP, CRD_PLURAL) {
            parse_crd(&object).map_err(|causes| {
                EmulatorError::InvalidObject(
                    causes
                        .iter()
                        .map(|(f, m)| format!("{f}: {m}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
        }
        let mut o = object;
        let ns = if rt.namespaced {
            let ns = obj::str_at(&o, "/metadata/namespace")
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string();
            st.ensure_namespace(&ns);
            obj::meta(&mut o).insert("namespace".into(), json!(ns));
            ns
        } else {
            obj::meta(&mut o).remove("namespace");
            String::new()
        };
        let key = ObjKey::new(&rt, &ns, &name);
        let stored = match st.get(&key).cloned() {
            Some(cur) => {
                let m = obj::meta(&mut o);
                for k in ["uid", "creationTimestamp", "generation"] {
                    if !m.contains_key(k)
                        && let Some(v) = cur.pointer(&format!("/metadata/{k}"))
                    {
                        m.insert(k.into(), v.clone());
                    }
                }
                st.replace(&key, o)
            }
            None => {
                let given = o.get("metadata").cloned().unwrap_or(json!({}));
                st.stamp_new(&mut o);
                let m = obj::meta(&mut o);
                for k in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "deletionTimestamp",
                ] {
                    if let Some(v) = given.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
                let has_status = o.get("status").is_some();
                match (rt.group.as_str(), rt.plural.as_str()) {
                    ("batch", "jobs") if o.pointer("/spec/selector").is_none() => {
                        admission::default_job(&mut o)
                    }
                    ("", "pods") if !has_status => admission::default_pod(&mut o),
                    (CRD_GROUP, CRD_PLURAL) if !has_status => admission::crd_status(&mut o),
                    _ => {}
                }
                st.insert(key, o)
            }
        };
        reconcile(&mut st, Instant::now());
        Ok(stored)
    }

    /// Deletes an object as a Background-propagation API delete would, skipping the deletion
    /// delay (finalizers still hold it). Returns whether it existed.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        let mut st = lock(&self.shared.state);
        let Some((rt, _)) = st.type_of(api_version, kind) else {
            return false;
        };
        let key = ObjKey::new(&rt, namespace.unwrap_or("default"), name);
        let now = Instant::now();
        let existed = st
            .delete(&key, Propagation::Background, true, now)
            .is_some();
        reconcile(&mut st, now);
        existed
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.state).rv()
    }

    pub fn set_error_rate(&self, rate: f64) {
        lock(&self.shared.faults).error_rate = rate;
    }

    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.faults).latency = latency;
    }

    pub fn set_drop_watch_after(&self, after: Option<Duration>) {
        lock(&self.shared.faults).drop_watch_after = after;
    }

    /// The next `count` successful writes (POST, PUT, PATCH, DELETE) are carried out but
    /// answered with 504 Timeout, so a client cannot tell whether they happened.
    pub fn lose_write_responses(&self, count: u32) {
        lock(&self.shared.faults).lost_write_responses = count;
    }

    /// The next `count` watches that resume from a resourceVersion get 410 Expired ("too
    /// old resource version"), as after a compaction: clients must relist.
    pub fn expire_watches(&self, count: u32) {
        lock(&self.shared.faults).expired_watches = count;
    }

    pub fn set_read_only_token(&self, token: Option<String>) {
        lock(&self.shared.faults).read_only_token = token;
    }

    /// Applies to objects deleted from now on.
    pub fn set_deletion_delay(&self, delay: Duration) {
        lock(&self.shared.state).deletion_delay = delay;
    }

    /// Applies to pods that have not started yet.
    pub fn set_pod_duration(&self, duration: Duration) {
        lock(&self.shared.state).pod_duration = duration;
    }

    /// How long CustomResourceDefinitions created from now on take to become Established;
    /// until then discovery does not list their resource, as on a real API server.
    pub fn set_crd_establish_delay(&self, delay: Duration) {
        lock(&self.shared.state).crd_establish_delay = delay;
    }

    /// Stops serving and waits for the server tasks to finish. Open watches end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn controller_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                let mut st = lock(&shared.state);
                reconcile(&mut st, Instant::now());
            }
        }
    }
}
