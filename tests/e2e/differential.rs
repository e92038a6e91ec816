//! The differential suite: for each chart and each action, real Helm 4 (its Go SDK through
//! helm-python-sdk) runs against one emulator and `kubectl hooks run` against another, and
//! the two request logs must tell the same story per event — the hook objects applied, in
//! order; the ones deleted; the hooks whose logs were read; the hook objects left in the
//! cluster; the outcome — except where [`DIVERGENCES`] says we differ on purpose, and then
//! the difference must really be there.
//!
//! kubectl-hooks runs each event of an action in Helm's order, reading the chart as
//! Helm rendered it (`helm template --output-dir`: one file per template). Helm's requests
//! are split into events at the write of a marker ConfigMap the suite adds to each chart:
//! Helm writes the release's ordinary objects between an action's pre- and post- hooks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hooks_emulator::{EmulatorOptions, RequestRecord};
use serde_json::{Value, json};

use crate::util::{Cluster, Helm, NAMESPACE, code, quick, resource_of, stderr, workspace_root};

const RELEASE: &str = "diff";
/// The ordinary object that separates an action's pre- and post- hooks in Helm's log.
const MARKER: &str = "differential-marker";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    Upgrade,
    Rollback,
    Test,
    Uninstall,
}

impl Action {
    fn events(self) -> &'static [&'static str] {
        match self {
            Action::Install => &["pre-install", "post-install"],
            Action::Upgrade => &["pre-upgrade", "post-upgrade"],
            Action::Rollback => &["pre-rollback", "post-rollback"],
            Action::Test => &["test"],
            Action::Uninstall => &["pre-delete", "post-delete"],
        }
    }
}

/// The whole lifecycle, which most scenarios go through.
const LIFECYCLE: &[Action] = &[
    Action::Install,
    Action::Upgrade,
    Action::Rollback,
    Action::Test,
    Action::Uninstall,
];

/// A chart and what both tools do with it.
pub struct Scenario {
    pub name: &'static str,
    /// Relative to the workspace root.
    pub chart: &'static str,
    pub actions: &'static [Action],
    /// Seconds each wait may take, for both tools.
    pub timeout: u64,
    pub emulator: fn() -> EmulatorOptions,
    /// Namespaces the chart's hooks use besides the release's.
    pub namespaces: &'static [&'static str],
    /// Sets up each cluster beyond its options.
    pub prepare: fn(&Cluster),
}

impl Scenario {
    const fn new(name: &'static str, chart: &'static str) -> Scenario {
        Scenario {
            name,
            chart,
            actions: LIFECYCLE,
            timeout: 30,
            emulator: quick,
            namespaces: &[],
            prepare: |_| {},
        }
    }

    const fn prepare(mut self, prepare: fn(&Cluster)) -> Scenario {
        self.prepare = prepare;
        self
    }

    const fn actions(mut self, actions: &'static [Action]) -> Scenario {
        self.actions = actions;
        self
    }

    const fn timeout(mut self, seconds: u64) -> Scenario {
        self.timeout = seconds;
        self
    }

    const fn emulator(mut self, options: fn() -> EmulatorOptions) -> Scenario {
        self.emulator = options;
        self
    }

    const fn namespaces(mut self, namespaces: &'static [&'static str]) -> Scenario {
        self.namespaces = namespaces;
        self
    }

    fn cluster(&self) -> Cluster {
        let cluster = Cluster::start((self.emulator)());
        for namespace in self.namespaces {
            cluster
                .emu
                .put_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
                .unwrap();
        }
        (self.prepare)(&cluster);
        cluster
    }
}

/// What one tool did to the hooks during one event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTrace {
    pub event: &'static str,
    /// Hook objects created or applied, in order, as `resource/namespace/name`.
    pub applied: Vec<String>,
    /// Hook objects deleted, in order, whether or not the delete still found them.
    pub deleted: Vec<String>,
    /// Pods whose logs were read, in order, by the hook they belong to.
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// The action stopped at this event.
    Failed(&'static str),
}

/// What one tool did during one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTrace {
    pub action: Action,
    pub events: Vec<EventTrace>,
    /// Hook objects in the cluster once the action is over.
    pub left: BTreeSet<String>,
    pub outcome: Outcome,
}

