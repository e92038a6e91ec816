//! The policy test suite format, shared with policy authors (see `policies/*/tests.yaml`):
//!
//! ```yaml
//! policy: ../../target/wasm32-wasip2/release/deny_privileged.wasm  # relative to this file
//! settings: {}                        # default for every case
//! cases:
//!   - name: privileged init job is denied
//!     event: pre-install
//!     manifests: fixtures/privileged.yaml   # file or directory, relative to this file
//!     settings: {}                          # optional override
//!     expect:
//!       allowed: false
//!       denials: [{hook: Job/db-init, reasonContains: privileged}]  # one-to-one
//!       order: [Job/backup, Job/drain]
//!       patched: [{hook: Job/db-init, path: /spec/backoffLimit, value: 1}]  # or absent: true
//!       error: "substring"                  # the policy must fail with this
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Suite {
    pub policy: Option<String>,
    pub settings: Option<Value>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Case {
    pub name: String,
    pub event: String,
    pub manifests: String,
    pub settings: Option<Value>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Expect {
    pub allowed: Option<bool>,
    pub denials: Option<Vec<ExpectedDenial>>,
    pub order: Option<Vec<String>>,
    pub patched: Option<Vec<ExpectedPatch>>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ExpectedDenial {
    pub hook: Option<String>,
    pub reason_contains: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectedPatch {
    pub hook: String,
    pub path: String,
    /// `Some(Value::Null)` for `value: null`: a field set to null is not an absent one.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
    #[serde(default)]
    pub absent: bool,
}

/// A key that is there, whatever its value (plain `Option` would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(value).map(Some)
}

impl Suite {
    pub(super) fn read(file: &Path) -> Result<Suite, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot read the suite: {e}", file.display()))?;
        let suite: Suite = serde_saphyr::from_str(&text)
            .map_err(|e| format!("{}: not a policy test suite: {e}", file.display()))?;
        for case in &suite.cases {
            if let Some(patch) = case
                .expect
                .patched
                .iter()
                .flatten()
                .find(|p| p.absent == p.value.is_some())
            {
                return Err(format!(
                    "{}: case `{}`: each `patched` entry needs either `value` or `absent: true` (at {} {})",
                    file.display(),
                    case.name,
                    patch.hook,
                    patch.path
                ));
            }
        }
        Ok(suite)
    }
}

/// A path in a suite, relative to the suite's directory.
pub(super) fn relative_to(suite: &Path, path: &str) -> PathBuf {
    suite.parent().unwrap_or(Path::new("")).join(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `value: null` was read as a missing `value`, so a suite could not
    /// expect a field set to null (and the entry was refused as having neither).
    #[test]
    fn patched_value_null_is_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("suite.yaml");
        std::fs::write(
            &file,
            "policy: p.wasm\ncases:\n  - name: nulls\n    event: pre-install\n    manifests: hooks.yaml\n    expect:\n      patched:\n        - {hook: Job/a, path: /spec/x, value: null}\n        - {hook: Job/a, path: /spec/y, absent: true}\n",
        )
        .unwrap();
        let suite = Suite::read(&file).unwrap();
        let patched = suite.cases[0].expect.patched.as_ref().unwrap();
        assert_eq!(patched[0].value, Some(Value::Null));
        assert_eq!(patched[1].value, None);
        assert!(patched[1].absent);
    }
}
