//! Secret values never reach output. Diffs of a Secret show `***` in place of its values,
//! as `kubectl diff` does; and anything a policy says (logs, printed lines, reasons,
//! errors) has every value of the plan's Secrets replaced by `***`, since a policy sees
//! the manifests whole and could repeat them.

use std::borrow::Cow;

use serde_json::Value;

/// The fields of a Secret whose values are masked.
const SECRET_FIELDS: [&str; 2] = ["data", "stringData"];
/// Shorter values are left alone: masking every `1` or `ab` in a log would hide more than
/// it protects.
const SHORTEST_MASKED: usize = 4;
pub(crate) const MASK: &str = "***";

pub(crate) fn is_secret(manifest: &Value) -> bool {
    manifest.get("kind").and_then(Value::as_str) == Some("Secret")
        && manifest.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// The values of the plan's Secrets, to mask in text a policy wrote.
#[derive(Debug, Clone, Default)]
pub(crate) struct Masker {
    values: Vec<String>,
}

impl Masker {
    /// Learns the values of `manifest` if it is a Secret: each value as written, and for
    /// `data` the decoded value too when it is text.
    pub(crate) fn learn(&mut self, manifest: &Value) {
        if !is_secret(manifest) {
            return;
        }
        for field in SECRET_FIELDS {
            let Some(entries) = manifest.get(field).and_then(Value::as_object) else {
                continue;
            };
            for value in entries.values().filter_map(Value::as_str) {
                self.add(value.to_owned());
                if field == "data"
                    && let Some(decoded) = decode_base64(value)
                {
                    self.add(decoded);
                }
            }
        }
    }

    fn add(&mut self, value: String) {
        // Shown text is escaped, so a value is masked as escaped too: a value holding a
        // tab must not show as `a\tb`.
        let escaped = hooks_plan::escape_bounded(&value, usize::MAX);
        for value in [value, escaped] {
            if value.len() >= SHORTEST_MASKED && !self.values.contains(&value) {
                self.values.push(value);
            }
        }
        // Longest first, so a value that contains another is masked whole.
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Guest text as it may be shown: Secret values masked, escaped, at most `max` bytes.
    /// Masked again after escaping, because an escape can spell a value the guest never
    /// wrote: a tab before `ob/a` shows as `\tob/a`, which holds the value `tob/`.
    pub(crate) fn shown(&self, text: &str, max: usize) -> String {
        let escaped = hooks_plan::escape_bounded(&self.mask(text), max);
        match self.mask(&escaped) {
            Cow::Borrowed(_) => escaped,
            Cow::Owned(masked) => masked,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub(crate) fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for value in &self.values {
            if text.contains(value.as_str()) {
                text = Cow::Owned(text.replace(value.as_str(), MASK));
            }
        }
        text
    }
}

/// `before` and `after` with the values of their Secret fields replaced the way
/// `kubectl diff` does: `***` where a value is unchanged, `*** (before)` and `*** (after)`
/// where it changed, so the diff still tells which keys changed.
pub(crate) fn masked_pair<'a>(
    before: &'a Value,
    after: &'a Value,
) -> (Cow<'a, Value>, Cow<'a, Value>) {
    if !is_secret(before) && !is_secret(after) {
        return (Cow::Borrowed(before), Cow::Borrowed(after));
    }
    let (mut before, mut after) = (before.clone(), after.clone());
    for field in SECRET_FIELDS {
        let old = before.get(field).and_then(Value::as_object).cloned();
        let new = after.get(field).and_then(Value::as_object).cloned();
        if let Some(entries) = before.get_mut(field).and_then(Value::as_object_mut) {
            for (key, value) in entries.iter_mut() {
                let changed = new
                    .as_ref()
                    .and_then(|n| n.get(key))
                    .is_some_and(|n| n != value);
                *value = Value::from(if changed { "*** (before)" } else { MASK });
            }
        }
        if let Some(entries) = after.get_mut(field).and_then(Value::as_object_mut) {
            for (key, value) in entries.iter_mut() {
                let changed = old
                    .as_ref()
                    .and_then(|o| o.get(key))
                    .is_some_and(|o| o != value);
                *value = Value::from(if changed { "*** (after)" } else { MASK });
            }
        }
    }
    (Cow::Owned(before), Cow::Owned(after))
}

/// Standard base64, as the API server stores `data`; `None` if `text` is not that or
/// does not decode to UTF-8.
fn decode_base64(text: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": data})
    }

    #[test]
    fn base64_decodes_as_the_api_server_encodes() {
        assert_eq!(decode_base64("aHVudGVyMg==").as_deref(), Some("hunter2"));
        assert_eq!(decode_base64("c2VjcmV0").as_deref(), Some("secret"));
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn policy_text_has_secret_values_masked() {
        let mut masker = Masker::default();
        masker.learn(&secret(json!({"password": "aHVudGVyMg=="})));
        masker.learn(
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"},
            "stringData": {"token": "s3cr3t-token"}}),
        );
        assert_eq!(
            masker.mask("saw hunter2 and aHVudGVyMg== and s3cr3t-token"),
            "saw *** and *** and ***"
        );
        // ConfigMaps are not secret.
        let mut plain = Masker::default();
        plain.learn(&json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}}));
        assert!(plain.is_empty());
    }

    // Found by the `answers` fuzz target: a tab before `ob/a` is shown as `\tob/a`.
    #[test]
    fn an_escape_that_spells_a_secret_is_masked() {
        let mut masker = Masker::default();
        masker.learn(&json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"v": "tob/"}}));
        assert_eq!(masker.shown("[\tob/a", 100), "[\\***a");
    }

    #[test]
    fn a_secret_holding_a_control_character_is_masked_escaped() {
        let mut masker = Masker::default();
        masker.learn(&json!({"apiVersion": "v1", "kind": "Secret", "stringData": {"v": "pa\tss"}}));
        assert_eq!(masker.shown("x pa\tss y", 100), "x *** y");
        // A diff is escaped line by line before it is masked.
        assert_eq!(masker.mask(&hooks_plan::escape("x pa\tss y")), "x *** y");
    }

    #[test]
    fn diffs_of_secrets_tell_changed_keys_not_values() {
        let before = secret(json!({"same": "YWFhYQ==", "changed": "YmJiYg==", "gone": "Y2NjYw=="}));
        let after = secret(json!({"same": "YWFhYQ==", "changed": "ZGRkZA==", "new": "ZWVlZQ=="}));
        let (b, a) = masked_pair(&before, &after);
        assert_eq!(
            b["data"],
            json!({"same": "***", "changed": "*** (before)", "gone": "***"})
        );
        assert_eq!(
            a["data"],
            json!({"same": "***", "changed": "*** (after)", "new": "***"})
        );
        assert!(!b.to_string().contains("YmJiYg") && !a.to_string().contains("ZGRkZA"));
    }
}
