//! CI outputs: `policy test -o junit`, `run --junit FILE` and `plan --policy … -o sarif`,
//! each validated against its schema (`tests/schemas/`: the JUnit XSD Jenkins reads and
//! the OASIS SARIF 2.1.0 schema).

use crate::cluster::{Cluster, code, quick, stderr};
use crate::util::{artifact, assert_valid, run, schema_check, transcript, workspace_root};

/// The checks would pass anything if the tools or schemas were not really applied.
#[test]
fn the_schema_checks_reject_what_breaks_the_schemas() {
    let no_name = br#"<testsuites><testsuite tests="1" failures="0" errors="0"><testcase name="x"/></testsuite></testsuites>"#;
    let violations = schema_check("junit-10.xsd", no_name).unwrap_err();
    assert!(violations.contains("name"), "{violations}");
    let bad_time = br#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0" time="1.23456"/></testsuites>"#;
    assert!(schema_check("junit-10.xsd", bad_time).is_err());
    let wrong_version = br#"{"version": "2.0.0", "runs": []}"#;
    assert!(schema_check("sarif-schema-2.1.0.json", wrong_version).is_err());
    let no_driver = br#"{"version": "2.1.0", "runs": [{"tool": {}}]}"#;
    assert!(schema_check("sarif-schema-2.1.0.json", no_driver).is_err());
}

