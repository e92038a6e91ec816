//! `kubectl hooks gc`: hook objects left in the cluster that their delete policy says
//! should be gone, of one release (from Helm's storage) or of kubectl-hooks' own runs
//! (by the run-id annotation every applied hook carries).
//!
//! The rules, for an object that is a hook (it carries `helm.sh/hook` and, for a release,
//! matches one of the release's stored hooks by group, kind, namespace and name):
//!
//! 1. never a CustomResourceDefinition, never an object already being deleted;
//! 2. `hook-succeeded` and it succeeded (a Job `Complete`, a Pod `Succeeded`, any other
//!    kind once it exists): Helm deletes it once its event has succeeded;
//! 3. `hook-failed` and it failed (a Job `Failed`, a Pod `Failed`): Helm deletes it when it
//!    fails;
//! 4. it failed and has no `before-hook-creation`: the next run would apply over it, find
//!    it failed already and fail at once (Helm 3: "already exists");
//! 5. its release is uninstalled (`helm uninstall --keep-history`): every hook of it.
//!
//! Anything else — a hook with only `before-hook-creation` (Helm keeps it on purpose until
//! the hook runs again), one still running, a failed one that the next run replaces — is
//! left alone. So is every object changed within `min_age`: it may belong to a run or a
//! Helm action still going. A release with an action pending (`pending-install`,
//! `pending-upgrade`, `pending-rollback`, `uninstalling`) is left alone entirely.
//!
//! Runs write no record of their own (a run makes no request beyond its hooks'), so for an
//! object of a kubectl-hooks run "did its run finish" is read from the object itself: a
//! run that finished applied the delete policies, so an object that rule 2 or 3 still
//! finds was left by a run that was killed, interrupted or lost the cluster before its
//! clean-up (or whose deletion failed); rule 4 finds the failed hooks any run left.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use hooks_plan::{BEFORE_HOOK_CREATION, HOOK_ANNOTATION, HOOK_FAILED, HOOK_SUCCEEDED, Hook};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Preconditions, PropagationPolicy};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use serde::Serialize;
use serde_json::Value;

use crate::{ApplyError, ObjectRef, RUN_ID_ANNOTATION};

/// What to look for.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// The namespace: the release's, or the one scanned for objects of our runs (along
    /// with cluster-scoped objects).
    pub namespace: String,
    pub scope: GcScope,
    /// Objects changed more recently than this are left alone.
    pub min_age: Duration,
}

/// Whose hook objects to look for.
#[derive(Debug, Clone)]
pub enum GcScope {
    /// One release's hooks, as its storage has them: every revision Helm keeps, newest
    /// first. The caller leaves alone a release with a Helm action pending.
    Release {
        revisions: Vec<ReleaseHooks>,
        /// Its newest revision is `uninstalled` (`helm uninstall --keep-history`).
        uninstalled: bool,
    },
    /// The objects of kubectl-hooks runs, by their run-id annotation.
    Runs,
}

/// The hooks one revision of a release stored.
#[derive(Debug, Clone)]
pub struct ReleaseHooks {
    pub name: String,
    pub revision: u64,
    /// As Helm's `status` label has it: `deployed`, `failed`, …
    pub status: String,
    pub hooks: Vec<Hook>,
}

/// Why an object should be gone: the rule that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// `hook-succeeded`, and it succeeded.
    Succeeded,
    /// `hook-failed`, and it failed.
    Failed,
    /// It failed and has no `before-hook-creation`.
    FailedInTheWay,
    /// Its release is uninstalled.
    ReleaseUninstalled,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Succeeded => "hook-succeeded, and it succeeded",
            Reason::Failed => "hook-failed, and it failed",
            Reason::FailedInTheWay => {
                "failed, without before-hook-creation: the next run would apply over it and fail"
            }
            Reason::ReleaseUninstalled => "its release is uninstalled",
        }
    }
}

