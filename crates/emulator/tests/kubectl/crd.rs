use hooks_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::Kube;

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
";

/// What kubectl says when the API server does not serve the kind.
async fn assert_widgets_not_served(k: &Kube) {
    let out = k.kubectl(&["get", "widgets"]).await.failure();
    assert!(
        out.stderr
            .contains("the server doesn't have a resource type \"widgets\""),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_registers_a_kind_that_kubectl_can_create_and_list() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.file("crd.yaml", CRD);
    k.file("w.yaml", WIDGET);
    let out = k.kubectl(&["create", "-f", "crd.yaml"]).await.success();
    assert!(
        out.stdout
            .contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.com created")
    );
    let crd = k
        .emu
        .get_object(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            None,
            "widgets.example.com",
        )
        .unwrap();
    assert_eq!(crd["status"]["conditions"][1]["type"], "Established");

    // Default strict validation: the new group version must be in /openapi/v3.
    let out = k.kubectl(&["create", "-f", "w.yaml"]).await.success();
    assert_eq!(out.stdout.trim(), "widget.example.com/w1 created");
    let out = k.kubectl(&["get", "widgets", "-o", "name"]).await.success();
    assert_eq!(out.stdout.trim(), "widget.example.com/w1");
    let out = k
        .kubectl(&["get", "wd", "w1", "-o", "json"])
        .await
        .success();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["spec"]["size"], 3);

    k.kubectl(&["delete", "crd", "widgets.example.com"])
        .await
        .success();
    assert_widgets_not_served(&k).await;
    assert!(
        k.emu
            .list_objects("example.com/v1", "Widget", None)
            .is_empty()
    );
}

/// With an establishment delay the CRD is stored at once but its resource is served only
/// once Established, as on a real API server; `kubectl wait` sees the condition arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_is_served_once_established_and_kubectl_wait_sees_it() {
    let k = Kube::start(EmulatorOptions::default()).await;
    k.emu
        .set_crd_establish_delay(std::time::Duration::from_millis(500));
    k.file("crd.yaml", CRD);
    k.kubectl(&["create", "-f", "crd.yaml"]).await.success();
    assert_widgets_not_served(&k).await;
    let out = k
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ])
        .await
        .success();
    assert!(out.stdout.contains("condition met"), "{}", out.stdout);
    let out = k.kubectl(&["get", "widgets", "-o", "name"]).await.success();
    assert_eq!(out.stdout.trim(), "");
}
