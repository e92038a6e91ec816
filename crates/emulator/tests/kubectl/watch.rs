use std::time::Duration;

use hooks_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::{CM, Kube, job, job_condition};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_watch_resumes_after_resource_version_and_honours_timeout() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("a.yaml", &CM.replace("cm1", "a"));
    k.file("b.yaml", &CM.replace("cm1", "b"));
    k.kubectl(&["create", "-f", "a.yaml"]).await.success();
    let rv = k
        .emu
        .get_object("v1", "ConfigMap", Some("default"), "a")
        .unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    k.kubectl(&["create", "-f", "b.yaml"]).await.success();
    k.kubectl(&["delete", "configmap", "a"]).await.success();

    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
    );
    let out = k.kubectl(&["get", "--raw", &path]).await.success();
    assert!(
        out.took < Duration::from_secs(5),
        "timeoutSeconds ignored: {:?}",
        out.took
    );
    let events: Vec<(String, String)> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<Value>()
        .map(|e| {
            let e = e.expect("watch events are JSON");
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("ADDED".to_string(), "b".to_string()),
            ("DELETED".to_string(), "a".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_survives_dropped_watches() {
    let opts = EmulatorOptions {
        drop_watch_after: Some(Duration::from_millis(1200)),
        ..Kube::fast()
    };
    let k = Kube::start(opts).await;
    k.file(
        "j.yaml",
        &job(
            "slow",
            "echo slow",
            "",
            "emulator.kubectl-hooks.dev/duration: 3s",
        ),
    );
    k.kubectl(&["create", "-f", "j.yaml"]).await.success();
    k.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/slow",
        "--timeout=30s",
    ])
    .await
    .success();
    assert!(job_condition(&k.emu, "slow", "Complete"));
    let watches = k
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.query.contains("watch=true"))
        .count();
    assert!(
        watches >= 2,
        "expected kubectl to re-watch after the drop, saw {watches} watch(es)"
    );
}
