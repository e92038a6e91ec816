use serde::Serialize;

use crate::{Event, Location};

/// A value of `helm.sh/hook-delete-policy`, after Helm's split, trim and lower-case.
/// Unknown values are kept (Helm keeps them too) so that nothing the chart said is lost.
pub type DeletePolicy = String;
/// A value of `helm.sh/hook-output-log-policy`, normalised like [`DeletePolicy`].
pub type OutputLogPolicy = String;

pub const BEFORE_HOOK_CREATION: &str = "before-hook-creation";
pub const HOOK_SUCCEEDED: &str = "hook-succeeded";
pub const HOOK_FAILED: &str = "hook-failed";
pub(crate) const KNOWN_DELETE_POLICIES: [&str; 3] =
    [BEFORE_HOOK_CREATION, HOOK_SUCCEEDED, HOOK_FAILED];
pub(crate) const KNOWN_OUTPUT_LOG_POLICIES: [&str; 2] = [HOOK_SUCCEEDED, HOOK_FAILED];

/// One hook document: a Kubernetes object carrying `helm.sh/hook`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    /// Stable identity within an event: `Kind/name` or `Kind/namespace/name`.
    pub id: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// As written in the manifest; `None` means "the namespace of the release".
    pub namespace: Option<String>,
    pub weight: i64,
    /// The raw `helm.sh/hook-weight`, when present.
    pub weight_raw: Option<String>,
    /// In the annotation's order, duplicates removed.
    pub events: Vec<Event>,
    /// As written (normalised), without the default Helm applies when the list is empty.
    pub delete_policies: Vec<DeletePolicy>,
    pub output_log_policies: Vec<OutputLogPolicy>,
    /// `kubectl-hooks.dev/timeout`: bounds this hook's waits instead of the run's
    /// `--timeout`.
    #[serde(skip)]
    pub timeout: Option<std::time::Duration>,
    pub source: std::sync::Arc<str>,
    pub document: usize,
    /// Position in Helm's input order (sources by path, documents in order).
    pub input_position: usize,
    #[serde(skip)]
    pub location: Location,
    /// Where the document starts in `source` (see [`crate::Document::source_line`]).
    #[serde(skip)]
    pub source_line: usize,
    /// The document's own text, as read. The full manifest is parsed from it only when a
    /// policy or the executor needs it, which keeps planning as cheap as one head parse.
    #[serde(skip)]
    pub text: crate::Text,
    #[serde(skip)]
    pub format: crate::Format,
    /// What Helm would have done silently with this hook; reported when its event is
    /// planned.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Hook {
    /// The delete policies Helm acts on: the chart's, or `before-hook-creation` when the
    /// chart gave none (Helm's `hookSetDeletePolicy`).
    pub fn effective_delete_policies(&self) -> Vec<DeletePolicy> {
        if self.delete_policies.is_empty() {
            vec![BEFORE_HOOK_CREATION.to_owned()]
        } else {
            self.delete_policies.clone()
        }
    }

    pub fn has_delete_policy(&self, policy: &str) -> bool {
        if self.delete_policies.is_empty() {
            policy == BEFORE_HOOK_CREATION
        } else {
            self.delete_policies.iter().any(|p| p == policy)
        }
    }

    pub fn has_output_log_policy(&self, policy: &str) -> bool {
        self.output_log_policies.iter().any(|p| p == policy)
    }

    /// Helm never deletes a CustomResourceDefinition hook, whatever its policies say,
    /// because that would cascade to every custom resource of it.
    pub fn is_never_deleted(&self) -> bool {
        self.kind == "CustomResourceDefinition"
    }

    /// Whether Helm deletes this hook at `policy`'s moment: it carries the policy (the
    /// default applied) and is not a CustomResourceDefinition.
    pub fn deletes_on(&self, policy: &str) -> bool {
        self.has_delete_policy(policy) && !self.is_never_deleted()
    }

    /// The API group of `apiVersion` (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The namespace the hook's object lives in when the release's is `release_namespace`:
    /// its own, else the release's; `None` for a cluster-scoped kind, whatever it wrote.
    pub fn resolved_namespace<'a>(&'a self, release_namespace: &'a str) -> Option<&'a str> {
        if crate::scope::is_cluster_scoped(self.group(), &self.kind) {
            return None;
        }
        Some(self.namespace.as_deref().unwrap_or(release_namespace))
    }

    /// Replaces the manifest (after a policy patched it) and re-reads the delete and
    /// output-log policies and the timeout from its annotations, as the planner would have
    /// read them. Identity, events and weight are not re-read: the caller checks they did
    /// not change. Returns warnings about unknown policy values; a timeout that is not one
    /// is an error, and then nothing is replaced.
    pub fn replace_manifest(
        &mut self,
        manifest: &serde_json::Value,
    ) -> Result<Vec<String>, crate::PlanError> {
        let annotation = |key: &str| {
            manifest
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(|v| v.as_str())
        };
        let timeout = crate::parse::timeout(
            annotation(crate::TIMEOUT_ANNOTATION),
            &self.id,
            &self.location,
        )?;
        let mut warnings = Vec::new();
        self.timeout = timeout;
        self.delete_policies = crate::parse::policies(
            annotation(crate::parse::DELETE_ANNOTATION),
            crate::parse::DELETE_ANNOTATION,
            &KNOWN_DELETE_POLICIES,
            &self.id,
            &self.location,
            &mut warnings,
        );
        self.output_log_policies = crate::parse::policies(
            annotation(crate::parse::OUTPUT_LOG_ANNOTATION),
            crate::parse::OUTPUT_LOG_ANNOTATION,
            &KNOWN_OUTPUT_LOG_POLICIES,
            &self.id,
            &self.location,
            &mut warnings,
        );
        self.text = crate::Text::new(manifest.to_string());
        self.format = crate::Format::Json;
        Ok(warnings)
    }

    /// The full manifest as JSON, parsed from the document's text.
    pub fn manifest(&self) -> Result<serde_json::Value, crate::PlanError> {
        crate::parse::document_to_json(self.text.as_str(), self.format, &self.location)
    }

    /// The full manifest as JSON text: the document itself when it is JSON already. The
    /// same text as [`Hook::manifest`] printed, without building the value.
    pub fn manifest_json(&self) -> Result<std::borrow::Cow<'_, str>, crate::PlanError> {
        crate::parse::document_to_json_text(self.text.as_str(), self.format, &self.location)
    }
}

