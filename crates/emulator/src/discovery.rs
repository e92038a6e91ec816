//! `/version`, discovery (aggregated for kubectl, legacy for kube-rs) and just enough OpenAPI
//! v3 for kubectl's default `--validate=strict` (KUBECTL-WIRE §1–2).

use serde_json::{Value, json};

use crate::resources::{Registry, ResourceType};

/// Content type that makes kubectl read `/api` and `/apis` as aggregated discovery.
pub(crate) const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
pub(crate) const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Which aggregated discovery version the Accept header asks for, if any.
pub(crate) fn aggregated_wanted(accept: &str) -> Option<&'static str> {
    if !accept.contains("as=APIGroupDiscoveryList") {
        return None;
    }
    if accept.contains("v=v2;") || accept.contains("v=v2,") || accept.ends_with("v=v2") {
        Some(AGGREGATED_V2)
    } else {
        Some(AGGREGATED_V2BETA1)
    }
}

/// Minor 32 keeps the machine's kubectl dispatcher on its built-in 1.32 (KUBECTL-WIRE §0).
pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-emulator",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn scope(t: &ResourceType) -> &'static str {
    if t.namespaced {
        "Namespaced"
    } else {
        "Cluster"
    }
}

fn subresources(t: &ResourceType) -> Vec<(String, Vec<&'static str>, String)> {
    let mut subs = Vec::new();
    if t.status {
        subs.push((
            "status".to_string(),
            vec!["get", "patch", "update"],
            t.kind.clone(),
        ));
    }
    if t.is("", "pods") {
        subs.push(("log".to_string(), vec!["get"], t.kind.clone()));
    }
    subs
}

fn aggregated_resource(t: &ResourceType, version: &str) -> Value {
    let subs: Vec<Value> = subresources(t)
        .into_iter()
        .map(|(name, verbs, kind)| {
            json!({"subresource": name,
                   "responseKind": {"group": t.group, "version": version, "kind": kind},
                   "verbs": verbs})
        })
        .collect();
    let mut r = json!({
        "resource": t.plural,
        "responseKind": {"group": t.group, "version": version, "kind": t.kind},
        "scope": scope(t),
        "singularResource": t.singular,
        "verbs": t.verbs,
        "subresources": subs,
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    r
}

/// `GET /api` (core) or `GET /apis` (groups) as an `APIGroupDiscoveryList`.
pub(crate) fn aggregated(reg: &Registry, core: bool, content_type: &str) -> Value {
    let api_version = if content_type == AGGREGATED_V2 {
        "apidiscovery.k8s.io/v2"
    } else {
        "apidiscovery.k8s.io/v2beta1"
    };
    let mut groups: Vec<String> = Vec::new();
    for (g, _) in reg.group_versions() {
        if (g.is_empty() == core) && !groups.contains(&g) {
            groups.push(g);
        }
    }
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            let versions: Vec<Value> = reg
                .group_versions()
                .into_iter()
                .filter(|(gg, _)| gg == g)
                .map(|(_, v)| {
                    let resources: Vec<Value> = reg
                        .in_group_version(g, &v)
                        .map(|t| aggregated_resource(t, &v))
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

/// Legacy `GET /api`.
pub(crate) fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let versions: Vec<Value> = reg
        .group_versions()
        .into_iter()
        .filter(|(g, _)| g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({"name": group, "versions": versions, "preferredVersion": preferred}))
}

/// Legacy `GET /apis`.
pub(crate) fn api_group_list(reg: &Registry) -> Value {
    let mut seen: Vec<String> = Vec::new();
    for (g, _) in reg.group_versions() {
        if !g.is_empty() && !seen.contains(&g) {
            seen.push(g);
        }
    }
    let groups: Vec<Value> = seen.iter().filter_map(|g| api_group(reg, g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// Legacy `GET /apis/GROUP`.
pub(crate) fn api_group_doc(reg: &Registry, group: &str) -> Option<Value> {
    let mut g = api_group(reg, group)?;
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

/// Legacy `GET /api/v1` or `/apis/GROUP/VERSION`; `None` when that group version is not served.
pub(crate) fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for t in reg.in_group_version(group, version) {
        let mut r = json!({"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                           "kind": t.kind, "verbs": t.verbs});
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        for (sub, verbs, kind) in subresources(t) {
            resources.push(
                json!({"name": format!("{}/{sub}", t.plural), "singularName": "",
                                  "namespaced": t.namespaced, "kind": kind, "verbs": verbs}),
            );
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: one entry per served group version.
pub(crate) fn openapi_root(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in reg.group_versions() {
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}")}),
        );
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/<gv>`: kubectl only needs a PATCH operation per kind that takes
/// `fieldValidation`, which tells it the server validates fields itself.
pub(crate) fn openapi_gv(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for t in reg.in_group_version(group, version) {
        let base = format!("/{}", gv_path(group, version));
        let item = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{base}/{}/{{name}}", t.plural)
        };
        let gvk = json!({"group": t.group, "version": version, "kind": t.kind});
        let op = |verb: &str| {
            json!({"operationId": format!("{verb}{}", t.kind), "x-kubernetes-action": verb,
                   "x-kubernetes-group-version-kind": gvk,
                   "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}}],
                   "responses": {"200": {"description": "OK"}}})
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0-emulator"},
                "paths": paths, "components": {"schemas": {}}}),
    )
}
