//! One test per rule of Helm's hook semantics (DESIGN.md §3), each against what
//! helm/helm's manifest sorter and `execHook` really do.

use hooks_plan::{Event, Input, LoadOptions, Ordering, Plan, PlanError, Reading, TieBreak};

fn text(name: &str, content: &str) -> Input {
    Input::Text {
        name: name.into(),
        content: content.into(),
    }
}

/// Plans with both readings, which must agree on everything but how a hook's text is
/// held (YAML, or JSON after `Reading::Whole`): so every rule here is checked both ways.
fn plan_of(inputs: &[Input], event: Event, ordering: Ordering) -> Result<Plan, PlanError> {
    let documents = hooks_plan::load(inputs, &LoadOptions::default())?;
    let heads = hooks_plan::parse(&documents).and_then(|c| c.into_plan(event, ordering));
    let whole = hooks_plan::parse_with(&documents, Reading::Whole)
        .and_then(|c| c.into_plan(event, ordering));
    match (&heads, &whole) {
        (Ok(heads), Ok(whole)) => {
            let shown = |plan: &Plan| serde_json::to_value(plan).unwrap();
            assert_eq!(
                shown(heads),
                shown(whole),
                "the readings planned differently"
            );
            for (a, b) in heads.hooks.iter().zip(&whole.hooks) {
                assert_eq!(
                    a.hook.manifest().ok(),
                    b.hook.manifest().ok(),
                    "{}",
                    a.hook.id
                );
            }
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("one reading failed: {heads:?} / {whole:?}"),
    }
    heads
}

fn plan(yaml: &str, event: Event) -> Plan {
    plan_of(&[text("t.yaml", yaml)], event, Ordering::Helm).unwrap()
}

fn names(plan: &Plan) -> Vec<String> {
    plan.hooks.iter().map(|h| h.hook.name.clone()).collect()
}

fn hook(kind: &str, name: &str, annotations: &[(&str, &str)]) -> String {
    let api = match kind {
        "Job" => "batch/v1",
        "Role" => "rbac.authorization.k8s.io/v1",
        "Widget" | "Gadget" => "example.com/v1",
        _ => "v1",
    };
    let mut doc = format!("---\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n");
    if !annotations.is_empty() {
        doc.push_str("  annotations:\n");
        for (k, v) in annotations {
            doc.push_str(&format!("    {k}: {v:?}\n"));
        }
    }
    doc
}

fn pre_install(kind: &str, name: &str, weight: &str) -> String {
    hook(
        kind,
        name,
        &[
            ("helm.sh/hook", "pre-install"),
            ("helm.sh/hook-weight", weight),
        ],
    )
}

// --- what a hook is --------------------------------------------------------------------

#[test]
fn a_document_is_a_hook_only_with_the_hook_annotation() {
    let yaml = hook("ConfigMap", "plain", &[("helm.sh/hook-weight", "1")])
        + &hook("ConfigMap", "hooked", &[("helm.sh/hook", "pre-install")]);
    assert_eq!(names(&plan(&yaml, Event::PreInstall)), ["hooked"]);
}

#[test]
fn events_are_split_on_commas_trimmed_and_lower_cased() {
    let yaml = hook(
        "ConfigMap",
        "a",
        &[("helm.sh/hook", " Pre-Install ,POST-UPGRADE")],
    );
    let p = plan(&yaml, Event::PostUpgrade);
    assert_eq!(
        p.hooks[0].hook.events,
        [Event::PreInstall, Event::PostUpgrade]
    );
}

#[test]
fn test_success_is_an_alias_of_test() {
    let yaml = hook("Pod", "t", &[("helm.sh/hook", "test-success")]);
    assert_eq!(names(&plan(&yaml, Event::Test)), ["t"]);
}

#[test]
fn an_unknown_event_drops_the_whole_document() {
    let yaml = hook("Job", "typo", &[("helm.sh/hook", "pre-install,pre-instal")])
        + &hook("Job", "ok", &[("helm.sh/hook", "pre-install")]);
    let p = plan(&yaml, Event::PreInstall);
    assert_eq!(names(&p), ["ok"]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].name, "typo");
    assert_eq!(p.skipped[0].reason, "unknown hook event \"pre-instal\"");
    assert!(
        p.warnings.iter().any(|w| w.contains("dropped")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn an_empty_event_drops_the_document() {
    let yaml = hook("Job", "empty", &[("helm.sh/hook", "")]);
    let p = plan(&yaml, Event::PreInstall);
    assert!(p.hooks.is_empty());
    assert_eq!(p.skipped[0].reason, "unknown hook event \"\"");
}

#[test]
fn an_event_listed_twice_runs_once_with_a_warning() {
    let yaml = hook(
        "Job",
        "twice",
        &[("helm.sh/hook", "pre-install,pre-install")],
    );
    let p = plan(&yaml, Event::PreInstall);
    assert_eq!(names(&p), ["twice"]);
    assert!(p.warnings.iter().any(|w| w.contains("listed twice")));
}

#[test]
fn hooks_of_other_events_are_not_planned() {
    let yaml = hook("Job", "later", &[("helm.sh/hook", "post-install")]);
    assert!(plan(&yaml, Event::PreInstall).hooks.is_empty());
}

// --- weights ---------------------------------------------------------------------------

fn weight_of(raw: &str) -> (i64, Vec<String>) {
    let p = plan(&pre_install("Job", "w", raw), Event::PreInstall);
    (p.hooks[0].hook.weight, p.warnings)
}

#[test]
fn weight_with_plus_sign() {
    assert_eq!(weight_of("+5").0, 5);
}

#[test]
fn weight_with_minus_sign() {
    assert_eq!(weight_of("-5").0, -5);
}

#[test]
fn weight_with_leading_zero() {
    assert_eq!(weight_of("05").0, 5);
}

#[test]
fn weight_padded_becomes_zero_with_warning() {
    let (weight, warnings) = weight_of(" 5");
    assert_eq!(weight, 0);
    assert!(warnings.iter().any(|w| w.contains("counts as 0")));
}

#[test]
fn weight_fractional_becomes_zero() {
    assert_eq!(weight_of("1.5").0, 0);
}

#[test]
fn weight_hex_becomes_zero() {
    assert_eq!(weight_of("0x10").0, 0);
}

#[test]
fn weight_word_becomes_zero() {
    assert_eq!(weight_of("high").0, 0);
}

#[test]
fn weight_beyond_64_bits_becomes_zero() {
    assert_eq!(weight_of("9223372036854775808").0, 0);
    assert_eq!(weight_of("9223372036854775807").0, i64::MAX);
}

#[test]
fn weight_beyond_32_bits_is_kept() {
    assert_eq!(weight_of("-3000000000").0, -3_000_000_000);
}

#[test]
fn weight_empty_is_zero_without_a_weight_warning() {
    let (weight, warnings) = weight_of("");
    assert_eq!(weight, 0);
    assert!(!warnings.iter().any(|w| w.contains("counts as 0")));
}

// --- delete and output-log policies ------------------------------------------------------

fn with(annotations: &[(&str, &str)]) -> Plan {
    let mut all = vec![("helm.sh/hook", "pre-install")];
    all.extend_from_slice(annotations);
    plan(&hook("Job", "p", &all), Event::PreInstall)
}

#[test]
fn delete_policies_are_split_trimmed_and_lower_cased() {
    let p = with(&[(
        "helm.sh/hook-delete-policy",
        " Hook-Succeeded , BEFORE-hook-creation",
    )]);
    assert_eq!(
        p.hooks[0].hook.delete_policies,
        ["hook-succeeded", "before-hook-creation"]
    );
}

#[test]
fn unknown_delete_policy_is_kept_with_a_warning() {
    let p = with(&[("helm.sh/hook-delete-policy", "hook-succeeded,on-failure")]);
    assert_eq!(
        p.hooks[0].hook.delete_policies,
        ["hook-succeeded", "on-failure"]
    );
    assert!(p.warnings.iter().any(|w| w.contains("\"on-failure\"")));
}

#[test]
fn default_delete_policy_only_when_none_given() {
    let p = with(&[]);
    assert!(p.hooks[0].hook.delete_policies.is_empty());
    assert_eq!(
        p.hooks[0].hook.effective_delete_policies(),
        ["before-hook-creation"]
    );
    assert!(p.warnings.iter().any(|w| w.contains("default")));

    let p = with(&[("helm.sh/hook-delete-policy", "hook-succeeded")]);
    assert_eq!(
        p.hooks[0].hook.effective_delete_policies(),
        ["hook-succeeded"]
    );
    assert!(!p.hooks[0].hook.has_delete_policy("before-hook-creation"));
}

#[test]
fn empty_delete_policy_value_disables_the_default_like_helm() {
    // strings.Split("", ",") is [""]: Helm's list is not empty, so no default applies.
    let p = with(&[("helm.sh/hook-delete-policy", "")]);
    assert_eq!(p.hooks[0].hook.effective_delete_policies(), [""]);
    assert!(!p.hooks[0].hook.has_delete_policy("before-hook-creation"));
    assert!(p.warnings.iter().any(|w| w.contains("empty entry")));
}

#[test]
fn output_log_policies_are_normalised_and_unknown_kept() {
    let p = with(&[("helm.sh/hook-output-log-policy", "Hook-Failed, loud")]);
    assert_eq!(p.hooks[0].hook.output_log_policies, ["hook-failed", "loud"]);
    assert!(p.warnings.iter().any(|w| w.contains("\"loud\"")));
}

// --- input order -------------------------------------------------------------------------

#[test]
fn sources_are_ordered_by_path_not_argument_order() {
    let p = plan_of(
        &[
            text(
                "b.yaml",
                &pre_install("Job", "same", "0").replace("same", "x"),
            ),
            text(
                "a.yaml",
                &pre_install("Job", "same", "0").replace("same", "x2"),
            ),
        ],
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    // Names differ, so name decides here; the input position shows path order.
    let positions: Vec<_> = p
        .hooks
        .iter()
        .map(|h| (h.hook.source.to_string(), h.hook.input_position))
        .collect();
    assert_eq!(
        positions,
        [("b.yaml".to_string(), 1), ("a.yaml".to_string(), 0)]
    );
}

#[test]
fn input_order_decides_between_identical_keys() {
    // Same weight, name and kind (different namespaces): Helm keeps input order,
    // which is by source path.
    let doc = |ns: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: {ns}\n  annotations:\n    helm.sh/hook: pre-install\n"
        )
    };
    let p = plan_of(
        &[
            text("z.yaml", &doc("first-arg")),
            text("a.yaml", &doc("second-arg")),
        ],
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    let ns: Vec<_> = p
        .hooks
        .iter()
        .map(|h| h.hook.namespace.clone().unwrap())
        .collect();
    assert_eq!(ns, ["second-arg", "first-arg"]);
    assert_eq!(p.hooks[1].tie_break, Some(TieBreak::InputOrder));
}

#[test]
fn source_comment_gives_the_path_for_input_order() {
    let stream = format!(
        "---\n# Source: chart/templates/z.yaml\n{}---\n# Source: chart/templates/a.yaml\n{}",
        &hook("ConfigMap", "same", &[("helm.sh/hook", "pre-install")])
            .replace("---\n", "")
            .replace("name: same", "name: same\n  namespace: from-z"),
        &hook("ConfigMap", "same", &[("helm.sh/hook", "pre-install")])
            .replace("---\n", "")
            .replace("name: same", "name: same\n  namespace: from-a"),
    );
    let p = plan(&stream, Event::PreInstall);
    assert_eq!(&*p.hooks[0].hook.source, "chart/templates/a.yaml");
    assert_eq!(p.hooks[0].hook.namespace.as_deref(), Some("from-a"));
}

#[test]
fn partials_are_skipped_in_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("_helpers.yaml"),
        pre_install("Job", "partial", "0"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("hook.yaml"),
        pre_install("Job", "real", "0"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
    let p = plan_of(
        &[Input::Path(dir.path().to_owned())],
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    assert_eq!(names(&p), ["real"]);
}

#[test]
fn directories_are_read_recursively_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
    let doc = |ns: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: {ns}\n  annotations:\n    helm.sh/hook: pre-install\n"
        )
    };
    std::fs::write(dir.path().join("b/c/deep.yml"), doc("deep")).unwrap();
    std::fs::write(dir.path().join("a.json"), r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"json","annotations":{"helm.sh/hook":"pre-install"}}}"#).unwrap();
    let p = plan_of(
        &[Input::Path(dir.path().to_owned())],
        Event::PreInstall,
        Ordering::Helm,
    )
    .unwrap();
    let ns: Vec<_> = p
        .hooks
        .iter()
        .map(|h| h.hook.namespace.clone().unwrap())
        .collect();
    assert_eq!(ns, ["json", "deep"]);
}

#[test]
fn empty_documents_are_skipped_and_not_counted() {
    let yaml = format!("---\n---\n\n{}", pre_install("Job", "only", "0"));
    let p = plan(&yaml, Event::PreInstall);
    assert_eq!(p.hooks[0].hook.document, 0);
}

#[test]
fn document_index_counts_within_its_source() {
    let yaml = format!(
        "{}{}",
        hook("ConfigMap", "plain", &[]),
        pre_install("Job", "second", "0")
    );
    assert_eq!(plan(&yaml, Event::PreInstall).hooks[0].hook.document, 1);
}

// --- kind order and execution order ---------------------------------------------------------

#[test]
fn equal_weight_and_name_are_ordered_by_install_kind_order() {
    let yaml = pre_install("Job", "x", "0")
        + &pre_install("Role", "x", "0")
        + &pre_install("ServiceAccount", "x", "0")
        + &pre_install("ConfigMap", "x", "0");
    let p = plan(&yaml, Event::PreInstall);
    let kinds: Vec<_> = p.hooks.iter().map(|h| h.hook.kind.as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "ConfigMap", "Role", "Job"]);
    assert_eq!(p.hooks[1].tie_break, Some(TieBreak::Kind));
}

