//! The resource types the emulator serves: built-in kinds plus those registered by CRDs.

use serde_json::Value;

const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
pub(crate) const CRD_PLURAL: &str = "customresourcedefinitions";

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceType {
    pub group: String,
    /// Served versions; the first is the preferred (and storage) version.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    /// Whether a `/status` subresource exists, which also means writes to the main resource
    /// leave `.status` alone (and vice versa), as on a real server.
    pub status: bool,
    /// The CRD that registered this type, if any.
    pub crd: Option<String>,
}

impl ResourceType {
    pub(crate) fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// `configmaps` or `jobs.batch`: how the real server names a resource in messages.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub(crate) fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub(crate) fn is(&self, group: &str, plural: &str) -> bool {
        self.group == group && self.plural == plural
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    all: bool,
}

// One row of the BUILTINS table; positional so the table stays readable.
#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    all: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        status,
        all,
    }
}

const BUILTINS: &[Builtin] = &[
    b(
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        true,
        false,
    ),
    b(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        false,
        false,
    ),
    b("", "v1", "Secret", "secrets", true, &[], false, false),
    b(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
        false,
    ),
    b("", "v1", "Service", "services", true, &["svc"], true, true),
    b("", "v1", "Pod", "pods", true, &["po"], true, true),
    b("", "v1", "Event", "events", true, &["ev"], false, false),
    b(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
        true,
        false,
    ),
    b(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
        true,
    ),
    b(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
        true,
    ),
    b(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
        true,
        true,
    ),
    b(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
        true,
        true,
    ),
    b("batch", "v1", "Job", "jobs", true, &[], true, true),
    b(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        true,
        &["cj"],
        true,
        true,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
        false,
        false,
    ),
    b(
        CRD_GROUP,
        "v1",
        "CustomResourceDefinition",
        CRD_PLURAL,
        false,
        &["crd", "crds"],
        true,
        false,
    ),
    b(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
        false,
        false,
    ),
    b(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
        false,
        false,
    ),
];

/// All served resource types, in a stable order: core first, then groups as first listed.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    types: Vec<ResourceType>,
}

impl Registry {
    pub(crate) fn builtin() -> Self {
        let types = BUILTINS
            .iter()
            .map(|b| ResourceType {
                group: b.group.into(),
                versions: vec![b.version.into()],
                kind: b.kind.into(),
                plural: b.plural.into(),
                singular: b.kind.to_ascii_lowercase(),
                namespaced: b.namespaced,
                short_names: b.short.iter().map(|s| s.to_string()).collect(),
                categories: if b.all { vec!["all".into()] } else { vec![] },
                verbs: if b.plural == "namespaces" {
                    CRUD.iter()
                        .filter(|v| **v != "deletecollection")
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    CRUD.iter().map(|s| s.to_string()).collect()
                },
                status: b.status,
                crd: None,
            })
            .collect();
        Self { types }
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.is(group, plural) && t.versions.iter().any(|v| v == version))
    }

    /// Resolves an object's `apiVersion` + `kind` to its type and version.
    pub(crate) fn find_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Option<(&ResourceType, String)> {
        let (group, version) = split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version))
            .map(|t| (t, version.to_string()))
    }

    /// Every served group version, core first, each once.
    pub(crate) fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.types {
            for v in &t.versions {
                let gv = (t.group.clone(), v.clone());
                if !out.contains(&gv) {
                    out.push(gv);
                }
            }
        }
        out
    }

    pub(crate) fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceType> + 'a {
        self.types
            .iter()
            .filter(move |t| t.group == group && t.versions.iter().any(|v| v == version))
    }

    /// Registers (or re-registers, after an update) the kind a CRD defines.
    pub(crate) fn register_crd(&mut self, crd: &Value) -> Result<(), Vec<(String, String)>> {
        let t = parse_crd(crd)?;
        let name = t.crd.clone();
        self.types.retain(|x| x.crd != name);
        self.types.push(t);
        Ok(())
    }

    pub(crate) fn unregister_crd(&mut self, name: &str) -> Option<ResourceType> {
        let pos = self
            .types
            .iter()
            .position(|t| t.crd.as_deref() == Some(name))?;
        Some(self.types.remove(pos))
    }
}

pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Validates a CRD the way the real API server rejects the common mistakes, returning the
/// type it registers.
pub(crate) fn parse_crd(crd: &Value) -> Result<ResourceType, Vec<(String, String)>> {
    let mut causes = Vec::new();
    let mut need = |ptr: &str, field: &str| {
        let v = str_at(crd, ptr).map(str::to_string);
        if v.is_none() {
            causes.push((field.to_string(), "Required value".to_string()));
        }
        v.unwrap_or_default()
    };
    let name = need("/metadata/name", "metadata.name");
    let group = need("/spec/group", "spec.group");
    let plural = need("/spec/names/plural", "spec.names.plural");
    let kind = need("/spec/names/kind", "spec.names.kind");
    let scope = need("/spec/scope", "spec.scope");
    let versions: Vec<(String, bool, bool)> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| {
                    let n = v.get("name")?.as_str()?.to_string();
                    let served = v.get("served").and_then(Value::as_bool).unwrap_or(false);
                    let status = v.pointer("/subresources/status").is_some();
                    Some((n, served, status))
                })
                .collect()
        })
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(("spec.versions".into(), "Required value".into()));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if !scope.is_empty() && scope != "Namespaced" && scope != "Cluster" {
        causes.push((
            "spec.scope".into(),
            format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    if !causes.is_empty() {
        return Err(causes);
    }
    // The storage version goes first so it is the one advertised as preferred.
    let storage = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut served: Vec<String> = versions
        .iter()
        .filter(|(_, s, _)| *s)
        .map(|(n, _, _)| n.clone())
        .collect();
    if let Some(st) = storage
        && let Some(pos) = served.iter().position(|v| *v == st)
    {
        let v = served.remove(pos);
        served.insert(0, v);
    }
    let list = |ptr: &str| -> Vec<String> {
        crd.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(ResourceType {
        singular: str_at(crd, "/spec/names/singular")
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase()),
        group,
        versions: served,
        kind,
        plural,
        namespaced: scope == "Namespaced",
        short_names: list("/spec/names/shortNames"),
        categories: list("/spec/names/categories"),
        verbs: CRUD.iter().map(|s| s.to_string()).collect(),
        status: versions.iter().any(|(_, _, s)| *s),
        crd: Some(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_registers_and_unregisters() {
        let mut r = Registry::builtin();
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1alpha1", "served": true, "storage": false},
                             {"name": "v1", "served": true, "storage": true,
                              "subresources": {"status": {}}}]}
        });
        r.register_crd(&crd).unwrap();
        let t = r.find("example.com", "v1alpha1", "widgets").unwrap();
        assert_eq!(t.versions, ["v1", "v1alpha1"]);
        assert!(t.namespaced && t.status);
        assert!(r.find_kind("example.com/v1", "Widget").is_some());
        assert!(r.unregister_crd("widgets.example.com").is_some());
        assert!(r.find("example.com", "v1", "widgets").is_none());
    }

    #[test]
    fn crd_with_mismatched_name_is_invalid() {
        let crd = json!({"metadata": {"name": "nope"}, "spec": {"group": "g.io", "scope": "Cluster",
            "names": {"plural": "things", "kind": "Thing"}, "versions": [{"name": "v1", "served": true}]}});
        let causes = parse_crd(&crd).unwrap_err();
        assert_eq!(causes[0].0, "metadata.name");
    }
}
