//! Reading `tests.yaml`: the raw YAML shape, then typed cases with every path resolved
//! against the suite's directory and every setting merged.

use std::path::{Path, PathBuf};

use hooks_plan::{Event, Input, LoadOptions, Ordering, Plan, PlanError};
use serde::Deserialize;
use serde_json::Value;

use crate::SuiteError;

/// A parsed suite: the component it tests (if it names one) and its cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub file: PathBuf,
    /// The suite's `policy`, resolved against its directory.
    pub policy: Option<PathBuf>,
    pub cases: Vec<Case>,
}

/// One case, ready to run: the event, the manifests' path, and the settings the policy
/// gets (the case's, else the suite's, else `{}`, with `regoFile` read in).
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    pub event: Event,
    pub manifests: PathBuf,
    pub settings: Value,
    pub expect: Expect,
}

/// What a case expects; `None` (or empty `patched`) is not checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    pub allowed: Option<bool>,
    pub denials: Option<Vec<ExpectedDenial>>,
    pub order: Option<Vec<String>>,
    pub patched: Vec<ExpectedField>,
    /// The policy must fail with an error containing this; nothing else is checked.
    pub error: Option<String>,
}

/// One expected denial: on `hook`, or on the event as a whole when `hook` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedDenial {
    pub hook: Option<String>,
    pub reason_contains: Option<String>,
}