/// Whose hook an object is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Owner {
    /// One of a release's stored hooks; the newest revision that has it.
    Release {
        name: String,
        revision: u64,
        status: String,
    },
    /// An object a kubectl-hooks run applied.
    Run { id: String },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Release { name, revision, .. } => write!(f, "release {name} v{revision}"),
            Owner::Run { id } => write!(f, "run {id}"),
        }
    }
}

/// A hook object that should be gone.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    pub object: ObjectRef,
    pub uid: String,
    #[serde(serialize_with = "timestamp")]
    pub created_at: Option<SystemTime>,
    /// Its newest write: creation or the latest field manager's update.
    #[serde(serialize_with = "timestamp")]
    pub changed_at: Option<SystemTime>,
    pub reason: Reason,
    pub owner: Owner,
}

impl Leftover {
    /// `hook-succeeded, and it succeeded (release shop v2)`.
    pub fn why(&self) -> String {
        format!("{} ({})", self.reason.describe(), self.owner)
    }
}

/// What `find` found.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Findings {
    pub leftovers: Vec<Leftover>,
    /// Leftovers changed within `min_age`, left alone.
    pub recent: Vec<Leftover>,
    /// What was not examined or left alone, and why.
    pub notes: Vec<String>,
}

fn timestamp<S: serde::Serializer>(at: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&crate::format_timestamp(*at)),
        None => s.serialize_none(),
    }
}

/// Finds the leftovers; deletes nothing.
pub async fn find(
    client: &kube::Client,
    options: &GcOptions,
    now: SystemTime,
) -> Result<Findings, ApplyError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|source| ApplyError::ClusterDiscovery { source })?;
    let mut findings = Findings::default();
    let found = match &options.scope {
        GcScope::Release {
            revisions,
            uninstalled,
        } => {
            release_leftovers(
                client,
                &discovery,
                &options.namespace,
                revisions,
                *uninstalled,
                &mut findings,
            )
            .await
        }
        GcScope::Runs => run_leftovers(client, &discovery, options, &mut findings).await,
    };
    for leftover in found {
        let recent = leftover
            .changed_at
            .and_then(|at| now.duration_since(at).ok())
            .is_none_or(|age| age < options.min_age);
        if recent && !options.min_age.is_zero() {
            findings.recent.push(leftover);
        } else {
            findings.leftovers.push(leftover);
        }
    }
    Ok(findings)
}

/// How a Job or Pod ended; every other kind is done once it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Succeeded,
    Failed,
    Running,
}

fn state(resource: &ApiResource, object: &Value) -> State {
    let condition = |kind: &str| {
        object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == kind && c["status"] == "True")
            })
    };
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("batch", "Job") if condition("Complete") => State::Succeeded,
        ("batch", "Job") if condition("Failed") => State::Failed,
        ("batch", "Job") => State::Running,
        ("", "Pod") => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => State::Succeeded,
            Some("Failed") => State::Failed,
            _ => State::Running,
        },
        _ => State::Succeeded,
    }
}

/// The rules of the module's documentation, for one hook object.
fn judge(hook: &Hook, state: State, uninstalled: bool) -> Option<Reason> {
    if hook.is_never_deleted() {
        return None;
    }
    if uninstalled {
        return Some(Reason::ReleaseUninstalled);
    }
    match state {
        State::Succeeded if hook.has_delete_policy(HOOK_SUCCEEDED) => Some(Reason::Succeeded),
        State::Failed if hook.has_delete_policy(HOOK_FAILED) => Some(Reason::Failed),
        State::Failed if !hook.has_delete_policy(BEFORE_HOOK_CREATION) => {
            Some(Reason::FailedInTheWay)
        }
        _ => None,
    }
}

