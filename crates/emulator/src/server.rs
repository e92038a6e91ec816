//! HTTP: the accept loop (plain or TLS), URL routing, fault injection, the request log, and
//! turning `ops` results into responses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::discovery;
use crate::emulator::RequestRecord;
use crate::faults::Faults;
use crate::ops::{self, DeleteOpts, PatchKind, PatchRequest, Target, Writer};
use crate::proto::ProtoError;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Propagation, State};
use crate::table;
use crate::watch::{self, WatchFilter, WatchPlan};

type Body = BoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Mutex<Faults>,
    pub requests: Mutex<Vec<RequestRecord>>,
    /// `127.0.0.1:PORT`, advertised by legacy `/api`.
    pub address: String,
}

/// Locks without propagating poison: a panicked request must not take the emulator down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let tls = tls.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let builder = http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        }
    }
    conns.abort_all();
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn respond(code: u16, content_type: &str, body: Body, warnings: &[String]) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append("warning", v);
        }
    }
    r
}

fn json_reply(code: u16, v: &Value) -> Response<Body> {
    respond(code, "application/json", full(v.to_string()), &[])
}

fn error_reply(e: &ApiError) -> Response<Body> {
    json_reply(e.code, &e.to_json())
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Version,
    Health,
    Api,
    Apis,
    ApisGroup(String),
    GroupVersion(String, String),
    OpenApiRoot,
    OpenApiGv(String, String),
    Resource(ResPath),
    Unknown,
}

