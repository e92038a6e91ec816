use serde_json::json;

use super::*;

fn cron_job() -> Value {
    json!({
        "kind": "CronJob",
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "securityContext": {"runAsUser": 0, "runAsNonRoot": false},
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [
                {"name": "a", "image": "nginx", "securityContext": {"runAsUser": 1000}},
                {"name": "b", "image": "redis", "securityContext": {"privileged": true}}
            ],
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}]
        }}}}}
    })
}

#[test]
fn finds_pod_specs_by_kind() {
    let m = cron_job();
    let specs = pod_specs_in(&m);
    assert_eq!(specs.len(), 1);
    assert_eq!(
        specs[0].path.to_string(),
        "spec.jobTemplate.spec.template.spec"
    );
    assert!(pod_specs_in(&json!({"kind": "ConfigMap", "data": {}})).is_empty());
    assert!(pod_specs_in(&json!({"kind": "Job", "spec": {}})).is_empty());
    let pod = json!({"kind": "Pod", "spec": {"containers": []}});
    assert_eq!(pod_specs_in(&pod)[0].path.pointer(), "/spec");
}

#[test]
fn walks_all_container_lists_with_paths() {
    let m = cron_job();
    let spec = &pod_specs_in(&m)[0];
    let seen: Vec<_> = spec
        .containers()
        .map(|c| (c.name(), c.image().unwrap(), c.path.to_string()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "a",
                "nginx",
                "spec.jobTemplate.spec.template.spec.containers[0]".to_owned()
            ),
            (
                "b",
                "redis",
                "spec.jobTemplate.spec.template.spec.containers[1]".to_owned()
            ),
            (
                "init",
                "busybox",
                "spec.jobTemplate.spec.template.spec.initContainers[0]".to_owned()
            ),
        ]
    );
    let (path, _) = spec.volumes().next().unwrap();
    assert_eq!(
        path.pointer(),
        "/spec/jobTemplate/spec/template/spec/volumes/0"
    );
}

#[test]
fn container_security_overrides_pod() {
    let m = cron_job();
    let spec = &pod_specs_in(&m)[0];
    let containers: Vec<_> = spec.containers().collect();

    let own = containers[0].effective_security("runAsUser").unwrap();
    assert_eq!(own.value, &json!(1000));
    assert!(
        own.path
            .to_string()
            .ends_with("containers[0].securityContext.runAsUser")
    );

    let inherited = containers[1].effective_security("runAsUser").unwrap();
    assert_eq!(inherited.value, &json!(0));
    assert_eq!(
        inherited.path.to_string(),
        "spec.jobTemplate.spec.template.spec.securityContext.runAsUser"
    );

    // `privileged` exists on containers only.
    assert!(containers[0].effective_security("privileged").is_none());
    assert_eq!(
        containers[1]
            .effective_security("privileged")
            .unwrap()
            .value,
        &json!(true)
    );
}

#[test]
fn mutates_every_container() {
    let mut m = cron_job();
    for mut spec in pod_specs_mut(&mut m) {
        for (kind, index, c) in spec.containers_mut() {
            c["tag"] = json!(format!("{}-{index}", kind.field()));
        }
    }
    let spec = &m["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(spec["containers"][1]["tag"], "containers-1");
    assert_eq!(spec["initContainers"][0]["tag"], "initContainers-0");
}