#[test]
fn unknown_kinds_go_last_alphabetically() {
    let yaml = pre_install("Widget", "x", "0")
        + &pre_install("Gadget", "x", "0")
        + &pre_install("Job", "x", "0");
    let p = plan(&yaml, Event::PreInstall);
    let kinds: Vec<_> = p.hooks.iter().map(|h| h.hook.kind.as_str()).collect();
    assert_eq!(kinds, ["Job", "Gadget", "Widget"]);
}

#[test]
fn lower_weight_runs_first() {
    let yaml = pre_install("Job", "a", "10") + &pre_install("Job", "b", "-10");
    assert_eq!(names(&plan(&yaml, Event::PreInstall)), ["b", "a"]);
}

#[test]
fn equal_weight_is_ordered_by_name_before_kind() {
    // What Helm really does: a Job named "a" runs before a ServiceAccount named "b".
    let yaml = pre_install("ServiceAccount", "b", "0") + &pre_install("Job", "a", "0");
    let p = plan(&yaml, Event::PreInstall);
    assert_eq!(names(&p), ["a", "b"]);
    assert_eq!(p.hooks[1].tie_break, Some(TieBreak::Name));
}

#[test]
fn documented_ordering_puts_kind_before_name() {
    let yaml = pre_install("ServiceAccount", "b", "0") + &pre_install("Job", "a", "0");
    let p = plan_of(
        &[text("t.yaml", &yaml)],
        Event::PreInstall,
        Ordering::Documented,
    )
    .unwrap();
    assert_eq!(names(&p), ["b", "a"]);
    assert_eq!(p.hooks[1].tie_break, Some(TieBreak::Kind));
}