/// A field of a final manifest, by JSON pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedField {
    pub hook: String,
    pub path: String,
    pub expect: FieldExpectation,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpectation {
    /// `value: X`; `value: null` expects a field that is there and null.
    Equals(Value),
    /// `absent: true`.
    Absent,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSuite {
    policy: Option<String>,
    settings: Option<Value>,
    rego_file: Option<String>,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCase {
    name: String,
    event: String,
    manifests: String,
    settings: Option<Value>,
    rego_file: Option<String>,
    #[serde(default)]
    expect: RawExpect,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    allowed: Option<bool>,
    denials: Option<Vec<RawDenial>>,
    order: Option<Vec<String>>,
    patched: Option<Vec<RawField>>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDenial {
    hook: Option<String>,
    reason_contains: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    hook: String,
    path: String,
    /// `Some(Value::Null)` for `value: null`: a key that is there, whatever its value.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default)]
    absent: bool,
}

/// A plain `Option<Value>` reads `value: null` as a missing key.
fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(value).map(Some)
}

impl Suite {
    pub fn read(file: &Path) -> Result<Suite, SuiteError> {
        let text = std::fs::read_to_string(file).map_err(|source| SuiteError::Read {
            file: file.to_owned(),
            source,
        })?;
        Suite::parse(file, &text)
    }

    /// Parses `text` as if read from `file` (paths in it are relative to its directory).
    pub fn parse(file: &Path, text: &str) -> Result<Suite, SuiteError> {
        let raw: RawSuite = serde_saphyr::from_str(text).map_err(|e| SuiteError::Format {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let dir = file.parent().unwrap_or(Path::new(""));
        let suite_rego = raw
            .rego_file
            .as_deref()
            .map(|path| read_rego(file, dir, path))
            .transpose()?;
        let cases = raw
            .cases
            .into_iter()
            .map(|case| {
                let case_error = |message: String| SuiteError::Case {
                    file: file.to_owned(),
                    case: case.name.clone(),
                    message,
                };
                let event = case
                    .event
                    .parse::<Event>()
                    .map_err(|e| case_error(format!("{e}; use one of: {}", event_names())))?;
                // A case's own settings (`settings`, `regoFile` or both) replace the
                // suite's as a whole: a case with an inline Rego policy does not clash
                // with the suite's Rego file.
                let (given, rego) = if case.settings.is_some() || case.rego_file.is_some() {
                    let rego = match &case.rego_file {
                        Some(path) => Some(read_rego(file, dir, path)?),
                        None => None,
                    };
                    (case.settings.as_ref(), rego)
                } else {
                    (raw.settings.as_ref(), suite_rego.clone())
                };
                let settings = settings(given, rego).map_err(case_error)?;
                let expect = expect(case.expect).map_err(case_error)?;
                Ok(Case {
                    event,
                    manifests: dir.join(&case.manifests),
                    settings,
                    expect,
                    name: case.name,
                })
            })
            .collect::<Result<Vec<_>, SuiteError>>()?;
        Ok(Suite {
            file: file.to_owned(),
            policy: raw.policy.map(|p| dir.join(p)),
            cases,
        })
    }
}

impl Case {
    /// The case's manifests planned for its event exactly as `kubectl hooks plan` plans
    /// them (Helm's order): what the policy is given.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        hooks_plan::plan_inputs(
            &[Input::Path(self.manifests.clone())],
            &LoadOptions::default(),
            self.event,
            Ordering::Helm,
        )
    }
}

fn event_names() -> String {
    Event::ALL.map(|e| e.as_str()).join(", ")
}

fn read_rego(file: &Path, dir: &Path, path: &str) -> Result<String, SuiteError> {
    let rego = dir.join(path);
    std::fs::read_to_string(&rego).map_err(|source| SuiteError::RegoFile {
        file: file.to_owned(),
        rego,
        source,
    })
}

/// The settings a case's policy gets. A Rego file becomes `settings.policy`, the way
/// the policy configuration's `regoFile` does.
fn settings(given: Option<&Value>, rego: Option<String>) -> Result<Value, String> {
    let mut settings = given
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(rego) = rego {
        let Value::Object(map) = &mut settings else {
            return Err("`regoFile` needs `settings` to be a mapping".into());
        };
        if map.contains_key("policy") {
            return Err(
                "give the Rego policy either as `regoFile` or as `settings.policy`, not both"
                    .into(),
            );
        }
        map.insert("policy".into(), Value::String(rego));
    }
    Ok(settings)
}

fn expect(raw: RawExpect) -> Result<Expect, String> {
    let patched = raw
        .patched
        .unwrap_or_default()
        .into_iter()
        .map(|field| {
            let expect = match (field.value, field.absent) {
                (Some(value), false) => FieldExpectation::Equals(value),
                (None, true) => FieldExpectation::Absent,
                _ => {
                    return Err(format!(
                        "each `patched` entry needs either `value` or `absent: true` (at {} {})",
                        field.hook, field.path
                    ));
                }
            };
            Ok(ExpectedField {
                hook: field.hook,
                path: field.path,
                expect,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Expect {
        allowed: raw.allowed,
        denials: raw.denials.map(|denials| {
            denials
                .into_iter()
                .map(|d| ExpectedDenial {
                    hook: d.hook,
                    reason_contains: d.reason_contains,
                })
                .collect()
        }),
        order: raw.order,
        patched,
        error: raw.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Suite, SuiteError> {
        Suite::parse(Path::new("/suites/tests.yaml"), text)
    }

    /// Regression (the CLI's and the SDK's copies disagreed): `value: null` was read as a
    /// missing `value` by one of them, so a suite could not expect a field set to null.
    #[test]
    fn regression_value_null_expects_null_not_absent() {
        let suite = parse(
            "cases:\n  - name: nulls\n    event: pre-install\n    manifests: hooks.yaml\n    expect:\n      patched:\n        - {hook: Job/a, path: /spec/x, value: null}\n        - {hook: Job/a, path: /spec/y, absent: true}\n",
        )
        .unwrap();
        let patched = &suite.cases[0].expect.patched;
        assert_eq!(patched[0].expect, FieldExpectation::Equals(Value::Null));
        assert_eq!(patched[1].expect, FieldExpectation::Absent);
    }

    #[test]
    fn a_patched_entry_needs_exactly_one_of_value_and_absent() {
        for entry in [
            "{hook: Job/a, path: /x}",
            "{hook: Job/a, path: /x, value: 1, absent: true}",
        ] {
            let err = parse(&format!(
                "cases:\n  - name: c\n    event: test\n    manifests: m.yaml\n    expect: {{patched: [{entry}]}}\n"
            ))
            .unwrap_err();
            assert!(
                err.to_string()
                    .contains("case `c`: each `patched` entry needs either"),
                "{err}"
            );
        }
    }

    #[test]
    fn paths_resolve_against_the_suite_and_settings_fall_back() {
        let suite = parse(
            "policy: ../p.wasm\nsettings: {a: 1}\ncases:\n  - {name: one, event: Test-Success, manifests: m.yaml}\n  - {name: two, event: pre-delete, manifests: d/, settings: {b: 2}}\n",
        )
        .unwrap();
        assert_eq!(suite.policy, Some(PathBuf::from("/suites/../p.wasm")));
        assert_eq!(suite.cases[0].event, Event::Test);
        assert_eq!(suite.cases[0].manifests, PathBuf::from("/suites/m.yaml"));
        assert_eq!(suite.cases[0].settings, serde_json::json!({"a": 1}));
        assert_eq!(suite.cases[1].settings, serde_json::json!({"b": 2}));
    }

    #[test]
    fn an_unknown_event_names_the_case() {
        let err =
            parse("cases:\n  - {name: typo, event: pre-instal, manifests: m.yaml}\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("case `typo`"), "{text}");
        assert!(text.contains("pre-install, post-install"), "{text}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = parse(
            "cases:\n  - {name: c, event: test, manifests: m.yaml, expect: {denied: true}}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("denied"), "{err}");
    }

    #[test]
    fn rego_file_becomes_settings_policy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.rego"), "package kubectl_hooks\n").unwrap();
        let file = dir.path().join("tests.yaml");
        let suite = Suite::parse(
            &file,
            "regoFile: p.rego\nsettings: {data: {x: 1}}\ncases:\n  - {name: c, event: test, manifests: m.yaml}\n",
        )
        .unwrap();
        assert_eq!(
            suite.cases[0].settings,
            serde_json::json!({"data": {"x": 1}, "policy": "package kubectl_hooks\n"})
        );

        let inline = Suite::parse(
            &file,
            "regoFile: p.rego\ncases:\n  - {name: c, event: test, manifests: m.yaml, settings: {policy: x}}\n",
        )
        .unwrap();
        assert_eq!(inline.cases[0].settings, serde_json::json!({"policy": "x"}));

        let both = Suite::parse(
            &file,
            "cases:\n  - {name: c, event: test, manifests: m.yaml, regoFile: p.rego, settings: {policy: x}}\n",
        )
        .unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");

        let missing = Suite::parse(
            &file,
            "regoFile: nope.rego\ncases:\n  - {name: c, event: test, manifests: m.yaml}\n",
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("cannot read the Rego file"),
            "{missing}"
        );
    }
}