/// A hook of the chart: where its object lives, and how to look it up.
#[derive(Debug, Clone)]
struct HookObject {
    api_version: String,
    kind: String,
    /// `resource/namespace/name` (`resource/name` when cluster-scoped).
    key: String,
    resource: String,
    namespace: Option<String>,
    name: String,
}

/// Everything one scenario produced on both sides.
pub struct Run {
    pub helm: Vec<ActionTrace>,
    pub ours: Vec<ActionTrace>,
    /// Each action's requests, by tool, for the checks of a divergence.
    pub helm_requests: Vec<Vec<RequestRecord>>,
    pub our_requests: Vec<Vec<RequestRecord>>,
}

/// A documented, deliberate difference from Helm: where it shows, how to check that it
/// really occurs, and what we do instead. The README's "Differences from Helm" table
/// lists the same ones.
pub struct Divergence {
    pub scenario: &'static str,
    pub action: Action,
    pub what: &'static str,
    /// Fails unless the difference is really there in action `index` of the run.
    pub occurs: fn(&Run, usize) -> Result<(), String>,
    /// What we are expected to do instead: what Helm did, changed by the difference.
    pub expected: fn(&Run, usize) -> ActionTrace,
}

pub use crate::divergences::DIVERGENCES;

/// Runs `scenario` with both tools and compares them action by action.
pub fn check(scenario: &Scenario) {
    let run = run(scenario);
    assert_eq!(
        run.helm.len(),
        run.ours.len(),
        "{}: actions run",
        scenario.name
    );
    let unserved = unserved(run.helm_requests.iter().flatten());
    assert!(
        unserved.is_empty(),
        "{}: the emulator did not serve what Helm asked:\n{}",
        scenario.name,
        unserved.join("\n")
    );
    for (index, (helm, ours)) in run.helm.iter().zip(&run.ours).enumerate() {
        // Shown when the test fails.
        eprintln!(
            "{} {:?}\n  Helm: {helm:?}\n  ours: {ours:?}",
            scenario.name, helm.action
        );
        let mut expected = helm.clone();
        for divergence in DIVERGENCES
            .iter()
            .filter(|d| d.scenario == scenario.name && d.action == helm.action)
        {
            if let Err(why) = (divergence.occurs)(&run, index) {
                panic!(
                    "{} {:?}: the documented divergence \"{}\" did not occur: {why}\nHelm:  {helm:#?}\nours:  {ours:#?}",
                    scenario.name, helm.action, divergence.what
                );
            }
            expected = (divergence.expected)(&run, index);
        }
        assert_eq!(
            &expected, ours,
            "{} {:?}: kubectl-hooks differs from Helm (left: what Helm did, adjusted by the documented divergences; right: what kubectl-hooks did)",
            scenario.name, helm.action
        );
    }
}

fn run(scenario: &Scenario) -> Run {
    let chart_dir = chart_with_marker(scenario);
    let chart = chart_dir.path().to_owned();
    let helm_cluster = scenario.cluster();
    let our_cluster = scenario.cluster();
    let rendered = our_cluster.dir.path().join("rendered");
    let mut helm = helm_cluster.helm();
    let mut helm_traces = Vec::new();
    let mut our_traces = Vec::new();
    let mut helm_logs = Vec::new();
    let mut our_logs = Vec::new();
    let mut hooks: Vec<HookObject> = Vec::new();
    // The chart as each revision of the release rendered it: an action runs the hooks of
    // the revision it installs, upgrades to or rolls back to, an uninstall those of the
    // current one.
    let mut revisions: Vec<PathBuf> = Vec::new();
    for &action in scenario.actions {
        match action {
            Action::Install | Action::Upgrade => {
                let dir = rendered.join(format!("revision-{}", revisions.len() + 1));
                render(&mut helm, &chart, &dir);
                revisions.push(dir);
            }
            Action::Rollback => {
                let back = revisions[revisions.len() - 2].clone();
                revisions.push(back);
            }
            Action::Test | Action::Uninstall => {}
        }
        let manifests = revisions.last().expect("an install comes first").clone();

        let start = helm_cluster.emu.requests().len();
        let answer = helm.request(helm_request(action, &chart, scenario.timeout));
        let helm_requests = helm_cluster.emu.requests()[start..].to_vec();
        if let Ok(stored) = helm.request(json!({"op": "hooks", "release": RELEASE})) {
            for object in hook_objects(&helm_cluster, &stored) {
                if !hooks.iter().any(|h| h.key == object.key) {
                    hooks.push(object);
                }
            }
        }
        if let Err(error) = &answer {
            eprintln!(
                "{}: helm {action:?} failed ({}): {}",
                scenario.name, error.kind, error.message
            );
        }
        let ours = our_action(&our_cluster, action, &manifests, scenario.timeout);

        helm_traces.push(helm_trace(
            action,
            &helm_requests,
            answer.is_ok(),
            &hooks,
            &helm_cluster,
        ));
        our_traces.push(ActionTrace {
            action,
            events: ours
                .events
                .iter()
                .map(|(event, requests)| event_trace(event, requests, &hooks))
                .collect(),
            left: left(&our_cluster, &hooks),
            outcome: ours.outcome,
        });
        helm_logs.push(helm_requests);
        our_logs.push(ours.events.into_iter().flat_map(|(_, r)| r).collect());
    }
    Run {
        helm: helm_traces,
        ours: our_traces,
        helm_requests: helm_logs,
        our_requests: our_logs,
    }
}