#[test]
fn namespace_is_none_when_the_manifest_sets_none() {
    let p = plan(&pre_install("Job", "a", "0"), Event::PreInstall);
    assert_eq!(p.hooks[0].hook.namespace, None);
    assert_eq!(p.hooks[0].hook.id, "Job/a");
}

#[test]
fn two_hooks_of_one_event_naming_one_object_are_an_error() {
    let yaml = pre_install("Job", "dup", "0") + &pre_install("Job", "dup", "5");
    let err = plan_of(&[text("t.yaml", &yaml)], Event::PreInstall, Ordering::Helm).unwrap_err();
    assert!(matches!(err, PlanError::DuplicateHook { .. }), "{err}");
    assert!(err.to_string().contains("document 0"), "{err}");
    assert!(err.to_string().contains("document 1"), "{err}");
}

fn in_namespace(kind: &str, api_version: &str, name: &str, namespace: Option<&str>) -> String {
    let namespace = namespace.map_or(String::new(), |ns| format!("  namespace: {ns}\n"));
    format!(
        "---\napiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n{namespace}  annotations:\n    helm.sh/hook: pre-install\n"
    )
}

fn catalog(yaml: &str) -> hooks_plan::Catalog {
    let documents = hooks_plan::load(&[text("t.yaml", yaml)], &LoadOptions::default()).unwrap();
    hooks_plan::parse(&documents).unwrap()
}

