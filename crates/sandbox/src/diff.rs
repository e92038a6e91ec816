//! The diff `plan` shows for each mutation: what a patch changed, as YAML, bounded in the
//! time it takes and the lines it shows, Secret values masked.

use std::time::Duration;

use serde_json::Value;

use crate::secrets;

/// The longest a diff may compute; past it the diff is coarser, not slower.
const DIFF_TIME: Duration = Duration::from_millis(100);
/// Manifests whose JSON is longer than this together are not rendered and diffed line by
/// line at all: a count of the values that changed says enough, at a fraction of the cost.
const DIFF_INPUT_BYTES: usize = 256 * 1024;

/// A unified diff of two manifests as YAML (what people write manifests in), or, past
/// `max_lines` of diff or [`DIFF_INPUT_BYTES`] of input (`size`, the length of both as
/// JSON text), how much changed.
pub(crate) fn mutation_diff(
    before: &Value,
    after: &Value,
    size: usize,
    max_lines: usize,
) -> String {
    if size > DIFF_INPUT_BYTES {
        return format!(
            "diff too large, {} values changed (the manifests are over {} KiB to diff)\n",
            changed_values(before, after),
            DIFF_INPUT_BYTES / 1024
        );
    }
    let (before, after) = secrets::masked_pair(before, after);
    let (before, after) = (render(&before), render(&after));
    let diff = similar::TextDiff::configure()
        .timeout(DIFF_TIME)
        .diff_lines(&before, &after);
    let changed = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .count();
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header("before", "after")
        .to_string();
    if text.lines().count() > max_lines {
        return too_large(changed, max_lines);
    }
    text.lines()
        .map(|line| hooks_plan::escape(line).into_owned() + "\n")
        .collect()
}

fn render(value: &Value) -> String {
    serde_saphyr::to_string(value)
        .unwrap_or_else(|_| serde_json::to_string_pretty(value).unwrap_or_default())
}

fn too_large(changed: usize, max_lines: usize) -> String {
    format!(
        "diff too large, {changed} lines changed (more than `limits.diffLines`, {max_lines}, to show)\n"
    )
}

/// Scalars added, removed or changed between two JSON values, by path; a container that
/// changed kind counts as its scalars on both sides.
fn changed_values(before: &Value, after: &Value) -> usize {
    fn leaves(value: &Value) -> usize {
        match value {
            Value::Object(map) => map.values().map(leaves).sum(),
            Value::Array(items) => items.iter().map(leaves).sum(),
            _ => 1,
        }
    }
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let changed: usize = old
                .iter()
                .map(|(key, value)| {
                    new.get(key)
                        .map_or_else(|| leaves(value), |n| changed_values(value, n))
                })
                .sum();
            changed
                + new
                    .iter()
                    .filter(|(key, _)| !old.contains_key(*key))
                    .map(|(_, value)| leaves(value))
                    .sum::<usize>()
        }
        (Value::Array(old), Value::Array(new)) => {
            let common: usize = old.iter().zip(new).map(|(o, n)| changed_values(o, n)).sum();
            let rest = if old.len() > new.len() {
                &old[new.len()..]
            } else {
                &new[old.len()..]
            };
            common + rest.iter().map(leaves).sum::<usize>()
        }
        (old, new) if old.is_object() || old.is_array() || new.is_object() || new.is_array() => {
            leaves(old) + leaves(new)
        }
        (old, new) => usize::from(old != new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_changes_are_shown() {
        let before = json!({"kind": "Job", "spec": {"backoffLimit": 6}});
        let after = json!({"kind": "Job", "spec": {"backoffLimit": 1}});
        let diff = mutation_diff(&before, &after, 100, 100);
        assert!(diff.contains("-  backoffLimit: 6"), "{diff}");
        assert!(diff.contains("+  backoffLimit: 1"), "{diff}");
    }

    #[test]
    fn a_diff_over_budget_says_how_much_changed() {
        let before = json!({"kind": "ConfigMap", "data": {}});
        let lines: serde_json::Map<String, Value> =
            (0..5000).map(|i| (format!("k{i}"), json!(i))).collect();
        let after = json!({"kind": "ConfigMap", "data": lines});
        let diff = mutation_diff(&before, &after, 100 * 1024, 1000);
        assert!(diff.starts_with("diff too large, 50"), "{diff}");
    }

    #[test]
    fn huge_manifests_are_not_diffed_line_by_line() {
        let lines: Vec<Value> = (0..30_000).map(|i| json!(i)).collect();
        let after = json!({"kind": "ConfigMap", "data": {"x": lines}});
        let diff = mutation_diff(&json!({"kind": "ConfigMap"}), &after, 300 * 1024, 1000);
        assert_eq!(
            diff,
            "diff too large, 30000 values changed (the manifests are over 256 KiB to diff)\n"
        );
    }

    #[test]
    fn secret_values_never_appear() {
        let before = json!({"apiVersion": "v1", "kind": "Secret", "data": {"pw": "aHVudGVyMg=="}});
        let after = json!({"apiVersion": "v1", "kind": "Secret", "data": {"pw": "bmV3LXB3"}});
        let diff = mutation_diff(&before, &after, 100, 100);
        assert!(
            diff.contains("*** (before)") && diff.contains("*** (after)"),
            "{diff}"
        );
        assert!(
            !diff.contains("aHVudGVyMg") && !diff.contains("bmV3LXB3"),
            "{diff}"
        );
    }
}