/// Requests the emulator answered as a real API server would not for these charts: a
/// malformed request, an unsupported method or media type, a server error, or a 404 for
/// what every server serves (version, discovery roots, OpenAPI). A 404 for a missing
/// object or a not-yet-served kind and a 409 are answers, not gaps.
fn unserved<'a>(requests: impl Iterator<Item = &'a RequestRecord>) -> Vec<String> {
    requests
        .filter(|r| match r.status {
            404 => {
                matches!(r.path.as_str(), "/version" | "/api" | "/apis")
                    || r.path.starts_with("/openapi")
            }
            400 | 405 | 406 | 415 | 500..=599 => true,
            _ => false,
        })
        .map(|r| format!("{} {}?{} {}", r.method, r.path, r.query, r.status))
        .collect()
}

fn helm_request(action: Action, chart: &Path, timeout: u64) -> Value {
    let op = match action {
        Action::Install => "install",
        Action::Upgrade => "upgrade",
        Action::Rollback => "rollback",
        Action::Test => "test",
        Action::Uninstall => "uninstall",
    };
    json!({"op": op, "chart": chart, "release": RELEASE, "timeout": timeout})
}

/// A copy of the chart with the marker added.
fn chart_with_marker(scenario: &Scenario) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&workspace_root().join(scenario.chart), dir.path());
    std::fs::write(
        dir.path().join("templates/differential-marker.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {MARKER}\ndata:\n  revision: \"{{{{ .Release.Revision }}}}\"\n"
        ),
    )
    .unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Renders the chart as Helm does for this release (`helm template --output-dir`: one
/// file per template) into `dir`.
fn render(helm: &mut Helm, chart: &Path, dir: &Path) {
    let rendered = helm
        .request(json!({"op": "render", "chart": chart, "release": RELEASE,
                        "namespace": NAMESPACE}))
        .unwrap_or_else(|e| panic!("helm could not render {}: {}", chart.display(), e.message));
    for (path, text) in rendered.as_object().unwrap() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text.as_str().unwrap()).unwrap();
    }
}

/// The objects of the release's hooks, as Helm read them, resolved as the API server
/// would: a namespaced object without a namespace is in the release's.
fn hook_objects(cluster: &Cluster, stored: &Value) -> Vec<HookObject> {
    let mut out = Vec::new();
    for hook in stored.as_array().unwrap() {
        let s = |k: &str| hook[k].as_str().unwrap_or("").to_owned();
        let (api_version, kind, name) = (s("api_version"), s("kind"), s("name"));
        // A custom kind whose CRD is gone is no longer served: the scenario charts name
        // their resources as lower-case kind + `s`, which is what their CRDs say.
        let (resource, namespaced) = cluster
            .emu
            .resource_of(&api_version, &kind)
            .unwrap_or_else(|| (format!("{}s", kind.to_lowercase()), true));
        let namespace = namespaced.then(|| {
            hook["namespace"]
                .as_str()
                .filter(|ns| !ns.is_empty())
                .unwrap_or(NAMESPACE)
                .to_owned()
        });
        let key = match &namespace {
            Some(ns) => format!("{resource}/{ns}/{name}"),
            None => format!("{resource}/{name}"),
        };
        out.push(HookObject {
            api_version,
            kind,
            key,
            resource,
            namespace,
            name,
        });
    }
    out
}

