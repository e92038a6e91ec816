//! The REST verbs over the store, independent of HTTP: what a real API server does for
//! create/get/list/update/patch/delete, including dry runs and preconditions.

use std::time::Instant;

use serde_json::{Value, json};

use crate::admission;
use crate::controllers::reconcile;
use crate::fields;
use crate::obj;
use crate::patch;
use crate::podsim;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{DeleteOutcome, NamespacePhase, ObjKey, Propagation, State};

/// The real server warns about this default, and so do we: kube-rs' `DeleteParams::default()`
/// leaves a Job's pods behind.
pub(crate) const JOB_ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

/// The resource a request addresses.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub rt: ResourceType,
    pub version: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
}

impl Reply {
    fn new(code: u16, body: Value) -> Self {
        Self {
            code,
            body,
            warnings: vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Merge,
    Strategic,
    Json,
    Apply,
}

/// Who made a write, for field ownership (`metadata.managedFields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer<'a> {
    /// A create or an update (operation `Update`) by this field manager, which owns
    /// what it wrote.
    Manager(&'a str),
    /// A server-side apply, which computed the managed fields itself.
    Applied,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeleteOpts {
    pub policy: Option<Propagation>,
    pub immediate: bool,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

impl Target {
    pub(crate) fn api_version(&self) -> String {
        self.rt.api_version(&self.version)
    }

    fn key(&self, name: &str) -> ObjKey {
        ObjKey::new(&self.rt, self.namespace.as_deref().unwrap_or(""), name)
    }

    /// Stamps the served apiVersion; stored objects of multi-version CRDs are not converted.
    fn present(&self, mut v: Value) -> Value {
        v["apiVersion"] = json!(self.api_version());
        v["kind"] = json!(self.rt.kind);
        v
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(&self.rt, name)
    }
}

fn check_type(t: &Target, o: &Value) -> Result<(), ApiError> {
    if !o.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    if let Some(k) = o
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        && k != t.rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the provided object ({k}) does not match the resource ({})",
            t.rt.qualified()
        )));
    }
    if let Some(av) = o
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        && av != t.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            t.api_version()
        )));
    }
    Ok(())
}

/// Puts the URL's namespace into the object (or strips it for cluster-scoped kinds).
fn scope_namespace(t: &Target, o: &mut Value) -> Result<String, ApiError> {
    if !t.rt.namespaced {
        obj::meta(o).remove("namespace");
        return Ok(String::new());
    }
    let ns = t
        .namespace
        .clone()
        .ok_or_else(|| ApiError::bad_request("a namespace is required for this resource"))?;
    let m = obj::meta(o);
    if let Some(body_ns) = m.get("namespace").and_then(Value::as_str)
        && !body_ns.is_empty()
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    m.insert("namespace".into(), json!(ns));
    Ok(ns)
}

pub(crate) fn get(st: &State, t: &Target, name: &str) -> Result<Value, ApiError> {
    st.get(&t.key(name))
        .cloned()
        .map(|v| t.present(v))
        .ok_or_else(|| t.not_found(name))
}