impl Route {
    fn is_discovery(&self) -> bool {
        !matches!(self, Self::Resource(_) | Self::Unknown)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResPath {
    group: String,
    version: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    watch: bool,
}

fn route(path: &str) -> Route {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["api"] => Route::Api,
        ["api", v] => Route::GroupVersion(String::new(), v.to_string()),
        ["api", v, rest @ ..] => resource("", v, rest),
        ["apis"] => Route::Apis,
        ["apis", g] => Route::ApisGroup(g.to_string()),
        ["apis", g, v] => Route::GroupVersion(g.to_string(), v.to_string()),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        ["openapi", "v3"] => Route::OpenApiRoot,
        ["openapi", "v3", "api", v] => Route::OpenApiGv(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => Route::OpenApiGv(g.to_string(), v.to_string()),
        _ => Route::Unknown,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let (watch, rest) = match rest {
        ["watch", tail @ ..] => (true, tail),
        _ => (false, rest),
    };
    let owned = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (plural, namespace, tail) = match rest {
        ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
            ("namespaces", None, owned(&[name, sub]))
        }
        ["namespaces", ns, plural, tail @ ..] => (*plural, Some(*ns), owned(tail)),
        [plural, tail @ ..] => (*plural, None, owned(tail)),
        [] => return Route::Unknown,
    };
    if tail.len() > 2 {
        return Route::Unknown;
    }
    Route::Resource(ResPath {
        group: group.to_string(),
        version: version.to_string(),
        plural: plural.to_string(),
        namespace: namespace.map(str::to_string),
        name: tail.first().cloned(),
        sub: tail.get(1).cloned(),
        watch,
    })
}

struct Ctx {
    method: Method,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    token: Option<String>,
    user_agent: String,
    body: Bytes,
}

impl Ctx {
    /// `fieldManager`, else what the real server derives from the User-Agent: its
    /// product name (`kubectl`, `helm`, …).
    fn manager(&self) -> &str {
        self.q("fieldManager").unwrap_or_else(|| {
            self.user_agent
                .split('/')
                .next()
                .filter(|p| !p.is_empty())
                .unwrap_or("unknown")
        })
    }

    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn dry_run(&self) -> bool {
        self.q("dryRun") == Some("All")
            || (self.method == Method::DELETE
                && self
                    .delete_options()
                    .ok()
                    .and_then(|v| v.get("dryRun").cloned())
                    .and_then(|d| d.as_array().map(|a| a.iter().any(|x| x == "All")))
                    .unwrap_or(false))
    }

    /// A DELETE's `DeleteOptions`, JSON or protobuf; `{}` when it sent none.
    fn delete_options(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(json!({}))
        } else {
            parse_json_body(self)
        }
    }

    fn is_write(&self) -> bool {
        matches!(
            self.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        )
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let received = Instant::now();
    let at = SystemTime::now();
    let (parts, body) = req.into_parts();
    let header = |h| {
        parts
            .headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let token = header(AUTHORIZATION)
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string());
    let user_agent = header(USER_AGENT);
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let resp = error_reply(&ApiError::too_large());
            lock(&shared.requests).push(RequestRecord {
                method: parts.method.to_string(),
                path,
                query: raw_query,
                status: 413,
                name: None,
                dry_run: false,
                at,
                received,
                user_agent,
            });
            return resp;
        }
    };
    let ctx = Ctx {
        method: parts.method.clone(),
        query: parse_query(&raw_query),
        accept: header(ACCEPT),
        content_type: header(CONTENT_TYPE),
        token,
        user_agent: user_agent.clone(),
        body,
    };
    let route = route(&path);
    let (latency, fault) = {
        let mut f = lock(&shared.faults);
        (f.latency, f.roll(route.is_discovery()))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // Injected before anything happens, so a client may safely retry even a create.
    let resp = if fault {
        error_reply(&ApiError::internal(
            "kube-emulator: injected fault (error_rate); nothing was changed",
        ))
    } else {
        let resp = dispatch(&shared, &ctx, &route).await;
        let write = matches!(
            ctx.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if write
            && resp.status().is_success()
            && Faults::take(&mut lock(&shared.faults).lost_write_responses)
        {
            error_reply(&ApiError::timeout(
                "kube-emulator: injected fault (lost response); the change was made",
            ))
        } else {
            resp
        }
    };
    let name = match &route {
        Route::Resource(rp) => rp.name.clone().or_else(|| {
            (ctx.method == Method::POST)
                .then(|| serde_json::from_slice::<Value>(&ctx.body).ok())
                .flatten()
                .and_then(|b| crate::obj::str_at(&b, "/metadata/name").map(str::to_string))
        }),
        _ => None,
    };
    lock(&shared.requests).push(RequestRecord {
        method: ctx.method.to_string(),
        path,
        query: raw_query,
        status: resp.status().as_u16(),
        name,
        dry_run: ctx.dry_run(),
        at,
        received,
        user_agent,
    });
    resp
}

async fn dispatch(shared: &Shared, ctx: &Ctx, route: &Route) -> Response<Body> {
    if ctx.method != Method::GET && route.is_discovery() {
        return error_reply(&ApiError::method_not_allowed(
            "discovery endpoints are read-only",
        ));
    }
    let not_found = || error_reply(&ApiError::no_such_resource());
    match route {
        Route::Version => json_reply(200, &discovery::version()),
        Route::Health => respond(200, "text/plain", full("ok"), &[]),
        Route::Api | Route::Apis => {
            let core = *route == Route::Api;
            if let Some(ct) = discovery::aggregated_wanted(&ctx.accept) {
                let st = lock(&shared.state);
                let body = discovery::aggregated(&st.registry, core, ct);
                return respond(200, ct, full(body.to_string()), &[]);
            }
            let body = if core {
                discovery::api_versions(&shared.address)
            } else {
                discovery::api_group_list(&lock(&shared.state).registry)
            };
            json_reply(200, &body)
        }
        Route::ApisGroup(g) => match discovery::api_group_doc(&lock(&shared.state).registry, g) {
            Some(v) => json_reply(200, &v),
            None => not_found(),
        },
        Route::GroupVersion(g, v) => {
            match discovery::resource_list(&lock(&shared.state).registry, g, v) {
                Some(body) => json_reply(200, &body),
                None => not_found(),
            }
        }
        Route::OpenApiRoot => {
            json_reply(200, &discovery::openapi_root(&lock(&shared.state).registry))
        }
        Route::OpenApiGv(g, v) => {
            match discovery::openapi_gv(&lock(&shared.state).registry, g, v) {
                Some(body) => json_reply(200, &body),
                None => not_found(),
            }
        }
        Route::Resource(rp) => match resource_request(shared, ctx, rp).await {
            Ok(r) => r,
            Err(e) => error_reply(&e),
        },
        Route::Unknown => not_found(),
    }
}

fn verb(ctx: &Ctx, rp: &ResPath) -> &'static str {
    match (&ctx.method, rp.name.is_some()) {
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        (_, true) => "get",
        _ => "list",
    }
}

fn forbidden(rp: &ResPath, ctx: &Ctx) -> ApiError {
    let what = match &rp.name {
        Some(n) => format!("{} \"{n}\"", qualified(rp)),
        None => qualified(rp),
    };
    let scope = match &rp.namespace {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    ApiError::forbidden(format!(
        "{what} is forbidden: User \"read-only\" cannot {} resource \"{}\" in API group \"{}\"{scope}",
        verb(ctx, rp),
        rp.plural,
        rp.group
    ))
}

fn qualified(rp: &ResPath) -> String {
    if rp.group.is_empty() {
        rp.plural.clone()
    } else {
        format!("{}.{}", rp.plural, rp.group)
    }
}

fn parse_json_body(ctx: &Ctx) -> Result<Value, ApiError> {
    let ct = ctx.content_type.split(';').next().unwrap_or("").trim();
    if ct == "application/vnd.kubernetes.protobuf" {
        return crate::proto::to_json(&ctx.body).map_err(|e| match e {
            ProtoError::Malformed => ApiError::bad_request("malformed protobuf request body"),
            ProtoError::UnsupportedKind(k) => ApiError::unsupported_media_type(&format!(
                "{ct} for {k}; the emulator decodes protobuf only for ConfigMap, Secret, Namespace, ServiceAccount and DeleteOptions; send JSON (e.g. kubectl create -f manifest.yaml)"
            )),
        });
    }
    if ct.contains("protobuf") || ct.contains("cbor") {
        return Err(ApiError::unsupported_media_type(ct));
    }
    parse_json(&ctx.body)
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body as JSON: {e}")))
}

fn selectors(ctx: &Ctx) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(ctx.q("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(ctx.q("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((labels, fields))
}

fn delete_opts(ctx: &Ctx) -> Result<DeleteOpts, ApiError> {
    let body = ctx.delete_options()?;
    let policy_str = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| ctx.q("propagationPolicy").map(str::to_string));
    let policy = match policy_str.as_deref() {
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        None => match body.get("orphanDependents").and_then(Value::as_bool) {
            Some(true) => Some(Propagation::Orphan),
            Some(false) => Some(Propagation::Background),
            None => None,
        },
    };
    let grace = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| ctx.q("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let pre = |k: &str| {
        body.pointer(&format!("/preconditions/{k}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(DeleteOpts {
        policy,
        immediate: grace == Some(0),
        uid: pre("uid"),
        resource_version: pre("resourceVersion"),
    })
}

async fn resource_request(
    shared: &Shared,
    ctx: &Ctx,
    rp: &ResPath,
) -> Result<Response<Body>, ApiError> {
    let rt = {
        let st = lock(&shared.state);
        st.registry
            .find(&rp.group, &rp.version, &rp.plural)
            .cloned()
    }
    .ok_or_else(ApiError::no_such_resource)?;
    if (!rt.namespaced && rp.namespace.is_some())
        || (rt.namespaced && rp.name.is_some() && rp.namespace.is_none())
    {
        return Err(ApiError::no_such_resource());
    }
    match rp.sub.as_deref() {
        None => {}
        Some("status") if rt.status => {}
        Some("log") if rt.is("", "pods") && ctx.method == Method::GET => {}
        Some(_) => return Err(ApiError::no_such_resource()),
    }
    // The read-only token is Kubernetes' `view` ClusterRole: no writes, and no reads of
    // Secrets (whose data `view` withholds), so both refusals can be tested.
    if ctx.is_write() || rt.is("", "secrets") {
        let read_only = lock(&shared.faults).read_only_token.clone();
        if read_only.is_some() && ctx.token == read_only {
            return Err(forbidden(rp, ctx));
        }
    }
    let t = Target {
        rt,
        version: rp.version.clone(),
        namespace: rp.namespace.clone(),
    };
    let dry = ctx.dry_run();
    let status_only = rp.sub.as_deref() == Some("status");
    let now = Instant::now();
    let wants_table = table::wants_table(&ctx.accept);
    let ok = |code: u16, v: Value| json_reply(code, &v);
    match (&ctx.method, rp.name.as_deref()) {
        (&Method::GET, None) => {
            let watch = rp.watch || matches!(ctx.q("watch"), Some("true" | "1" | "True"));
            let (labels, fields) = selectors(ctx)?;
            if watch {
                return start_watch(shared, ctx, &t, labels, fields);
            }
            let st = lock(&shared.state);
            let list = ops::list(&st, &t, &labels, &fields);
            if wants_table {
                let items = list["items"].as_array().cloned().unwrap_or_default();
                return Ok(ok(200, table::table(&t.rt.kind, &items, st.rv())));
            }
            Ok(ok(200, list))
        }
        (&Method::GET, Some(name)) if rp.sub.as_deref() == Some("log") => {
            pod_log(shared, ctx, &t, name).await
        }
        (&Method::GET, Some(name)) => {
            let st = lock(&shared.state);
            let o = ops::get(&st, &t, name)?;
            if wants_table && !status_only {
                return Ok(ok(200, table::table(&t.rt.kind, &[o], st.rv())));
            }
            Ok(ok(200, o))
        }
        (&Method::POST, None) if rp.sub.is_none() => {
            if t.rt.namespaced && t.namespace.is_none() {
                return Err(ApiError::method_not_allowed(format!(
                    "POST to {} requires a namespace in the URL",
                    t.rt.qualified()
                )));
            }
            let body = parse_json_body(ctx)?;
            let mut st = lock(&shared.state);
            let writer = Writer::Manager(ctx.manager());
            Ok(ok(201, ops::create(&mut st, &t, body, writer, dry, now)?))
        }
        (&Method::PUT, Some(name)) => {
            let body = parse_json_body(ctx)?;
            let mut st = lock(&shared.state);
            Ok(ok(
                200,
                ops::update(
                    &mut st,
                    &t,
                    name,
                    body,
                    status_only,
                    Writer::Manager(ctx.manager()),
                    dry,
                    now,
                )?,
            ))
        }
        (&Method::PATCH, Some(name)) => {
            let ct = ctx.content_type.split(';').next().unwrap_or("").trim();
            let kind = match ct {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/json-patch+json" => PatchKind::Json,
                "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            let request = PatchRequest {
                kind,
                manager: ctx.manager(),
                manager_given: ctx.q("fieldManager").is_some(),
                force: matches!(ctx.q("force"), Some("true" | "1")),
            };
            let mut st = lock(&shared.state);
            let r = ops::patch(&mut st, &t, name, request, &ctx.body, status_only, dry, now)?;
            Ok(respond(
                r.code,
                "application/json",
                full(r.body.to_string()),
                &r.warnings,
            ))
        }
        (&Method::DELETE, Some(name)) if rp.sub.is_none() => {
            let opts = delete_opts(ctx)?;
            let mut st = lock(&shared.state);
            let r = ops::delete(&mut st, &t, name, &opts, dry, now)?;
            Ok(respond(
                r.code,
                "application/json",
                full(r.body.to_string()),
                &r.warnings,
            ))
        }
        (&Method::DELETE, None) if rp.sub.is_none() => {
            let opts = delete_opts(ctx)?;
            let (labels, fields) = selectors(ctx)?;
            let mut st = lock(&shared.state);
            let r = ops::delete_collection(&mut st, &t, &labels, &fields, &opts, dry, now)?;
            Ok(respond(
                r.code,
                "application/json",
                full(r.body.to_string()),
                &r.warnings,
            ))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "{} is not supported on this path",
            ctx.method
        ))),
    }
}

fn start_watch(
    shared: &Shared,
    ctx: &Ctx,
    t: &Target,
    labels: LabelSelector,
    fields: FieldSelector,
) -> Result<Response<Body>, ApiError> {
    let since = match ctx.q("resourceVersion") {
        None => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {rv:?}: must be an integer"
            ))
        })?),
    };
    let send_initial = ctx.q("sendInitialEvents") == Some("true");
    let timeout = ctx
        .q("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    let drop_after = lock(&shared.faults).drop_watch_after;
    let close_after = match (timeout, drop_after) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let filter = WatchFilter {
        group: t.rt.group.clone(),
        plural: t.rt.plural.clone(),
        kind: t.rt.kind.clone(),
        namespace: t.namespace.clone(),
        labels,
        fields,
        api_version: t.api_version(),
    };
    if since.is_some() && Faults::take(&mut lock(&shared.faults).expired_watches) {
        return Ok(respond(
            200,
            "application/json",
            full(format!("{}\n", watch::expired_event())),
            &[],
        ));
    }
    let started = lock(&shared.state).start_watch(&filter, since, send_initial);
    let body = match started {
        Ok((initial, last_rv, rx)) => watch::stream(WatchPlan {
            filter,
            initial,
            last_rv,
            rx,
            close_after,
        }),
        Err(_) => full(format!("{}\n", watch::expired_event())),
    };
    Ok(respond(200, "application/json", body, &[]))
}