/// Regression: the namespace was compared as written, so a hook without one and a hook
/// naming the release's namespace passed as two objects, and Helm applied one over the
/// other.
#[test]
fn no_namespace_and_the_release_namespace_written_out_are_one_object() {
    let yaml = in_namespace("ConfigMap", "v1", "settings", None)
        + &in_namespace("ConfigMap", "v1", "settings", Some("ledger"));
    let err = catalog(&yaml)
        .into_plan_in(Event::PreInstall, Ordering::Helm, "ledger")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hooks `ConfigMap/settings` and `ConfigMap/ledger/settings` both name \
         ConfigMap/settings in namespace `ledger` for event `pre-install`: \
         at `t.yaml` document 0 (line 1) and at `t.yaml` document 1 (line 8)"
    );
    // In another release namespace they are two objects.
    let plan = catalog(&yaml)
        .into_plan_in(Event::PreInstall, Ordering::Helm, "other")
        .unwrap();
    assert_eq!(plan.hooks.len(), 2);
    // Without a namespace given, the release is in `default`.
    assert_eq!(
        catalog(&yaml)
            .into_plan(Event::PreInstall, Ordering::Helm)
            .unwrap()
            .hooks
            .len(),
        2
    );
}

#[test]
fn a_cluster_scoped_kind_is_one_object_whatever_namespace_it_writes() {
    let api = "rbac.authorization.k8s.io/v1";
    let yaml = in_namespace("ClusterRole", api, "reader", Some("a"))
        + &in_namespace("ClusterRole", api, "reader", Some("b"));
    let err = catalog(&yaml)
        .into_plan_in(Event::PreInstall, Ordering::Helm, "ledger")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("both name ClusterRole/reader for event"),
        "{err}"
    );
    // A namespaced kind in two namespaces is two objects.
    let yaml = in_namespace("Role", api, "reader", Some("a"))
        + &in_namespace("Role", api, "reader", Some("b"));
    assert!(
        catalog(&yaml)
            .into_plan_in(Event::PreInstall, Ordering::Helm, "a")
            .is_ok()
    );
}

