use hooks_emulator::EmulatorOptions;

use crate::util::{CM, Kube};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_token_over_tls_is_forbidden_to_write() {
    let opts = EmulatorOptions {
        tls: true,
        read_only_token: Some("viewer".into()),
        ..EmulatorOptions::default()
    };
    let k = Kube::start_with_token(opts, Some("viewer")).await;
    assert!(k.emu.url().starts_with("https://127.0.0.1:"));
    k.file("cm.yaml", CM);

    let out = k.kubectl(&["create", "-f", "cm.yaml"]).await.failure();
    assert!(
        out.stderr.contains("Error from server (Forbidden)"),
        "{}",
        out.stderr
    );
    assert!(
        k.emu
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.status == 403)
    );
    // Reads are allowed.
    let out = k
        .kubectl(&["get", "namespaces", "-o", "name"])
        .await
        .success();
    assert!(out.stdout.contains("namespace/default"), "{}", out.stdout);
    // Except of Secrets, as with Kubernetes' `view` role.
    let out = k.kubectl(&["get", "secrets"]).await.failure();
    assert!(
        out.stderr
            .contains("secrets is forbidden: User \"read-only\" cannot list resource \"secrets\""),
        "{}",
        out.stderr
    );

    // Any other token may write.
    let admin = k.kubeconfig_with_token("admin-kubeconfig", "admin");
    k.kubectl_with(&admin, &["create", "-f", "cm.yaml"])
        .await
        .success();
    assert!(
        k.emu
            .get_object("v1", "ConfigMap", Some("default"), "cm1")
            .is_some()
    );
}