async fn pod_log(
    shared: &Shared,
    ctx: &Ctx,
    t: &Target,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let follow = matches!(ctx.q("follow"), Some("true" | "1"));
    let container = ctx.q("container");
    // Following waits for the container to finish, then sends everything at once.
    let deadline = Instant::now() + Duration::from_secs(600);
    let (text, start) = loop {
        let (result, start) = {
            let st = lock(&shared.state);
            let start = ops::get(&st, t, name).ok().and_then(|p| {
                p.pointer("/status/startTime")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            (ops::pod_log(&st, t, name, container), start)
        };
        match result {
            Ok((text, finished)) if finished || !follow || Instant::now() > deadline => {
                break (text, start);
            }
            Ok(_) => {}
            Err(e) if !follow || e.code == 404 => return Err(e),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if let Some(n) = ctx.q("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    if matches!(ctx.q("timestamps"), Some("true" | "1")) {
        let ts = start.unwrap_or_else(crate::time::now_rfc3339);
        for l in &mut lines {
            *l = format!("{ts} {l}");
        }
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    if let Some(limit) = ctx.q("limitBytes").and_then(|n| n.parse::<usize>().ok()) {
        out.truncate(limit);
    }
    Ok(respond(200, "text/plain", full(out), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |p: &str| route(p);
        assert_eq!(r("/version"), Route::Version);
        assert_eq!(
            r("/api/v1"),
            Route::GroupVersion(String::new(), "v1".into())
        );
        let Route::Resource(p) = r("/api/v1/namespaces/default/pods/p1/log") else {
            panic!()
        };
        assert_eq!(
            (
                p.plural.as_str(),
                p.namespace.as_deref(),
                p.name.as_deref(),
                p.sub.as_deref()
            ),
            ("pods", Some("default"), Some("p1"), Some("log"))
        );
        let Route::Resource(p) = r("/api/v1/namespaces/ns1") else {
            panic!()
        };
        assert_eq!(
            (p.plural.as_str(), p.namespace, p.name.as_deref()),
            ("namespaces", None, Some("ns1"))
        );
        let Route::Resource(p) = r("/api/v1/namespaces/ns1/status") else {
            panic!()
        };
        assert_eq!(
            (p.plural.as_str(), p.name.as_deref(), p.sub.as_deref()),
            ("namespaces", Some("ns1"), Some("status"))
        );
        let Route::Resource(p) = r("/apis/batch/v1/watch/namespaces/d/jobs") else {
            panic!()
        };
        assert!(p.watch && p.plural == "jobs" && p.name.is_none());
        let Route::Resource(p) = r("/api/v1/pods") else {
            panic!()
        };
        assert!(p.namespace.is_none() && p.name.is_none());
        assert_eq!(r("/api/v1/namespaces/d/pods/a/b/c"), Route::Unknown);
        assert_eq!(
            r("/openapi/v3/apis/batch/v1"),
            Route::OpenApiGv("batch".into(), "v1".into())
        );
    }

    #[test]
    fn query_decoding() {
        let q = parse_query(
            "labelSelector=env+in+%28a%2Cb%29&fieldSelector=metadata.name%3Djob1&x&bad=%zz",
        );
        assert_eq!(q["labelSelector"], "env in (a,b)");
        assert_eq!(q["fieldSelector"], "metadata.name=job1");
        assert_eq!(q["x"], "");
        assert_eq!(q["bad"], "%zz");
    }
}