/// [`Hook::manifest_json`] of every hook, in order, on all cores when there is enough YAML
/// to read: what policing needs of a plan before the first policy runs.
pub fn manifests_json<'a>(
    hooks: &[&'a Hook],
) -> Vec<Result<std::borrow::Cow<'a, str>, crate::PlanError>> {
    let yaml: usize = hooks
        .iter()
        .filter(|h| h.format == crate::Format::Yaml)
        .map(|h| h.text.as_str().len())
        .sum();
    crate::par::map_chunks(hooks, yaml, |part| {
        part.iter().map(|h| h.manifest_json()).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Parses `helm.sh/hook-weight` exactly like Go's `strconv.Atoi` on a 64-bit platform:
/// an optional `+` or `-` and ASCII digits, leading zeros allowed; anything else
/// (spaces, fractions, hex, underscores, words, out of range) is `None`, which Helm turns
/// into weight 0.
pub fn parse_weight(raw: &str) -> Option<i64> {
    let bytes = raw.as_bytes();
    let (negative, digits) = match bytes.first()? {
        b'+' => (false, &bytes[1..]),
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Splits an annotation value the way Helm does for events and policies: on `,`, each
/// piece trimmed and lower-cased. An empty value gives one empty piece, as in Go.
pub(crate) fn split_annotation(value: &str) -> impl Iterator<Item = String> + '_ {
    value.split(',').map(|piece| piece.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::parse_weight;

    #[test]
    fn weight_plain() {
        assert_eq!(parse_weight("5"), Some(5));
    }
    #[test]
    fn weight_plus_sign() {
        assert_eq!(parse_weight("+5"), Some(5));
    }
    #[test]
    fn weight_minus_sign() {
        assert_eq!(parse_weight("-5"), Some(-5));
    }
    #[test]
    fn weight_leading_zero() {
        assert_eq!(parse_weight("05"), Some(5));
        assert_eq!(parse_weight("-007"), Some(-7));
    }
    #[test]
    fn weight_padded_is_invalid() {
        assert_eq!(parse_weight(" 5"), None);
        assert_eq!(parse_weight("5 "), None);
    }
    #[test]
    fn weight_fraction_is_invalid() {
        assert_eq!(parse_weight("1.5"), None);
    }
    #[test]
    fn weight_hex_is_invalid() {
        assert_eq!(parse_weight("0x10"), None);
    }
    #[test]
    fn weight_word_is_invalid() {
        assert_eq!(parse_weight("five"), None);
        assert_eq!(parse_weight("1e3"), None);
    }
    #[test]
    fn weight_underscore_is_invalid() {
        // Go accepts underscores only with base 0; Atoi uses base 10.
        assert_eq!(parse_weight("1_000"), None);
    }
    #[test]
    fn weight_sign_alone_or_empty_is_invalid() {
        assert_eq!(parse_weight(""), None);
        assert_eq!(parse_weight("+"), None);
        assert_eq!(parse_weight("-"), None);
        assert_eq!(parse_weight("+-1"), None);
    }
    #[test]
    fn weight_is_64_bit() {
        assert_eq!(parse_weight("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_weight("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_weight("4294967296"), Some(1 << 32));
    }
    #[test]
    fn weight_overflow_is_invalid() {
        assert_eq!(parse_weight("9223372036854775808"), None);
        assert_eq!(parse_weight("-9223372036854775809"), None);
        assert_eq!(parse_weight("99999999999999999999999"), None);
    }
    #[test]
    fn weight_non_ascii_digit_is_invalid() {
        assert_eq!(parse_weight("٣"), None);
    }
}