pub(crate) fn list(
    st: &State,
    t: &Target,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Value {
    let items: Vec<Value> = st
        .list(&t.rt.group, &t.rt.plural, t.namespace.as_deref())
        .filter(|o| labels.matches_object(o) && fields.matches(o))
        .map(|o| t.present(o.clone()))
        .collect();
    json!({
        "kind": t.rt.list_kind(),
        "apiVersion": t.api_version(),
        "metadata": {"resourceVersion": st.rv().to_string()},
        "items": items,
    })
}

pub(crate) fn create(
    st: &mut State,
    t: &Target,
    body: Value,
    writer: Writer<'_>,
    dry: bool,
    now: Instant,
) -> Result<Value, ApiError> {
    let mut o = body;
    check_type(t, &o)?;
    o["kind"] = json!(t.rt.kind);
    o["apiVersion"] = json!(t.api_version());
    let ns = scope_namespace(t, &mut o)?;
    let mut name = obj::name(&o).to_string();
    if name.is_empty() {
        let prefix = obj::str_at(&o, "/metadata/generateName")
            .unwrap_or_default()
            .to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                &t.rt.kind,
                "",
                &[(
                    "metadata.name".into(),
                    "Required value: name or generateName is required".into(),
                )],
            ));
        }
        loop {
            name = format!("{prefix}{}", st.suffix());
            if !st.contains(&t.key(&name)) {
                break;
            }
        }
        obj::meta(&mut o).insert("name".into(), json!(name));
    }
    if t.rt.namespaced {
        match st.namespace_phase(&ns) {
            NamespacePhase::Missing => return Err(ApiError::namespace_not_found(&ns)),
            NamespacePhase::Terminating => {
                return Err(ApiError::forbidden(format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    t.rt.qualified()
                )));
            }
            NamespacePhase::Active => {}
        }
    }
    let key = t.key(&name);
    if st.contains(&key) {
        return Err(ApiError::already_exists(&t.rt, &name));
    }
    admission::validate(&t.rt, &o)?;
    st.stamp_new(&mut o);
    admission::on_create(&t.rt, &mut o);
    if let Writer::Manager(manager) = writer {
        fields::record_update(None, &mut o, manager, &t.api_version(), t.rt.status);
    }
    if dry {
        return Ok(t.present(o));
    }
    let stored = st.insert(key, o);
    reconcile(st, now);
    Ok(t.present(stored))
}

/// Everything but metadata and status: what `generation` tracks.
fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "kind", "apiVersion"] {
            m.remove(k);
        }
    }
    v
}

fn without_rv(v: &Value) -> Value {
    let mut v = v.clone();
    obj::meta(&mut v).remove("resourceVersion");
    v
}

