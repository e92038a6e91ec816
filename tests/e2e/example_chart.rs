//! `examples/ledger` is a real chart, and `rendered.yaml` beside it is exactly what
//! real Helm renders for it.

use serde_json::json;

use crate::util::{Cluster, quick, workspace_root};

/// `helm template ledger examples/ledger` through Helm's SDK: installed (Helm keeps the
/// hooks only in the release) and printed the way `helm template` prints a release.
#[test]
fn rendered_yaml_is_what_helm_renders() {
    let cluster = Cluster::start(quick());
    let mut helm = cluster.helm();
    let chart = workspace_root().join("examples/ledger");
    helm.request(json!({"op": "install", "chart": chart, "release": "ledger", "timeout": 60}))
        .unwrap();
    let rendered = helm
        .request(json!({"op": "template", "release": "ledger"}))
        .unwrap();
    let checked_in = std::fs::read_to_string(chart.join("rendered.yaml")).unwrap();
    let rendered = rendered.as_str().unwrap();
    if checked_in != rendered {
        panic!(
            "examples/ledger/rendered.yaml is not what Helm renders; regenerate it (`helm template ledger examples/ledger > examples/ledger/rendered.yaml`). Helm renders:\n{rendered}"
        );
    }
}