/// Splits Helm's requests of one action into its events at the marker's write.
fn helm_trace(
    action: Action,
    requests: &[RequestRecord],
    ok: bool,
    hooks: &[HookObject],
    cluster: &Cluster,
) -> ActionTrace {
    let events = action.events();
    let marker = requests.iter().position(|r| {
        r.is_mutating() && r.name.as_deref() == Some(MARKER) && (200..300).contains(&r.status)
    });
    let parts: Vec<&[RequestRecord]> = match (events.len(), marker) {
        (1, _) => vec![requests],
        (_, Some(at)) => vec![&requests[..at], &requests[at + 1..]],
        (_, None) => vec![requests, &[]],
    };
    let traces: Vec<EventTrace> = events
        .iter()
        .zip(parts)
        .map(|(event, part)| event_trace(event, part, hooks))
        .collect();
    let outcome = if ok {
        Outcome::Succeeded
    } else if events.len() == 2 && marker.is_some() {
        Outcome::Failed(events[1])
    } else {
        Outcome::Failed(events[0])
    };
    // An event that never started did nothing; ours is not run at all then.
    let events = match outcome {
        Outcome::Failed(event) => {
            let at = events.iter().position(|e| *e == event).unwrap();
            traces.into_iter().take(at + 1).collect()
        }
        Outcome::Succeeded => traces,
    };
    ActionTrace {
        action,
        events,
        left: left(cluster, hooks),
        outcome,
    }
}