/// The object's hook, read from its own annotations with the planner's rules; `None` when
/// it is not a hook (no `helm.sh/hook`, or an event Helm would drop).
fn hook_of(object: &DynamicObject) -> Option<Hook> {
    let text = serde_json::to_string(object).ok()?;
    let documents = hooks_plan::stored_documents(
        "cluster",
        vec![hooks_plan::StoredDocument {
            path: "live object".into(),
            manifest: text,
        }],
    )
    .ok()?;
    hooks_plan::parse(&documents).ok()?.hooks.pop()
}

fn is_hook_object(object: &DynamicObject) -> bool {
    object
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(HOOK_ANNOTATION))
}

fn leftover(
    resource: &ApiResource,
    object: &DynamicObject,
    reason: Reason,
    owner: Owner,
) -> Leftover {
    let meta = &object.metadata;
    let created_at = meta
        .creation_timestamp
        .as_ref()
        .map(|t| SystemTime::from(t.0));
    let changed_at = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.time.as_ref().map(|t| SystemTime::from(t.0)))
        .chain(created_at)
        .max();
    Leftover {
        object: ObjectRef {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
            resource: resource.plural.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        },
        uid: meta.uid.clone().unwrap_or_default(),
        created_at,
        changed_at,
        reason,
        owner,
    }
}

/// Rules 1–5 over the objects named by the release's stored hooks, every revision Helm
/// keeps, the newest revision's hook deciding for an object several name.
async fn release_leftovers(
    client: &kube::Client,
    discovery: &Discovery,
    namespace: &str,
    revisions: &[ReleaseHooks],
    uninstalled: bool,
    findings: &mut Findings,
) -> Vec<Leftover> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for revision in revisions {
        let release = &revision.name;
        for hook in &revision.hooks {
            let Some((resource, caps)) = resolve(discovery, &hook.api_version, &hook.kind) else {
                // Not served (any more): there can be no such object.
                continue;
            };
            let namespace = match caps.scope {
                Scope::Namespaced => Some(
                    hook.namespace
                        .clone()
                        .unwrap_or_else(|| namespace.to_owned()),
                ),
                Scope::Cluster => None,
            };
            let key = (
                resource.group.clone(),
                resource.kind.clone(),
                namespace.clone(),
                hook.name.clone(),
            );
            if !seen.insert(key) {
                continue;
            }
            let api: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let object = match api.get_opt(&hook.name).await {
                Ok(Some(object)) => object,
                Ok(None) => continue,
                Err(error) => {
                    findings.notes.push(format!(
                        "cannot get {}/{}{}: {}",
                        resource.kind,
                        hook.name,
                        namespace
                            .as_ref()
                            .map(|ns| format!(" in namespace `{ns}`"))
                            .unwrap_or_default(),
                        message(&error)
                    ));
                    continue;
                }
            };
            if object.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if !is_hook_object(&object) {
                findings.notes.push(format!(
                    "{}/{}{} has the name of a hook of release `{release}` but is not a hook object (no `{HOOK_ANNOTATION}` annotation): left alone",
                    resource.kind,
                    hook.name,
                    namespace
                        .as_ref()
                        .map(|ns| format!(" in namespace `{ns}`"))
                        .unwrap_or_default(),
                ));
                continue;
            }
            let value = serde_json::to_value(&object).unwrap_or(Value::Null);
            if let Some(reason) = judge(hook, state(&resource, &value), uninstalled) {
                found.push(leftover(&resource, &object, reason, owner_of(revision)));
            }
        }
    }
    found
}

fn owner_of(revision: &ReleaseHooks) -> Owner {
    Owner::Release {
        name: revision.name.clone(),
        revision: revision.revision,
        status: revision.status.clone(),
    }
}

/// `apiVersion` + kind → the resource, at the version the hook names.
fn resolve(
    discovery: &Discovery,
    api_version: &str,
    kind: &str,
) -> Option<(ApiResource, ApiCapabilities)> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk(group, version, kind))
}

/// Kinds never listed when looking for our objects: nothing applies a hook of them, and
/// a busy cluster has many.
const NOT_SCANNED: [&str; 1] = ["Event"];

