use hooks_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::{CM, Kube};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_strict_validation_then_get_json() {
    let k = Kube::start(EmulatorOptions::default()).await;
    let cm = k.file("cm.yaml", CM);
    let out = k
        .kubectl(&["create", "-f", cm.to_str().unwrap()])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "configmap/cm1 created");

    let reqs = k.emu.requests();
    assert!(
        reqs.iter().any(|r| r.path == "/openapi/v3"),
        "strict validation fetches OpenAPI"
    );
    let post = reqs.iter().find(|r| r.method == "POST").expect("a POST");
    assert_eq!(post.path, "/api/v1/namespaces/default/configmaps");
    assert!(
        post.query.contains("fieldValidation=Strict"),
        "{}",
        post.query
    );
    assert_eq!(post.status, 201);

    let out = k
        .kubectl(&["get", "configmap", "cm1", "-o", "json"])
        .await
        .success();
    let v: Value = serde_json::from_str(&out.stdout).expect("kubectl prints JSON");
    assert_eq!(v["kind"], "ConfigMap");
    assert_eq!(v["data"]["k"], "v");
    assert!(!v["metadata"]["uid"].as_str().unwrap_or("").is_empty());
    assert!(v["metadata"]["resourceVersion"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_object_is_not_found() {
    let k = Kube::start(EmulatorOptions::default()).await;
    let out = k.kubectl(&["get", "configmap", "nope"]).await.failure();
    assert!(
        out.stderr
            .contains(r#"Error from server (NotFound): configmaps "nope" not found"#),
        "{}",
        out.stderr
    );
    let out = k.kubectl(&["get", "job", "nope"]).await.failure();
    assert!(
        out.stderr.contains(r#"jobs.batch "nope" not found"#),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_create_is_already_exists() {
    let k = Kube::start(EmulatorOptions::default()).await;
    let cm = k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
    let out = k
        .kubectl(&["create", "-f", cm.to_str().unwrap()])
        .await
        .failure();
    assert!(
        out.stderr
            .contains(r#"Error from server (AlreadyExists): error when creating"#)
            && out.stderr.contains(r#"configmaps "cm1" already exists"#),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_in_missing_namespace_is_not_found_until_the_namespace_exists() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    let out = k
        .kubectl(&["-n", "team-a", "create", "-f", "cm.yaml"])
        .await
        .failure();
    assert!(
        out.stderr.contains(r#"namespaces "team-a" not found"#),
        "{}",
        out.stderr
    );
    // Imperative `kubectl create namespace` would send protobuf; a manifest goes as JSON.
    k.file(
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n",
    );
    k.kubectl(&["create", "-f", "ns.yaml"]).await.success();
    k.kubectl(&["-n", "team-a", "create", "-f", "cm.yaml"])
        .await
        .success();
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("team-a"), "cm1")
            .is_some()
    );
    // Cross-namespace list.
    let out = k
        .kubectl(&["get", "configmaps", "-A", "-o", "name"])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "configmap/cm1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_dry_run_stores_nothing() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    let out = k
        .kubectl(&["create", "-f", "cm.yaml", "--dry-run=server"])
        .await
        .success();
    assert!(
        out.stdout
            .contains("configmap/cm1 created (server dry run)"),
        "{}",
        out.stdout
    );
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("default"), "cm1")
            .is_none()
    );
    assert!(
        k.emu.mutating_requests().is_empty(),
        "{:?}",
        k.emu.mutating_requests()
    );
    let writes = k.emu.write_requests();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].dry_run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_body_is_bad_request_and_unknown_resource_is_not_found() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("junk.json", "{this is not json");
    let out = k
        .kubectl(&[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            "junk.json",
        ])
        .await
        .failure();
    assert!(out.stderr.contains("BadRequest"), "{}", out.stderr);
    let out = k
        .kubectl(&["get", "--raw", "/apis/nope.example.com/v1/things"])
        .await
        .failure();
    assert!(out.stderr.contains("NotFound"), "{}", out.stderr);
    // The server is still fine.
    k.kubectl(&["get", "namespaces"]).await.success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_internal_errors_and_change_nothing() {
    let k = Kube::start(EmulatorOptions {
        error_rate: 1.0,
        ..EmulatorOptions::default()
    })
    .await;
    k.file("cm.yaml", CM);
    let out = k.kubectl(&["create", "-f", "cm.yaml"]).await.failure();
    assert!(
        out.stderr.contains("Error from server (InternalError)"),
        "{}",
        out.stderr
    );
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("default"), "cm1")
            .is_none()
    );
    assert!(
        k.emu
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.status == 500)
    );
    k.emu.set_error_rate(0.0);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imperative_creates_send_protobuf_and_still_work() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.kubectl(&["create", "namespace", "demo"]).await.success();
    k.kubectl(&[
        "-n",
        "demo",
        "create",
        "configmap",
        "settings",
        "--from-literal=mode=fast",
    ])
    .await
    .success();
    k.kubectl(&[
        "-n",
        "demo",
        "create",
        "secret",
        "generic",
        "pw",
        "--from-literal=pw=hunter2",
    ])
    .await
    .success();
    let cm = k
        .emu
        .get_object("v1", "ConfigMap", Some("demo"), "settings")
        .unwrap();
    assert_eq!(cm["data"]["mode"], "fast");
    let secret = k
        .emu
        .get_object("v1", "Secret", Some("demo"), "pw")
        .unwrap();
    assert_eq!(secret["data"]["pw"], "aHVudGVyMg==");
    // Kinds without a protobuf decoder get a 415 that says what to do instead.
    let out = k
        .kubectl(&["create", "deployment", "web", "--image=nginx"])
        .await
        .failure();
    assert!(out.stderr.contains("send JSON"), "{}", out.stderr);
}
