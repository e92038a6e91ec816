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