/// Each event's requests, and where the action stopped.
struct OurAction {
    events: Vec<(&'static str, Vec<RequestRecord>)>,
    outcome: Outcome,
}

/// Runs the action's events with kubectl-hooks, stopping at the first that fails, as
/// Helm stops an action.
fn our_action(cluster: &Cluster, action: Action, manifests: &Path, timeout: u64) -> OurAction {
    let mut events = Vec::new();
    let mut outcome = Outcome::Succeeded;
    for event in action.events() {
        let start = cluster.emu.requests().len();
        let output = cluster.run(&[
            "run",
            event,
            "-f",
            manifests.to_str().unwrap(),
            "-n",
            NAMESPACE,
            "--timeout",
            &format!("{timeout}s"),
        ]);
        events.push((*event, cluster.emu.requests()[start..].to_vec()));
        if code(&output) != Some(0) {
            eprintln!(
                "kubectl-hooks run {event} exited {:?}:\n{}",
                code(&output),
                stderr(&output)
            );
            outcome = Outcome::Failed(event);
            break;
        }
    }
    OurAction { events, outcome }
}

fn event_trace(
    event: &'static str,
    requests: &[RequestRecord],
    hooks: &[HookObject],
) -> EventTrace {
    let hook_of = |r: &RequestRecord| -> Option<&HookObject> {
        let (resource, namespace) = resource_of(&r.path);
        let name = r.name.as_deref()?;
        hooks
            .iter()
            .find(|h| h.resource == resource && h.namespace == namespace && h.name == name)
    };
    let mut trace = EventTrace {
        event,
        ..EventTrace::default()
    };
    for r in requests {
        // A delete that finds nothing did its job too: the object may have gone on its
        // own first (a Job's ttlSecondsAfterFinished), which is a race, not a difference.
        let ok = (200..300).contains(&r.status) || (r.method == "DELETE" && r.status == 404);
        if r.dry_run || !ok {
            continue;
        }
        match r.method.as_str() {
            "POST" | "PATCH" => {
                if let Some(h) = hook_of(r) {
                    trace.applied.push(h.key.clone());
                }
            }
            "DELETE" => {
                if let Some(h) = hook_of(r) {
                    trace.deleted.push(h.key.clone());
                }
            }
            "GET" if r.path.ends_with("/log") => {
                let pod = r.name.as_deref().unwrap_or("");
                // A Job's pods are named after it; a Pod hook is its own pod.
                if let Some(h) = hooks
                    .iter()
                    .filter(|h| h.kind == "Pod" || h.kind == "Job")
                    .find(|h| pod == h.name || pod.starts_with(&format!("{}-", h.name)))
                {
                    trace.logs.push(h.key.clone());
                }
            }
            _ => {}
        }
    }
    trace
}

fn left(cluster: &Cluster, hooks: &[HookObject]) -> BTreeSet<String> {
    hooks
        .iter()
        .filter(|h| {
            cluster
                .emu
                .get_object(&h.api_version, &h.kind, h.namespace.as_deref(), &h.name)
                .is_some_and(|o| o["metadata"]["deletionTimestamp"].is_null())
        })
        .map(|h| h.key.clone())
        .collect()
}

/// One test per scenario, and the list of them all.
macro_rules! scenarios {
    ($($name:ident => $scenario:expr;)*) => {
        pub const SCENARIOS: &[Scenario] = &[$($scenario),*];
        $(
            #[test]
            fn $name() {
                check(&$scenario);
            }
        )*
    };
}

/// Deletions that take a second, as with finalizers or a busy controller.
fn slow_deletions() -> EmulatorOptions {
    EmulatorOptions {
        deletion_delay: Duration::from_secs(1),
        ..quick()
    }
}

/// Pods that run long enough for Helm to start watching their Job before the Job's
/// `ttlSecondsAfterFinished: 0` deletes it: a Job gone before Helm saw it complete makes
/// Helm wait until the timeout, a race of the test machine's load, not a difference.
fn ttl_safe_pods() -> EmulatorOptions {
    EmulatorOptions {
        pod_duration: Duration::from_millis(300),
        ..quick()
    }
}

use Action::{Install, Rollback, Test, Uninstall, Upgrade};

scenarios! {
    example_chart => Scenario::new("example", "examples/ledger");
    cert_manager => Scenario::new("cert-manager", "tests/charts/cert-manager");
    ingress_nginx => Scenario::new("ingress-nginx", "tests/charts/ingress-nginx")
        .emulator(ttl_safe_pods);
    ordering_ties_and_weights => Scenario::new("ordering", "tests/charts/ordering");
    every_delete_policy_on_success => Scenario::new("delete-policies", "tests/charts/delete-policies");
    a_failing_hook => Scenario::new("hook-failure", "tests/charts/hook-failure").actions(&[Install]);
    a_hook_that_times_out => Scenario::new("hook-timeout", "tests/charts/hook-timeout")
        .actions(&[Install])
        .timeout(2);
    a_failed_upgrade_rolled_back => Scenario::new("upgrade-failure", "tests/charts/upgrade-failure")
        .actions(&[Install, Upgrade, Rollback, Uninstall]);
    leftovers_applied_over_in_place => Scenario::new("leftovers", "tests/charts/leftovers");
    slow_deletions_before_hook_creation => Scenario::new("slow-deletion", "tests/charts/slow-deletion")
        .actions(&[Install, Upgrade])
        .emulator(slow_deletions);
    one_object_defined_twice => Scenario::new("duplicates", "tests/charts/duplicates").actions(&[Install]);
    crds_and_custom_resources => Scenario::new("crd", "tests/charts/crd");
    multi_file_chart => Scenario::new("multi-file", "tests/charts/multi-file");
    test_hooks_run_twice => Scenario::new("test-hooks", "tests/charts/test-hooks")
        .actions(&[Install, Test, Test, Uninstall]);
    a_failing_test => Scenario::new("test-failure", "tests/charts/test-failure").actions(&[Install, Test]);
    output_log_policies => Scenario::new("output-logs", "tests/charts/output-logs")
        .actions(&[Install, Upgrade, Uninstall]);
    namespaces_and_cluster_scope => Scenario::new("namespaces", "tests/charts/namespaces")
        .namespaces(&["other"]);
    a_job_deleted_by_its_ttl => Scenario::new("ttl-deleted", "tests/charts/ttl-deleted")
        .actions(&[Install])
        .timeout(3);
    a_crd_established_late => Scenario::new("crd-established-late", "tests/charts/crd")
        .actions(&[Install])
        .prepare(|cluster| cluster.emu.set_crd_establish_delay(Duration::from_millis(500)));
}
