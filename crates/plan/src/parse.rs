//! Documents → hooks, with the annotation rules of Helm's manifest sorter.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::hook::{KNOWN_DELETE_POLICIES, KNOWN_OUTPUT_LOG_POLICIES, split_annotation};
use crate::kind_order::compare_kinds;
use crate::{Document, Event, Format, Hook, Location, PlanError, parse_weight};

pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
pub const OUTPUT_LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";

/// Nesting deeper than this is refused: real manifests (even large CRD schemas) stay far
/// below it, and it keeps a hostile document from exhausting the stack.
const MAX_DEPTH: usize = 128;

/// Every hook of the input, in Helm's pre-execution order (input order, then stably by
/// kind), plus the documents Helm would drop.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub hooks: Vec<Hook>,
    pub skipped: Vec<Skipped>,
    /// Warnings about documents, whichever event is planned.
    pub warnings: Vec<String>,
    /// Per-hook warnings, parallel to `hooks`; shown only when the hook's event is planned.
    pub(crate) hook_warnings: Vec<Vec<String>>,
}

/// A document carrying `helm.sh/hook` that Helm drops without a word.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub kind: String,
    pub name: String,
    pub source: String,
    pub document: usize,
    pub reason: String,
}

/// Parses every document's head and classifies it: hook, regular resource, or dropped.
pub fn parse(documents: &[Document]) -> Result<Catalog, PlanError> {
    let mut catalog = Catalog::default();
    let mut pending: Vec<(Hook, Vec<String>)> = Vec::new();
    for document in documents {
        let at = document.location();
        let top = parse_head(document, &at)?;
        let head = match top {
            Top::Empty => continue,
            Top::NotAnObject(found) => return Err(PlanError::NotAnObject { at, found }),
            Top::Object(head) => head,
        };
        let api_version = required_string(head.api_version, "apiVersion", &at)?;
        let kind = required_string(head.kind, "kind", &at)?;
        let metadata = head.metadata.unwrap_or_default();
        let mut annotations = Vec::with_capacity(metadata.annotations.len());
        for (key, value) in metadata.annotations {
            match value {
                Scalar::Str(text) => annotations.push((key, text)),
                Scalar::Null => annotations.push((key, String::new())),
                Scalar::Other { found, raw } => {
                    return Err(PlanError::AnnotationNotString {
                        at,
                        key,
                        found,
                        raw,
                    });
                }
            }
        }
        let annotation = |key: &str| {
            annotations
                .iter()
                .rev() // the last one wins, as in a Go map filled in document order
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let Some(hook_value) = annotation(HOOK_ANNOTATION) else {
            continue; // a regular resource: not ours to plan
        };
        let name = optional_string(metadata.name, "metadata.name", &at)?;
        let mut events = Vec::new();
        let mut warnings = Vec::new();
        let mut unknown = None;
        for value in split_annotation(hook_value) {
            match Event::from_annotation_value(&value) {
                Some(event) if events.contains(&event) => warnings.push(format!(
                    "{kind}/{name} ({at}): event `{event}` is listed twice in `{HOOK_ANNOTATION}: {hook_value}`; Helm would run the hook twice, kubectl-hooks runs it once",
                    name = name.as_deref().unwrap_or("")
                )),
                Some(event) => events.push(event),
                None => {
                    unknown = Some(value);
                    break;
                }
            }
        }
        if let Some(value) = unknown {
            let name = name.unwrap_or_default();
            let reason = format!("unknown hook event {value:?}");
            catalog.warnings.push(format!(
                "{kind}/{name} ({at}): dropped: {reason} in `{HOOK_ANNOTATION}: {hook_value}`; Helm skips the whole document, so it is neither run as a hook nor applied as a resource (valid events: {})",
                Event::ALL.map(Event::as_str).join(", ")
            ));
            catalog.skipped.push(Skipped {
                kind,
                name,
                source: document.source.clone(),
                document: document.document,
                reason,
            });
            continue;
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(PlanError::MissingField {
                at,
                field: "metadata.name",
            });
        };
        let namespace = optional_string(metadata.namespace, "metadata.namespace", &at)?
            .filter(|n| !n.is_empty());
        let id = match &namespace {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        };
        let weight_raw = annotation(WEIGHT_ANNOTATION).map(str::to_owned);
        let weight = match weight_raw.as_deref() {
            None => 0,
            Some(raw) => parse_weight(raw).unwrap_or_else(|| {
                if !raw.is_empty() {
                    warnings.push(format!(
                        "{id} ({at}): weight {raw:?} is not an integer Helm can read (strconv.Atoi), so it counts as 0; write a plain integer such as \"-5\""
                    ));
                }
                0
            }),
        };
        let delete_policies = policies(
            annotation(DELETE_ANNOTATION),
            DELETE_ANNOTATION,
            &KNOWN_DELETE_POLICIES,
            &id,
            &at,
            &mut warnings,
        );
        if delete_policies.is_empty() {
            warnings.push(format!(
                "{id} ({at}): no `{DELETE_ANNOTATION}`, so Helm's default `before-hook-creation` applies"
            ));
        }
        let output_log_policies = policies(
            annotation(OUTPUT_LOG_ANNOTATION),
            OUTPUT_LOG_ANNOTATION,
            &KNOWN_OUTPUT_LOG_POLICIES,
            &id,
            &at,
            &mut warnings,
        );
        let hook = Hook {
            id,
            api_version,
            kind,
            name,
            namespace,
            weight,
            weight_raw,
            events,
            delete_policies,
            output_log_policies,
            source: document.source.clone(),
            document: document.document,
            input_position: pending.len(),
            location: at,
            text: document.text.clone(),
            format: document.format,
        };
        pending.push((hook, warnings));
    }
    // Helm's sortHooksByKind: stable, so equal kinds keep input order.
    pending.sort_by(|(a, _), (b, _)| compare_kinds(&a.kind, &b.kind));
    for (hook, warnings) in pending {
        catalog.hooks.push(hook);
        catalog.hook_warnings.push(warnings);
    }
    Ok(catalog)
}

pub(crate) fn policies(
    value: Option<&str>,
    annotation: &str,
    known: &[&str],
    id: &str,
    at: &Location,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let list: Vec<String> = split_annotation(value).collect();
    for policy in &list {
        if policy.is_empty() {
            warnings.push(format!(
                "{id} ({at}): `{annotation}: {value:?}` has an empty entry; Helm keeps it, so no default policy applies to this hook"
            ));
        } else if !known.contains(&policy.as_str()) {
            warnings.push(format!(
                "{id} ({at}): unknown `{annotation}` value {policy:?} is kept but does nothing (known: {})",
                known.join(", ")
            ));
        }
    }
    list
}

fn required_string(
    value: Option<Scalar>,
    field: &'static str,
    at: &Location,
) -> Result<String, PlanError> {
    match optional_string(value, field, at)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(PlanError::MissingField {
            at: at.clone(),
            field,
        }),
    }
}