/// Rules 1–4 over every object in the namespace (and every cluster-scoped one) that
/// carries kubectl-hooks' run id. Annotations cannot be selected on by the server, so
/// every listable kind is listed; what cannot be listed is noted.
async fn run_leftovers(
    client: &kube::Client,
    discovery: &Discovery,
    options: &GcOptions,
    findings: &mut Findings,
) -> Vec<Leftover> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut resources: Vec<(ApiResource, ApiCapabilities)> = discovery
        .groups_alphabetical()
        .into_iter()
        .flat_map(|group| group.resources_by_stability())
        .filter(|(resource, caps)| {
            caps.supports_operation(verbs::LIST) && !NOT_SCANNED.contains(&resource.kind.as_str())
        })
        .collect();
    // One kind served by two groups (events, old ingresses) is listed twice; the uid
    // check below drops the second sighting.
    resources.sort_by(|a, b| (&a.0.group, &a.0.plural).cmp(&(&b.0.group, &b.0.plural)));
    for (resource, caps) in resources {
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                Api::namespaced_with(client.clone(), &options.namespace, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let mut params = ListParams::default().limit(500);
        loop {
            let list = match api.list(&params).await {
                Ok(list) => list,
                Err(error) => {
                    findings.notes.push(format!(
                        "cannot list {}{}: {}; none of them was examined",
                        qualified(&resource),
                        match caps.scope {
                            Scope::Namespaced => format!(" in namespace `{}`", options.namespace),
                            Scope::Cluster => String::new(),
                        },
                        message(&error)
                    ));
                    break;
                }
            };
            let next = list.metadata.continue_.clone().filter(|c| !c.is_empty());
            for object in list.items {
                let Some(run_id) = object
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(RUN_ID_ANNOTATION))
                    .cloned()
                else {
                    continue;
                };
                let uid = object.metadata.uid.clone().unwrap_or_default();
                if !seen.insert(uid) || object.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let Some(hook) = hook_of(&object) else {
                    continue;
                };
                let value = serde_json::to_value(&object).unwrap_or(Value::Null);
                if let Some(reason) = judge(&hook, state(&resource, &value), false) {
                    found.push(leftover(
                        &resource,
                        &object,
                        reason,
                        Owner::Run { id: run_id },
                    ));
                }
            }
            match next {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
    }
    found
}

fn qualified(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

fn message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// How a deletion is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    Delete,
    /// `dryRun=All`: the server checks the deletion and changes nothing.
    ServerDryRun,
}

/// What became of one deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result", content = "message")]
pub enum DeleteResult {
    Deleted,
    /// Server dry run: it would have been deleted.
    DryRun,
    /// Gone before we got to it.
    AlreadyGone,
    /// Replaced by another object of the same name since it was examined (its uid
    /// changed): left alone.
    Replaced,
    Failed(String),
}

/// Deletes each leftover with background propagation, as Helm deletes hooks, on the
/// condition that it is still the object examined (its uid): one recreated meanwhile by a
/// new run is not touched. Deletions are not waited for.
pub async fn delete(
    client: &kube::Client,
    leftovers: &[Leftover],
    mode: DeleteMode,
) -> Vec<DeleteResult> {
    let mut results = Vec::with_capacity(leftovers.len());
    for leftover in leftovers {
        let object = &leftover.object;
        let (group, version) = object
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", object.api_version.as_str()));
        let resource = ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            plural: object.resource.clone(),
        };
        let api: Api<DynamicObject> = match &object.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let params = DeleteParams {
            dry_run: mode == DeleteMode::ServerDryRun,
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: Some(leftover.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let result = match api.delete(&object.name, &params).await {
            Ok(_) if mode == DeleteMode::ServerDryRun => DeleteResult::DryRun,
            Ok(_) => DeleteResult::Deleted,
            Err(kube::Error::Api(status)) if status.code == 404 => DeleteResult::AlreadyGone,
            Err(kube::Error::Api(status)) if status.code == 409 => DeleteResult::Replaced,
            Err(kube::Error::Api(status)) if status.code == 403 => DeleteResult::Failed(format!(
                "forbidden: {}; check with `kubectl auth can-i delete {}{}`",
                status.message,
                qualified(&resource),
                object
                    .namespace
                    .as_ref()
                    .map(|ns| format!(" -n {ns}"))
                    .unwrap_or_default()
            )),
            Err(error) => DeleteResult::Failed(message(&error)),
        };
        results.push(result);
    }
    results
}

/// Counts by reason, for a summary line.
pub fn by_reason(leftovers: &[Leftover]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for leftover in leftovers {
        *counts.entry(leftover.reason.describe()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(kind: &str, policies: Option<&str>) -> Hook {
        let api = if kind == "Job" { "batch/v1" } else { "v1" };
        let mut manifest = format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook: pre-install\n"
        );
        if let Some(p) = policies {
            manifest.push_str(&format!("    helm.sh/hook-delete-policy: {p:?}\n"));
        }
        let documents = hooks_plan::stored_documents(
            "t",
            vec![hooks_plan::StoredDocument {
                path: "t.yaml".into(),
                manifest,
            }],
        )
        .unwrap();
        hooks_plan::parse(&documents).unwrap().hooks.pop().unwrap()
    }

    #[test]
    fn the_rules() {
        use State::*;
        let cases = [
            // (kind, policies, state, uninstalled, expected)
            (
                "Job",
                Some("hook-succeeded"),
                Succeeded,
                false,
                Some(Reason::Succeeded),
            ),
            ("Job", Some("hook-succeeded"), Running, false, None),
            (
                "Job",
                Some("before-hook-creation,hook-succeeded"),
                Failed,
                false,
                None,
            ),
            (
                "Job",
                Some("hook-succeeded"),
                Failed,
                false,
                Some(Reason::FailedInTheWay),
            ),
            (
                "Job",
                Some("hook-failed"),
                Failed,
                false,
                Some(Reason::Failed),
            ),
            ("Job", Some("hook-failed"), Succeeded, false, None),
            ("Job", None, Failed, false, None),
            ("Job", None, Succeeded, false, None),
            ("Job", Some(""), Failed, false, Some(Reason::FailedInTheWay)),
            (
                "ConfigMap",
                Some("hook-succeeded"),
                Succeeded,
                false,
                Some(Reason::Succeeded),
            ),
            ("ConfigMap", None, Succeeded, false, None),
            (
                "ConfigMap",
                None,
                Succeeded,
                true,
                Some(Reason::ReleaseUninstalled),
            ),
            (
                "CustomResourceDefinition",
                Some("hook-succeeded"),
                Succeeded,
                false,
                None,
            ),
            ("CustomResourceDefinition", None, Succeeded, true, None),
        ];
        for (kind, policies, state, uninstalled, expected) in cases {
            assert_eq!(
                judge(&hook(kind, policies), state, uninstalled),
                expected,
                "{kind} {policies:?} {state:?} uninstalled={uninstalled}"
            );
        }
    }

    #[test]
    fn states_of_jobs_pods_and_the_rest() {
        let job = ApiResource::erase::<k8s_openapi::api::batch::v1::Job>(&());
        let pod = ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&());
        let cm = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let conditions = |kind: &str| serde_json::json!({"status": {"conditions": [{"type": kind, "status": "True"}]}});
        assert_eq!(state(&job, &conditions("Complete")), State::Succeeded);
        assert_eq!(state(&job, &conditions("Failed")), State::Failed);
        assert_eq!(state(&job, &conditions("Suspended")), State::Running);
        assert_eq!(
            state(&pod, &serde_json::json!({"status": {"phase": "Failed"}})),
            State::Failed
        );
        assert_eq!(state(&pod, &serde_json::json!({})), State::Running);
        assert_eq!(state(&cm, &serde_json::json!({})), State::Succeeded);
    }
}
