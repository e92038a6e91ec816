use hooks_emulator::EmulatorOptions;

use crate::util::{CM, Kube};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_creates_then_updates() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    let out = k
        .kubectl(&["apply", "--server-side", "-f", "cm.yaml"])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "configmap/cm1 serverside-applied");
    let first = k
        .emu
        .get_object("v1", "ConfigMap", Some("default"), "cm1")
        .unwrap();

    k.file("cm.yaml", &CM.replace("k: v", "k: changed"));
    let out = k
        .kubectl(&["apply", "--server-side", "-f", "cm.yaml"])
        .await
        .success();
    assert_eq!(out.stdout.trim(), "configmap/cm1 serverside-applied");
    let second = k
        .emu
        .get_object("v1", "ConfigMap", Some("default"), "cm1")
        .unwrap();
    assert_eq!(second["data"]["k"], "changed");
    assert_eq!(
        first["metadata"]["uid"], second["metadata"]["uid"],
        "updated in place"
    );

    let patches: Vec<_> = k
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0].status, 201);
    assert_eq!(patches[1].status, 200);
    assert!(
        patches[0].query.contains("fieldManager=kubectl"),
        "{}",
        patches[0].query
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patch_and_label_selectors() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
    k.kubectl(&[
        "patch",
        "configmap",
        "cm1",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"db"}}}"#,
    ])
    .await
    .success();
    k.kubectl(&["label", "configmap", "cm1", "env=prod"])
        .await
        .success();
    for (sel, hit) in [
        ("tier=db", true),
        ("tier==db,env=prod", true),
        ("tier!=db", false),
        ("env in (prod,staging)", true),
        ("env notin (prod)", false),
        ("tier", true),
        ("!tier", false),
    ] {
        let out = k
            .kubectl(&["get", "configmaps", "-l", sel, "-o", "name"])
            .await
            .success();
        assert_eq!(
            out.stdout.trim() == "configmap/cm1",
            hit,
            "selector {sel:?}: {}",
            out.stdout
        );
    }
}

/// A field another manager set, applied with another value: the real kubectl reads the
/// emulator's 409 as an apply conflict, names the manager and the field, and
/// `--force-conflicts` takes the field over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_with_another_manager() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("cm.yaml", CM);
    k.kubectl(&["create", "-f", "cm.yaml"]).await.success();
    k.file("cm.yaml", &CM.replace("k: v", "k: changed"));
    let out = k
        .kubectl(&["apply", "--server-side", "-f", "cm.yaml"])
        .await
        .failure();
    assert!(
        out.stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.k"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--force-conflicts"), "{}", out.stderr);

    k.kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "cm.yaml",
    ])
    .await
    .success();
    let cm = k
        .emu
        .get_object("v1", "ConfigMap", Some("default"), "cm1")
        .unwrap();
    assert_eq!(cm["data"]["k"], "changed");
    let owners: Vec<(&str, &str)> = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["fieldsV1"]["f:data"]["f:k"].is_object())
        .map(|m| {
            (
                m["manager"].as_str().unwrap(),
                m["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(owners, [("kubectl", "Apply")]);
}