fn optional_string(
    value: Option<Scalar>,
    field: &'static str,
    at: &Location,
) -> Result<Option<String>, PlanError> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(text)) => Ok(Some(text)),
        Some(Scalar::Other { found, .. }) => Err(PlanError::FieldNotString {
            at: at.clone(),
            field: field.to_owned(),
            found,
        }),
    }
}

pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: MAX_DEPTH },
        emit_comments: false,
        with_snippet: false,
    }
}

fn yaml_error(error: &serde_saphyr::Error, document: &Location) -> PlanError {
    let mut at = document.clone();
    let mut message = error.to_string();
    if let Some(location) = error.location() {
        if let (Some(start), Ok(line)) = (at.line, usize::try_from(location.line())) {
            if line > 0 {
                at.line = Some(start + line - 1);
            }
        }
        // The parser's own text repeats its (document-relative) position; ours is exact.
        if let Some(stripped) = message.split(" at line ").next() {
            message = stripped.to_owned();
        }
    }
    PlanError::Yaml { at, message }
}

fn json_error(error: &serde_json::Error, document: &Location) -> PlanError {
    let mut at = document.clone();
    if let Some(start) = at.line {
        at.line = Some(start + error.line().saturating_sub(1));
    }
    let message = error.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    PlanError::Json { at, message }
}

