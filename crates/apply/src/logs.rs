//! The tail of a Job's or Pod's container logs, read once the hook has finished.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, LogParams};
use serde_json::Value;

use crate::report::LogRecord;
use crate::retry::{CallError, Guard};
use crate::wait::Waitable;

/// Reads the last `tail` lines (all with `None`) of every container of the hook's pods.
/// Failures to read one container are returned beside the logs that could be read: logs
/// are a courtesy and never decide a hook's outcome.
pub(crate) async fn collect(
    client: &kube::Client,
    namespace: &str,
    waitable: Waitable,
    object: &DynamicObject,
    tail: Option<i64>,
    guard: &Guard<'_>,
) -> (Vec<LogRecord>, Vec<String>) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let name = object.metadata.name.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let found: Vec<Pod> = match waitable {
        Waitable::Pod => match guard
            .call(&format!("get pod {name}"), || pods.get(&name))
            .await
        {
            Ok(pod) => vec![pod],
            Err(e) => {
                problems.push(format!("cannot read pod {name}: {}", describe(&e)));
                vec![]
            }
        },
        Waitable::Job => {
            let params = ListParams::default().labels(&job_selector(&object.data, &name));
            match guard
                .call(&format!("list pods of job {name}"), || pods.list(&params))
                .await
            {
                Ok(list) => list.items,
                Err(e) => {
                    problems.push(format!(
                        "cannot list the pods of job {name}: {}",
                        describe(&e)
                    ));
                    vec![]
                }
            }
        }
        // Runs no containers; callers ask only for kinds that do.
        Waitable::CustomResourceDefinition => vec![],
    };
    let mut found = found;
    found.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut records = Vec::new();
    for pod in &found {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let containers: Vec<String> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
            .collect();
        for container in containers {
            let params = LogParams {
                container: Some(container.clone()),
                tail_lines: tail,
                ..LogParams::default()
            };
            match guard
                .call(&format!("logs of {pod_name}/{container}"), || {
                    pods.logs(&pod_name, &params)
                })
                .await
            {
                Ok(text) => records.push(LogRecord {
                    pod: pod_name.clone(),
                    container,
                    lines: text.lines().map(str::to_owned).collect(),
                }),
                Err(e) => problems.push(format!(
                    "cannot read the logs of {pod_name}/{container}: {}",
                    describe(&e)
                )),
            }
        }
    }
    if found.is_empty() && problems.is_empty() {
        problems.push(format!("no pods found for {name}; nothing to show"));
    }
    (records, problems)
}

/// The Job's own selector (`batch.kubernetes.io/controller-uid=…`, what kubectl uses), else
/// the `job-name` label every Job controller sets.
fn job_selector(job: &Value, name: &str) -> String {
    let labels = job
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty());
    match labels {
        Some(labels) => labels
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(","),
        None => format!("job-name={name}"),
    }
}

fn describe(error: &CallError) -> String {
    match error {
        CallError::Api(e) => crate::error::status_message(e),
        CallError::Halt(h) => format!("{h:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::job_selector;
    use serde_json::json;

    #[test]
    fn selector_from_match_labels_else_job_name() {
        let job = json!({"spec": {"selector": {"matchLabels": {
            "batch.kubernetes.io/controller-uid": "u1"}}}});
        assert_eq!(
            job_selector(&job, "j"),
            "batch.kubernetes.io/controller-uid=u1"
        );
        assert_eq!(job_selector(&json!({}), "j"), "job-name=j");
    }
}