#[test]
fn the_same_object_in_different_events_is_fine() {
    let yaml =
        pre_install("Job", "dup", "0") + &hook("Job", "dup", &[("helm.sh/hook", "post-install")]);
    assert_eq!(names(&plan(&yaml, Event::PreInstall)), ["dup"]);
}

#[test]
fn crd_hooks_are_never_deleted() {
    let yaml = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-delete-policy: hook-succeeded\n";
    let p = plan(yaml, Event::PreInstall);
    assert!(p.hooks[0].hook.is_never_deleted());
}

#[test]
fn manifest_is_available_as_json() {
    let p = plan(&pre_install("Job", "a", "3"), Event::PreInstall);
    let manifest = p.hooks[0].hook.manifest().unwrap();
    assert_eq!(
        manifest["metadata"]["annotations"]["helm.sh/hook-weight"],
        "3"
    );
}

// Found by the `manifests` fuzz target: the head reader merged two `annotations` maps
// where go-yaml (and so Helm) keeps only the last one.
#[test]
fn a_second_annotations_key_replaces_the_first_as_in_helm() {
    let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"-10\"\n  annotations:\n    helm.sh/hook: pre-install\n";
    let plan = plan(yaml, Event::PreInstall);
    assert_eq!(plan.hooks[0].hook.weight, 0);
    // And a second `metadata` replaces the first: its name is gone with it.
    let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  annotations:\n    helm.sh/hook: pre-install\nmetadata:\n  name: b\n  annotations:\n    helm.sh/hook: post-install\n";
    assert!(
        plan_of(&[text("t.yaml", yaml)], Event::PreInstall, Ordering::Helm)
            .unwrap()
            .hooks
            .is_empty()
    );
}
