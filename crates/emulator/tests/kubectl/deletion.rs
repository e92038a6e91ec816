use std::time::Duration;

use hooks_emulator::EmulatorOptions;

use crate::util::{CM, Kube, job};

const DELAY: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_without_delay_returns_at_once() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
    let out = k.kubectl(&["delete", "configmap", "cm1"]).await.success();
    assert_eq!(out.stdout.trim(), r#"configmap "cm1" deleted"#);
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("default"), "cm1")
            .is_none()
    );
    let del = k
        .emu
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .unwrap();
    assert_eq!(del.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_out_the_deletion_delay_and_blocks_recreation_meanwhile() {
    let k = Kube::start(EmulatorOptions {
        deletion_delay: DELAY,
        ..EmulatorOptions::default()
    })
    .await;
    k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();

    let (deleted, recreate) = tokio::join!(k.kubectl(&["delete", "configmap", "cm1"]), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let lingering = k.emu.get_object("v1", "ConfigMap", Some("default"), "cm1");
        let terminating = lingering.is_some_and(|o| o["metadata"]["deletionTimestamp"].is_string());
        (terminating, k.kubectl(&["create", "-f", "cm.yaml"]).await)
    });
    let deleted = deleted.success();
    assert!(
        deleted.took >= DELAY - Duration::from_millis(300),
        "delete returned after {:?}",
        deleted.took
    );
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("default"), "cm1")
            .is_none()
    );
    let (terminating, recreate) = recreate;
    assert!(terminating, "the object lingers with a deletionTimestamp");
    let recreate = recreate.failure();
    assert!(
        recreate.stderr.contains("AlreadyExists"),
        "{}",
        recreate.stderr
    );
    // kubectl waited with a watch, not by polling.
    assert!(
        k.emu
            .requests()
            .iter()
            .any(|r| r.query.contains("watch=true"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_wait_on_a_job_with_delay_takes_its_pods_too() {
    let opts = EmulatorOptions {
        deletion_delay: DELAY,
        ..Kube::fast()
    };
    let k = Kube::start(opts).await;
    k.file("j.yaml", &job("j1", "echo hi", "", ""));
    k.kubectl(&["create", "-f", "j.yaml"]).await.success();
    k.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/j1",
        "--timeout=20s",
    ])
    .await
    .success();
    let out = k
        .kubectl(&["delete", "--wait=true", "job/j1"])
        .await
        .success();
    assert_eq!(out.stdout.trim(), r#"job.batch "j1" deleted"#);
    assert!(
        out.took >= DELAY - Duration::from_millis(300),
        "{:?}",
        out.took
    );
    assert!(
        k.emu
            .get_object("batch/v1", "Job", Some("default"), "j1")
            .is_none()
    );
    k.eventually("pods gone", |e| {
        e.list_objects("v1", "Pod", Some("default")).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_delete_sees_the_deleted_event() {
    let k = Kube::start(EmulatorOptions {
        deletion_delay: DELAY,
        ..EmulatorOptions::default()
    })
    .await;
    k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
    k.kubectl(&["delete", "configmap", "cm1", "--wait=false"])
        .await
        .success();
    let out = k
        .kubectl(&["wait", "--for=delete", "configmap/cm1", "--timeout=20s"])
        .await
        .success();
    assert!(
        out.stdout.contains("configmap/cm1 condition met"),
        "{}",
        out.stdout
    );
}
