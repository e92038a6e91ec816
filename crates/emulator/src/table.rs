//! `as=Table` responses, so plain `kubectl get` prints useful columns (KUBECTL-WIRE §4).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::obj;
use crate::time::{parse_rfc3339, short_age};

pub(crate) fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

fn age(o: &Value) -> String {
    obj::str_at(o, "/metadata/creationTimestamp")
        .and_then(parse_rfc3339)
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or_else(|| "<unknown>".to_string(), short_age)
}

fn job_status(o: &Value) -> &'static str {
    let conds = o.pointer("/status/conditions").and_then(Value::as_array);
    let has = |t: &str| {
        conds.is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(t)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
    };
    if obj::is_deleting(o) {
        "Terminating"
    } else if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else {
        "Running"
    }
}

fn columns(kind: &str) -> Vec<(&'static str, &'static str)> {
    match kind {
        "Pod" => vec![
            ("Name", "string"),
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "string"),
            ("Age", "string"),
        ],
        "Job" => vec![
            ("Name", "string"),
            ("Status", "string"),
            ("Completions", "string"),
            ("Age", "string"),
        ],
        "Namespace" => vec![("Name", "string"), ("Status", "string"), ("Age", "string")],
        _ => vec![("Name", "string"), ("Age", "string")],
    }
}

fn cells(kind: &str, o: &Value) -> Vec<Value> {
    let name = json!(obj::name(o));
    match kind {
        "Pod" => {
            let statuses = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let total = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.map_or(0, |s| {
                s.iter()
                    .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    .count()
            });
            let phase = if obj::is_deleting(o) {
                "Terminating"
            } else {
                match obj::str_at(o, "/status/phase").unwrap_or("Pending") {
                    "Succeeded" => "Completed",
                    "Failed" => "Error",
                    "Pending" => "ContainerCreating",
                    p => p,
                }
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(phase),
                json!("0"),
                json!(age(o)),
            ]
        }
        "Job" => {
            let done = o
                .pointer("/status/succeeded")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let want = o
                .pointer("/spec/completions")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            vec![
                name,
                json!(job_status(o)),
                json!(format!("{done}/{want}")),
                json!(age(o)),
            ]
        }
        "Namespace" => {
            let phase = obj::str_at(o, "/status/phase").unwrap_or("Active");
            vec![name, json!(phase), json!(age(o))]
        }
        _ => vec![name, json!(age(o))],
    }
}

/// A `meta.k8s.io/v1` Table of the given objects; rows carry PartialObjectMetadata so
/// `-A` can show the namespace.
pub(crate) fn table(kind: &str, objects: &[Value], resource_version: u64) -> Value {
    let cols: Vec<Value> = columns(kind)
        .into_iter()
        .map(|(n, t)| json!({"name": n, "type": t, "format": if n == "Name" { "name" } else { "" }, "description": "", "priority": 0}))
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({"cells": cells(kind, o), "object": {
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": o.get("metadata").cloned().unwrap_or(json!({}))}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": resource_version.to_string()},
           "columnDefinitions": cols, "rows": rows})
}
