//! Entry points for the fuzz targets in `fuzz/`: the host's checks on answers, reachable
//! without a wasmtime engine. Not an API: it exists so that what is fuzzed is exactly
//! what the pipeline runs.

use serde_json::{Value, json};

use crate::diff::mutation_diff;
use crate::invariants::{
    changed_timeout, check_order, check_patch, check_patch_ids, check_waves, json_shape,
};
use crate::secrets::Masker;

/// Checks `answer` as every kind of answer a policy can give about the hooks `current`:
/// a patch of a Job, an order (one id per line), patch targets, and text to show (a
/// denial reason, a log line). Panics only where a property of the host breaks: shown
/// text must be bounded and free of control characters, and no Secret value may show.
pub fn answer(current: &[&str], answer: &str) {
    let before = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "a", "annotations": {"helm.sh/hook": "pre-install"}},
        "spec": {}
    });
    if json_shape(answer, 10_000, 64).is_ok()
        && let Ok(after) = check_patch("Job/a", &before, answer)
    {
        let diff = mutation_diff(&before, &after, answer.len(), 100);
        assert!(diff.lines().count() <= 100 || diff.starts_with("diff too large"));
    }
    let ids: Vec<String> = answer.lines().map(str::to_owned).collect();
    let _ = check_order(current, &ids);
    let _ = check_patch_ids(current, ids.iter().map(String::as_str));
    // Waves: blank lines separate them.
    let waves: Vec<Vec<String>> = answer
        .split("\n\n")
        .map(|wave| wave.lines().map(str::to_owned).collect())
        .collect();
    if let Ok((permutation, sizes)) = check_waves(current, &waves) {
        assert_eq!(permutation.len(), current.len());
        assert_eq!(sizes.iter().sum::<usize>(), current.len());
        assert!(sizes.iter().all(|&s| s > 0));
    }
    if let Ok(after) = serde_json::from_str::<Value>(answer) {
        let _ = changed_timeout(&before, &after);
    }

    let secret = answer.lines().next().unwrap_or_default();
    let mut masker = Masker::default();
    masker.learn(&json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "stringData": {"value": Value::from(secret)}
    }));
    let shown = masker.shown(answer, 4096);
    assert!(shown.len() <= 4096 + 32, "{} bytes shown", shown.len());
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    // A value holding the mask's `*` can be spelled again by a mask next to it; any other
    // must not be shown at all, escapes and truncation notes included.
    if secret.len() >= 4 && !secret.contains('*') {
        assert!(
            !shown.contains(secret),
            "a Secret value was shown: {shown:?}"
        );
    }
}