fn parse_head(document: &Document, at: &Location) -> Result<Top, PlanError> {
    match document.format {
        Format::Yaml => serde_saphyr::from_str_with_options(&document.text, yaml_options())
            .map_err(|e| yaml_error(&e, at)),
        Format::Json => serde_json::from_str(&document.text).map_err(|e| json_error(&e, at)),
    }
}

/// The whole document as JSON, for policies and the executor.
pub(crate) fn document_to_json(
    text: &str,
    format: Format,
    at: &Location,
) -> Result<serde_json::Value, PlanError> {
    match format {
        Format::Yaml => serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| yaml_error(&e, at)),
        Format::Json => serde_json::from_str(text).map_err(|e| json_error(&e, at)),
    }
}

/// What a document is at the top: nothing (comments only), an object, or something else.
enum Top {
    Empty,
    NotAnObject(&'static str),
    Object(Head),
}

#[derive(Default)]
struct Head {
    api_version: Option<Scalar>,
    kind: Option<Scalar>,
    metadata: Option<Metadata>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Metadata {
    name: Option<Scalar>,
    namespace: Option<Scalar>,
    #[serde(deserialize_with = "annotations")]
    annotations: Vec<(String, Scalar)>,
}

/// A field the planner reads, typed loosely so that a number where a string belongs is
/// reported with the fix instead of failing inside the parser.
enum Scalar {
    Str(String),
    Null,
    Other { found: &'static str, raw: String },
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = Top;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes object")
            }
            fn visit_unit<E>(self) -> Result<Top, E> {
                Ok(Top::Empty)
            }
            fn visit_none<E>(self) -> Result<Top, E> {
                Ok(Top::Empty)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
                Ok(Top::NotAnObject("a boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
                Ok(Top::NotAnObject("a number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
                Ok(Top::NotAnObject("a number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
                Ok(Top::NotAnObject("a number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Top, E> {
                Ok(Top::NotAnObject("a string"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Top::NotAnObject("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
                let mut head = Head::default();
                while let Some(key) = map.next_key::<KeyName>()? {
                    match key {
                        KeyName::ApiVersion => head.api_version = Some(map.next_value()?),
                        KeyName::Kind => head.kind = Some(map.next_value()?),
                        KeyName::Metadata => {
                            head.metadata = map.next_value::<Option<Metadata>>()?;
                        }
                        KeyName::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Top::Object(head))
            }
        }
        deserializer.deserialize_any(TopVisitor)
    }
}

enum KeyName {
    ApiVersion,
    Kind,
    Metadata,
    Other,
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyName, E> {
                Ok(match v {
                    "apiVersion" => KeyName::ApiVersion,
                    "kind" => KeyName::Kind,
                    "metadata" => KeyName::Metadata,
                    _ => KeyName::Other,
                })
            }
            fn visit_bool<E>(self, _: bool) -> Result<KeyName, E> {
                Ok(KeyName::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<KeyName, E> {
                Ok(KeyName::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<KeyName, E> {
                Ok(KeyName::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<KeyName, E> {
                Ok(KeyName::Other)
            }
            fn visit_unit<E>(self) -> Result<KeyName, E> {
                Ok(KeyName::Other)
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Other {
                    found: "a boolean",
                    raw: v.to_string(),
                })
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Other {
                    found: "a number",
                    raw: v.to_string(),
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Other {
                    found: "a number",
                    raw: v.to_string(),
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Other {
                    found: "a number",
                    raw: v.to_string(),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other {
                    found: "a list",
                    raw: "…".into(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other {
                    found: "a mapping",
                    raw: "…".into(),
                })
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

fn annotations<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, Scalar)>, D::Error> {
    struct AnnotationsVisitor;
    impl<'de> Visitor<'de> for AnnotationsVisitor {
        type Value = Vec<(String, Scalar)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of annotation names to string values")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, Scalar>()? {
                entries.push((key, value));
            }
            Ok(entries)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom(
                "`metadata.annotations` must be a mapping, not a list",
            ))
        }
    }
    deserializer.deserialize_any(AnnotationsVisitor)
}
