//! The release store against the emulator: which revision is read, and what a record
//! that is not Helm's looks like. Real Helm's records are read in the `hooks-e2e` suite.

use std::io::Write;

use base64::Engine;
use hooks_emulator::{Emulator, EmulatorOptions};
use hooks_releases::{Driver, ReleaseError, ReleaseStore, Which};
use serde_json::{Value, json};

const NS: &str = "default";

async fn store(emu: &Emulator, driver: Driver) -> ReleaseStore {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml(NS, None)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    ReleaseStore::new(kube::Client::try_from(config).unwrap(), NS, driver)
}

/// Helm's encoding: gzip, then base64.
fn encode(release: &Value) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(release.to_string().as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n";

fn release(name: &str, revision: u64, hooks: Value) -> Value {
    json!({"name": name, "namespace": NS, "version": revision,
           "info": {"status": "x"}, "hooks": hooks, "manifest": ""})
}

fn hook(name: &str, weight: i64, manifest: &str) -> Value {
    json!({"name": name, "kind": "Job", "path": "c/templates/job.yaml",
           "manifest": manifest, "events": ["pre-upgrade"], "weight": weight})
}

/// Puts a record as `driver` stores it; `data` is Helm's text (base64 of gzip).
fn put(emu: &Emulator, driver: Driver, labels: Value, data: &str, kind: &str) {
    let object_name = format!(
        "sh.helm.release.v1.{}.v{}",
        labels["name"].as_str().unwrap(),
        labels["version"].as_str().unwrap()
    );
    let object = match driver {
        Driver::Secret => json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
            "metadata": {"name": object_name, "namespace": NS, "labels": labels},
            "data": {"release": base64::engine::general_purpose::STANDARD.encode(data)}}),
        Driver::ConfigMap => json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": object_name, "namespace": NS, "labels": labels},
            "data": {"release": data}}),
    };
    emu.put_object(object).unwrap();
}

fn labels(name: &str, revision: u64, status: &str) -> Value {
    json!({"owner": "helm", "name": name, "status": status, "version": revision.to_string()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_deployed_revision_by_default_and_any_on_request() {
    for driver in [Driver::Secret, Driver::ConfigMap] {
        let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
        for (revision, status) in [(1, "superseded"), (2, "deployed"), (3, "failed")] {
            let data = encode(&release(
                "shop",
                revision,
                json!([hook("migrate", -5, JOB)]),
            ));
            put(
                &emu,
                driver,
                labels("shop", revision, status),
                &data,
                "helm.sh/release.v1",
            );
        }
        let store = store(&emu, driver).await;
        let read = store.read("shop", Which::LatestDeployed).await.unwrap();
        assert_eq!((read.revision, read.status.as_str()), (2, "deployed"));
        assert_eq!(read.object, format!("{driver}/sh.helm.release.v1.shop.v2"));
        assert_eq!(store.read("shop", Which::Latest).await.unwrap().revision, 3);
        assert_eq!(
            store
                .read("shop", Which::Revision(1))
                .await
                .unwrap()
                .revision,
            1
        );
        let catalog = read.catalog().unwrap();
        assert_eq!(catalog.hooks[0].weight, -5);
        assert!(
            catalog.warnings.iter().all(|w| !w.contains("stored")),
            "{:?}",
            catalog.warnings
        );
        let history = store.history("shop").await.unwrap();
        let revisions: Vec<u64> = history.iter().map(|r| r.revision).collect();
        assert_eq!(revisions, [3, 2, 1]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_never_deployed_suggests_a_revision() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let data = encode(&release("shop", 1, json!([])));
    put(
        &emu,
        Driver::Secret,
        labels("shop", 1, "failed"),
        &data,
        "helm.sh/release.v1",
    );
    let error = store(&emu, Driver::Secret)
        .await
        .read("shop", Which::LatestDeployed)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "release `shop` has no deployed revision (revisions: 1 (failed))"
    );
    assert_eq!(
        error.hint().unwrap(),
        "pass `--revision N` to read another revision, e.g. `--revision 1`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_records_are_named_and_refused() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let data = encode(&release("shop", 1, json!([])));
    // Helm's labels on an Opaque Secret.
    put(
        &emu,
        Driver::Secret,
        labels("opaque", 1, "deployed"),
        &data,
        "Opaque",
    );
    // A record of `shop` under another release's name.
    put(
        &emu,
        Driver::Secret,
        labels("copy", 1, "deployed"),
        &data,
        "helm.sh/release.v1",
    );
    let store = store(&emu, Driver::Secret).await;
    let error = store
        .read("opaque", Which::LatestDeployed)
        .await
        .unwrap_err();
    assert!(matches!(error, ReleaseError::Foreign { .. }));
    assert_eq!(
        error.to_string(),
        "`secret/sh.helm.release.v1.opaque.v1` is not a Helm release record: its type is `Opaque`, not `helm.sh/release.v1`"
    );
    let error = store.read("copy", Which::LatestDeployed).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "`secret/sh.helm.release.v1.copy.v1` is not a Helm release record: it holds release `shop` revision 1, where its name and labels say `copy` revision 1"
    );
    // Only real records name releases.
    assert_eq!(store.names().await.unwrap(), ["copy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_fields_that_disagree_with_the_manifest_are_warned_about() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    // Stored weight 3, manifest weight -5: only a hand-made record can do this.
    let data = encode(&release("shop", 1, json!([hook("migrate", 3, JOB)])));
    put(
        &emu,
        Driver::ConfigMap,
        labels("shop", 1, "deployed"),
        &data,
        "",
    );
    let read = store(&emu, Driver::ConfigMap)
        .await
        .read("shop", Which::LatestDeployed)
        .await
        .unwrap();
    let catalog = read.catalog().unwrap();
    assert_eq!(catalog.hooks[0].weight, -5);
    assert!(
        catalog
            .warnings
            .iter()
            .any(|w| w
                .contains("its stored weight is 3 but its manifest says -5; the manifest is used")),
        "{:?}",
        catalog.warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_cannot_be_a_release_is_not_found() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let error = store(&emu, Driver::Secret)
        .await
        .read("a,owner=helm", Which::LatestDeployed)
        .await
        .unwrap_err();
    assert!(matches!(error, ReleaseError::NotFound { .. }), "{error}");
}