/// Builds the new stored object from the current one and what the client sent, keeping the
/// fields only the server may set.
fn merge_update(t: &Target, cur: &Value, body: Value, status_only: bool) -> Value {
    let mut new = if status_only {
        let mut n = cur.clone();
        match body.get("status") {
            Some(s) => n["status"] = s.clone(),
            None => {
                if let Some(m) = n.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        n
    } else {
        let mut n = body;
        if t.rt.status {
            match cur.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(m) = n.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        n
    };
    new["kind"] = json!(t.rt.kind);
    new["apiVersion"] = cur
        .get("apiVersion")
        .cloned()
        .unwrap_or(json!(t.api_version()));
    let m = obj::meta(&mut new);
    for k in [
        "uid",
        "name",
        "namespace",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match cur.pointer(&format!("/metadata/{k}")) {
            Some(v) => m.insert(k.into(), v.clone()),
            None => m.remove(k),
        };
    }
    if spec_part(cur) != spec_part(&new) {
        let g = cur
            .pointer("/metadata/generation")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        obj::meta(&mut new).insert("generation".into(), json!(g + 1));
    }
    new
}

#[allow(clippy::too_many_arguments)]
fn finish_update(
    st: &mut State,
    t: &Target,
    key: &ObjKey,
    cur: &Value,
    body: Value,
    status_only: bool,
    writer: Writer<'_>,
    dry: bool,
    now: Instant,
) -> Result<Value, ApiError> {
    let sent_rv = obj::str_at(&body, "/metadata/resourceVersion").unwrap_or("");
    if !sent_rv.is_empty() && Some(sent_rv) != obj::str_at(cur, "/metadata/resourceVersion") {
        return Err(ApiError::stale(&t.rt, &key.name));
    }
    let mut new = merge_update(t, cur, body, status_only);
    match writer {
        // Status writes leave the owners of the object's fields alone.
        _ if status_only => {}
        Writer::Manager(manager) => {
            fields::record_update(Some(cur), &mut new, manager, &t.api_version(), t.rt.status)
        }
        Writer::Applied => {}
    }
    admission::validate(&t.rt, &new)?;
    if dry {
        return Ok(t.present(new));
    }
    // A no-op write keeps the resourceVersion, so watchers are not woken for nothing.
    if without_rv(&new) == without_rv(cur) {
        return Ok(t.present(cur.clone()));
    }
    let stored = st.replace(key, new);
    reconcile(st, now);
    Ok(t.present(stored))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    st: &mut State,
    t: &Target,
    name: &str,
    body: Value,
    status_only: bool,
    writer: Writer<'_>,
    dry: bool,
    now: Instant,
) -> Result<Value, ApiError> {
    let mut body = body;
    check_type(t, &body)?;
    let body_name = obj::name(&body);
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    scope_namespace(t, &mut body)?;
    let key = t.key(name);
    let cur = st.get(&key).cloned().ok_or_else(|| t.not_found(name))?;
    finish_update(st, t, &key, &cur, body, status_only, writer, dry, now)
}

/// Strategic-merge directives (`$patch`, `$setElementOrder/…`) have no merge-patch meaning.
fn strip_directives(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, _| !k.starts_with('$'));
        for child in m.values_mut() {
            strip_directives(child);
        }
    }
}

/// The write a PATCH asks for: its format, by whom, and whether an apply is forced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatchRequest<'a> {
    pub kind: PatchKind,
    /// `fieldManager`, else the one the User-Agent names.
    pub manager: &'a str,
    /// Whether `fieldManager` was given: server-side apply requires it.
    pub manager_given: bool,
    /// `force=true`: an apply takes over fields other managers own.
    pub force: bool,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn patch(
    st: &mut State,
    t: &Target,
    name: &str,
    request: PatchRequest<'_>,
    body: &[u8],
    status_only: bool,
    dry: bool,
    now: Instant,
) -> Result<Reply, ApiError> {
    let mut patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let key = t.key(name);
    let cur = st.get(&key).cloned();
    if request.kind == PatchKind::Apply {
        if !request.manager_given {
            return Err(ApiError::invalid(
                "PatchOptions.meta.k8s.io",
                "",
                &[(
                    "fieldManager".into(),
                    "Required value: is required for apply patch".into(),
                )],
            ));
        }
        check_type(t, &patch)?;
        let sent = obj::name(&patch);
        if sent.is_empty() {
            obj::meta(&mut patch).insert("name".into(), json!(name));
        } else if sent != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({sent}) does not match the name on the URL ({name})"
            )));
        }
        if cur.is_none() && status_only {
            return Err(t.not_found(name));
        }
        let applied = fields::apply(
            cur.as_ref(),
            &patch,
            request.manager,
            &t.api_version(),
            request.force,
            t.rt.status,
        )
        .map_err(|conflicts| ApiError::apply_conflicts(&conflicts))?;
        return match cur {
            None => create(st, t, applied, Writer::Applied, dry, now).map(|v| Reply::new(201, v)),
            Some(cur) => finish_update(
                st,
                t,
                &key,
                &cur,
                applied,
                status_only,
                Writer::Applied,
                dry,
                now,
            )
            .map(|v| Reply::new(200, v)),
        };
    }
    let Some(cur) = cur else {
        return Err(t.not_found(name));
    };
    let mut merged = cur.clone();
    match request.kind {
        PatchKind::Merge => patch::merge(&mut merged, &patch),
        PatchKind::Strategic => {
            strip_directives(&mut patch);
            patch::merge(&mut merged, &patch);
        }
        PatchKind::Json => patch::json_patch(&mut merged, &patch).map_err(|m| ApiError {
            code: 422,
            reason: "Invalid",
            message: m,
            details: None,
        })?,
        PatchKind::Apply => unreachable!("handled above"),
    }
    finish_update(
        st,
        t,
        &key,
        &cur,
        merged,
        status_only,
        Writer::Manager(request.manager),
        dry,
        now,
    )
    .map(|v| Reply::new(200, v))
}

