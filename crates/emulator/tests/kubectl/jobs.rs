use std::time::Duration;

use crate::util::{Kube, job, job_condition};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_complete_watches_the_named_job_only() {
    let k = Kube::start(Kube::fast()).await;
    // job0 is complete before job1 starts: a server ignoring fieldSelector would let
    // `kubectl wait` report job0 and return while job1 still runs.
    k.file("job0.yaml", &job("job0", "echo zero", "", ""));
    k.kubectl(&["create", "-f", "job0.yaml"]).await.success();
    k.eventually("job0 complete", |e| job_condition(e, "job0", "Complete"))
        .await;

    let dur = "emulator.kubectl-hooks.dev/duration: 1500ms";
    k.file("job1.yaml", &job("job1", "echo one", "", dur));
    let out = k.kubectl(&["create", "-f", "job1.yaml"]).await.success();
    assert_eq!(out.stdout.trim(), "job.batch/job1 created");
    let out = k
        .kubectl(&[
            "wait",
            "--for=condition=complete",
            "job/job1",
            "--timeout=20s",
        ])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "job.batch/job1 condition met");
    assert!(
        job_condition(&k.emu, "job1", "Complete"),
        "wait returned before job1 completed"
    );
    assert!(
        out.took >= Duration::from_millis(1000),
        "returned too early: {:?}",
        out.took
    );
    let watched = k.emu.requests().into_iter().any(|r| {
        r.path == "/apis/batch/v1/namespaces/default/jobs"
            && r.query.contains("watch=true")
            && r.query.contains("fieldSelector=metadata.name%3Djob1")
    });
    assert!(
        watched,
        "kubectl wait should watch with a name field selector"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_retries_then_fails_and_its_logs_say_why() {
    let k = Kube::start(Kube::fast()).await;
    k.file(
        "bad.yaml",
        &job(
            "bad",
            "echo migrating schema; exit 3",
            "  backoffLimit: 1\n",
            "",
        ),
    );
    k.kubectl(&["create", "-f", "bad.yaml"]).await.success();
    let out = k
        .kubectl(&["wait", "--for=condition=failed", "job/bad", "--timeout=20s"])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "job.batch/bad condition met");
    let j = k
        .emu
        .get_object("batch/v1", "Job", Some("default"), "bad")
        .unwrap();
    assert_eq!(
        j["status"]["failed"], 2,
        "backoffLimit 1 means two attempts: {j}"
    );
    let failed = j["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Failed")
        .cloned()
        .unwrap();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");

    let out = k
        .kubectl(&["get", "pods", "-l", "job-name=bad", "-o", "name"])
        .await
        .success();
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);

    let out = k.kubectl(&["logs", "job/bad"]).await.success();
    assert!(out.stdout.contains("migrating schema\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("exited with code 3 (Error)"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_and_pods_of_a_successful_job() {
    let k = Kube::start(Kube::fast()).await;
    k.file(
        "job1.yaml",
        &job("job1", "echo hello; echo 'from the hook'", "", ""),
    );
    k.file("other.yaml", &job("other", "echo unrelated", "", ""));
    k.kubectl(&["create", "-f", "job1.yaml", "-f", "other.yaml"])
        .await
        .success();
    k.kubectl(&[
        "wait",
        "--for=condition=complete",
        "job/job1",
        "--timeout=20s",
    ])
    .await
    .success();

    let out = k.kubectl(&["logs", "job/job1"]).await.success();
    assert!(
        out.stdout.starts_with("hello\nfrom the hook\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("exited with code 0 (Completed)"),
        "{}",
        out.stdout
    );

    let out = k
        .kubectl(&["get", "pods", "-l", "job-name=job1", "-o", "name"])
        .await
        .success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    assert!(
        lines[0].starts_with("pod/job1-") && lines[0].len() == "pod/job1-".len() + 5,
        "{}",
        lines[0]
    );

    let pod = lines[0].trim_start_matches("pod/");
    let p = k.emu.get_object("v1", "Pod", Some("default"), pod).unwrap();
    assert_eq!(p["status"]["phase"], "Succeeded");
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        0
    );
    assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "Job");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_annotation_fails_a_job_that_would_succeed() {
    let k = Kube::start(Kube::fast()).await;
    let ann = "emulator.kubectl-hooks.dev/outcome: fail";
    k.file(
        "j.yaml",
        &job("forced", "echo fine", "  backoffLimit: 0\n", ann),
    );
    k.kubectl(&["create", "-f", "j.yaml"]).await.success();
    k.kubectl(&[
        "wait",
        "--for=condition=failed",
        "job/forced",
        "--timeout=20s",
    ])
    .await
    .success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_after_finished_deletes_the_job_with_a_watch_event() {
    let k = Kube::start(Kube::fast()).await;
    k.file(
        "j.yaml",
        &job("short", "echo bye", "  ttlSecondsAfterFinished: 1\n", ""),
    );
    k.kubectl(&["create", "-f", "j.yaml"]).await.success();
    // `wait --for=delete` returns on the DELETED watch event.
    let out = k
        .kubectl(&["wait", "--for=delete", "job/short", "--timeout=20s"])
        .await
        .success();
    assert!(out.stdout.contains("condition met"), "{}", out.stdout);
    k.eventually("pods of the TTL'd job gone", |e| {
        e.list_objects("v1", "Pod", Some("default")).is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_job_deletes_its_pods() {
    let k = Kube::start(Kube::fast()).await;
    let dur = "emulator.kubectl-hooks.dev/duration: 30s";
    k.file("j.yaml", &job("long", "echo zzz", "", dur));
    k.kubectl(&["create", "-f", "j.yaml"]).await.success();
    k.eventually("a pod", |e| {
        !e.list_objects("v1", "Pod", Some("default")).is_empty()
    })
    .await;
    let out = k.kubectl(&["delete", "job", "long"]).await.success();
    assert_eq!(out.stdout.trim(), r#"job.batch "long" deleted"#);
    k.eventually("pods collected", |e| {
        e.list_objects("v1", "Pod", Some("default")).is_empty()
    })
    .await;
}