fn policy_test(args: &[&str]) -> std::process::Output {
    crate::util::kubectl_hooks()
        .env(
            "KUBECTL_HOOKS_CACHE_DIR",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-reports-cache"),
        )
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn policy_test_junit_is_valid_with_one_case_per_suite_case() {
    artifact("deny-privileged");
    let passing = policy_test(&[
        "policy",
        "test",
        "policies/deny-privileged/tests.yaml",
        "-o",
        "junit",
    ]);
    assert_eq!(passing.status.code(), Some(0), "{}", transcript(&passing));
    assert_valid("junit-10.xsd", &passing.stdout);
    let xml = String::from_utf8(passing.stdout).unwrap();
    let cases =
        std::fs::read_to_string(workspace_root().join("policies/deny-privileged/tests.yaml"))
            .unwrap()
            .matches("  - name: ")
            .count();
    assert_eq!(xml.matches("<testcase ").count(), cases, "{xml}");
    assert!(xml.contains(r#"failures="0""#), "{xml}");

    // A failing case: a <failure> with what did not match, exit 7.
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite.yaml");
    std::fs::write(
        &suite,
        format!(
            "policy: {}\ncases:\n  - name: expects <allowed> & gets a denial\n    event: pre-install\n    manifests: {}\n    expect: {{allowed: true}}\n",
            workspace_root().join(artifact("deny-privileged")).display(),
            workspace_root()
                .join("policies/deny-privileged/fixtures/privileged.yaml")
                .display()
        ),
    )
    .unwrap();
    let failing = policy_test(&[
        "policy",
        "test",
        suite.to_str().unwrap(),
        "--output",
        "junit",
    ]);
    assert_eq!(failing.status.code(), Some(7), "{}", transcript(&failing));
    assert_valid("junit-10.xsd", &failing.stdout);
    let xml = String::from_utf8(failing.stdout).unwrap();
    assert!(xml.contains(r#"tests="1" failures="1""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="expects &lt;allowed&gt; &amp; gets a denial" classname="deny-privileged""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure type="expectation" message="expected allowed, but denied:">"#),
        "{xml}"
    );
    assert!(xml.contains("container `psql` is privileged"), "{xml}");
}

const FAILING: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  annotations:
    helm.sh/hook: pre-install
---
apiVersion: batch/v1
kind: Job
metadata:
  name: breaks
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "1"
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1
          command: ["sh", "-c", "echo 'step <1>' && echo 'boom: relation missing' && exit 3"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: later
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "2"
"#;

#[test]
fn run_junit_has_one_case_per_hook_and_the_log_tail_of_the_failure() {
    let cluster = Cluster::start(quick());
    let file = cluster.manifest("failing.yaml", FAILING);
    let junit = cluster.dir.path().join("junit.xml");
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        &file,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), Some(5), "{}", stderr(&output));
    let xml = std::fs::read(&junit).unwrap();
    assert_valid("junit-10.xsd", &xml);
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="kubectl hooks run pre-install" tests="3" failures="1" errors="0" skipped="1""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="ConfigMap/first" classname="kubectl-hooks.pre-install""#),
        "{xml}"
    );
    let failure = xml
        .split("<testcase name=\"Job/breaks\"")
        .nth(1)
        .and_then(|rest| rest.split("</testcase>").next())
        .unwrap_or_else(|| panic!("no Job/breaks case: {xml}"));
    assert!(failure.contains(r#"<failure type="failed""#), "{failure}");
    assert!(
        failure.contains("logs of pod/")
            && failure.contains("step &lt;1&gt;\nboom: relation missing"),
        "{failure}"
    );
    assert!(
        xml.contains("<testcase name=\"ConfigMap/later\"")
            && xml.contains(
                "<skipped message=\"not run: an earlier hook failed or the run stopped\"/>"
            ),
        "{xml}"
    );
}

#[test]
fn run_junit_of_a_denied_event_fails_the_denied_hooks() {
    let cluster = Cluster::start(quick());
    let junit = cluster.dir.path().join("junit.xml");
    let policy = workspace_root().join(artifact("deny-privileged"));
    let output = cluster.run(&[
        "run",
        "pre-install",
        "-f",
        "policies/deny-privileged/fixtures/privileged.yaml",
        "--policy",
        policy.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), Some(3), "{}", stderr(&output));
    let xml = std::fs::read(&junit).unwrap();
    assert_valid("junit-10.xsd", &xml);
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains(
            r#"<failure type="denied" message="deny-privileged: container `psql` is privileged"#
        ),
        "{xml}"
    );
}

/// `helm template`-style output: two templates, the denied hook the second document of
/// its template.
const RENDERED: &str = "---
# Source: shop/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  annotations:
    helm.sh/hook: pre-install
---
# Source: shop/templates/hooks.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  annotations:
    helm.sh/hook: pre-install
data:
  run.sh: echo
---
# Source: shop/templates/hooks.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1
          securityContext:
            privileged: true
";

#[test]
fn plan_sarif_locates_denials_at_the_template_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, RENDERED).unwrap();
    let policy = workspace_root().join(artifact("deny-privileged"));
    let output = policy_test(&[
        "plan",
        "pre-install",
        "-f",
        rendered.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "-o",
        "sarif",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_valid("sarif-schema-2.1.0.json", &output.stdout);
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "kubectl-hooks");
    assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "deny-privileged");
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        assert_eq!(result["ruleId"], "deny-privileged");
        assert_eq!(result["level"], "error");
        let location = &result["locations"][0];
        assert_eq!(
            location["physicalLocation"]["artifactLocation"]["uri"],
            "shop/templates/hooks.yaml"
        );
        // hooks.yaml rendered the ConfigMap (lines 1–8), `---`, then the Job from line 10.
        assert_eq!(location["physicalLocation"]["region"]["startLine"], 10);
        assert_eq!(location["logicalLocations"][0]["name"], "Job/migrate");
        let rendered_at = &result["relatedLocations"][0]["physicalLocation"];
        assert!(
            rendered_at["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("/rendered.yaml"),
            "{rendered_at}"
        );
        assert_eq!(rendered_at["region"]["startLine"], 19);
    }
}

#[test]
fn plan_sarif_without_denials_is_an_empty_run() {
    let output = run(&[
        "plan",
        "pre-install",
        "-f",
        crate::util::EXAMPLE,
        "-o",
        "sarif",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_valid("sarif-schema-2.1.0.json", &output.stdout);
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        sarif["runs"][0]["automationDetails"]["id"],
        "kubectl-hooks/pre-install/"
    );
}