pub(crate) fn delete(
    st: &mut State,
    t: &Target,
    name: &str,
    opts: &DeleteOpts,
    dry: bool,
    now: Instant,
) -> Result<Reply, ApiError> {
    let key = t.key(name);
    let cur = st.get(&key).ok_or_else(|| t.not_found(name))?;
    if let Some(want) = opts.uid.as_deref()
        && want != obj::uid(cur)
    {
        return Err(ApiError::conflict(
            &t.rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                obj::uid(cur)
            ),
        ));
    }
    if let Some(want) = opts.resource_version.as_deref()
        && Some(want) != obj::str_at(cur, "/metadata/resourceVersion")
    {
        return Err(ApiError::stale(&t.rt, name));
    }
    let mut warnings = Vec::new();
    let policy = match opts.policy {
        Some(p) => p,
        None if t.rt.is("batch", "jobs") => {
            warnings.push(JOB_ORPHAN_WARNING.to_string());
            Propagation::Orphan
        }
        None => Propagation::Background,
    };
    let out = if dry {
        st.delete_preview(&key, opts.immediate)
    } else {
        let out = st.delete(&key, policy, opts.immediate, now);
        reconcile(st, now);
        out
    };
    let mut reply = match out {
        Some(DeleteOutcome::Gone(o)) => Reply::new(200, status::deleted(&t.rt, name, obj::uid(&o))),
        Some(DeleteOutcome::Pending(o)) => Reply::new(200, t.present(o)),
        None => return Err(t.not_found(name)),
    };
    reply.warnings = warnings;
    Ok(reply)
}

pub(crate) fn delete_collection(
    st: &mut State,
    t: &Target,
    labels: &LabelSelector,
    fields: &FieldSelector,
    opts: &DeleteOpts,
    dry: bool,
    now: Instant,
) -> Result<Reply, ApiError> {
    let names: Vec<String> = st
        .list(&t.rt.group, &t.rt.plural, t.namespace.as_deref())
        .filter(|o| labels.matches_object(o) && fields.matches(o))
        .map(|o| obj::name(o).to_string())
        .collect();
    let mut warnings = Vec::new();
    for name in names {
        let mut one = t.clone();
        if t.rt.namespaced {
            let ns = st
                .list(&t.rt.group, &t.rt.plural, t.namespace.as_deref())
                .find(|o| obj::name(o) == name)
                .and_then(|o| obj::str_at(o, "/metadata/namespace"))
                .map(str::to_string);
            one.namespace = ns;
        }
        if let Ok(r) = delete(st, &one, &name, opts, dry, now) {
            warnings.extend(r.warnings);
        }
    }
    warnings.dedup();
    Ok(Reply {
        code: 200,
        body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
        warnings,
    })
}

/// A pod's log so far and whether its container has finished.
pub(crate) fn pod_log(
    st: &State,
    t: &Target,
    name: &str,
    container: Option<&str>,
) -> Result<(String, bool), ApiError> {
    let pod = st.get(&t.key(name)).ok_or_else(|| t.not_found(name))?;
    let containers: Vec<&Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let cname = |c: &Value| {
        c.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let spec = match container {
        Some(want) => containers
            .iter()
            .find(|c| cname(c) == want)
            .ok_or_else(|| {
                ApiError::bad_request(format!("container {want} is not valid for pod {name}"))
            })?,
        None if containers.len() == 1 => &containers[0],
        None => {
            let names: Vec<String> = containers.iter().map(|c| cname(c)).collect();
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let cn = cname(spec);
    if obj::str_at(pod, "/status/phase").is_none_or(|p| p == "Pending") {
        return Err(ApiError::bad_request(format!(
            "container \"{cn}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let terminated = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|s| s.get("name").and_then(Value::as_str) == Some(&cn))
        })
        .and_then(|s| s.pointer("/state/terminated"));
    let mut run = podsim::simulate(spec);
    if let Some(code) = terminated
        .and_then(|t| t.get("exitCode"))
        .and_then(Value::as_i64)
    {
        run.exit_code = i32::try_from(code).unwrap_or(1);
    }
    Ok((
        podsim::log_text(&run, terminated.is_some()),
        terminated.is_some(),
    ))
}
