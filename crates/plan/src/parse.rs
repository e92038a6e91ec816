//! Documents → hooks, with the annotation rules of Helm's manifest sorter.

use serde::Serialize;

use crate::hook::{KNOWN_DELETE_POLICIES, KNOWN_OUTPUT_LOG_POLICIES, split_annotation};
use crate::kind_order::compare_kinds;
use crate::yaml::{self, Scalar, Top, YamlError, YamlErrorKind};
use crate::{Document, Event, Format, Hook, Location, PlanError, TIMEOUT_ANNOTATION, parse_weight};

pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
pub const OUTPUT_LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";

/// Every hook of the input, in Helm's pre-execution order (input order, then stably by
/// kind), plus the documents Helm would drop.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub hooks: Vec<Hook>,
    pub skipped: Vec<Skipped>,
    /// Warnings about documents, whichever event is planned.
    pub warnings: Vec<String>,
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

/// How much of each hook document planning reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reading {
    /// The head (`apiVersion`, `kind`, `metadata`) only, which is all planning needs.
    #[default]
    Heads,
    /// Hooks whole, converted to JSON text in the same pass, for when policies will read
    /// every hook's manifest: reading a YAML hook for its head and again for policies
    /// scanned every byte twice, and the scan is most of what a policy costs a process.
    Whole,
}

/// What one document turned out to be.
enum Classified {
    /// Empty, or a regular resource: not ours to plan.
    Ignored,
    Hook(Box<Hook>),
    Dropped(Skipped, String),
}

/// The hooks and dropped documents of a run of consecutive documents, in input order.
#[derive(Default)]
struct Classification {
    hooks: Vec<Hook>,
    dropped: Vec<(Skipped, String)>,
}

/// Parses every document's head and classifies it: hook, regular resource, or dropped.
pub fn parse(documents: &[Document]) -> Result<Catalog, PlanError> {
    parse_with(documents, Reading::Heads)
}

/// [`parse`], reading hooks as much as `reading` says: the same catalog either way, with
/// YAML hooks held as JSON text after [`Reading::Whole`].
pub fn parse_with(documents: &[Document], reading: Reading) -> Result<Catalog, PlanError> {
    let mut hooks: Vec<Hook> = Vec::new();
    let mut catalog = Catalog::default();
    for part in classify_all(documents, reading) {
        let part = part?;
        if hooks.is_empty() {
            hooks = part.hooks;
        } else {
            hooks.extend(part.hooks);
        }
        for (skipped, warning) in part.dropped {
            catalog.skipped.push(skipped);
            catalog.warnings.push(warning);
        }
    }
    for (position, hook) in hooks.iter_mut().enumerate() {
        hook.input_position = position;
    }
    // Helm's sortHooksByKind: stable, so equal kinds keep input order.
    hooks.sort_by(|a, b| compare_kinds(&a.kind, &b.kind));
    catalog.hooks = hooks;
    Ok(catalog)
}

/// Classifies every document, on all cores for large inputs: documents are independent,
/// and reading them is nearly all of planning's time. Each worker takes a contiguous run
/// of documents and stops at its first error, and runs are joined in order, so the error
/// reported is the first in the input, as in a sequential read.
fn classify_all(
    documents: &[Document],
    reading: Reading,
) -> Vec<Result<Classification, PlanError>> {
    let bytes: usize = documents.iter().map(|d| d.text.as_str().len()).sum();
    crate::par::map_chunks(documents, bytes, |run| classify_run(run, reading))
}

fn classify_run(documents: &[Document], reading: Reading) -> Result<Classification, PlanError> {
    let mut run = Classification {
        hooks: Vec::with_capacity(documents.len()),
        dropped: Vec::new(),
    };
    for document in documents {
        match classify(document, reading)? {
            Classified::Ignored => {}
            Classified::Hook(hook) => run.hooks.push(*hook),
            Classified::Dropped(skipped, warning) => run.dropped.push((skipped, warning)),
        }
    }
    Ok(run)
}

fn classify(document: &Document, reading: Reading) -> Result<Classified, PlanError> {
    let at = document.location();
    let whole = match reading {
        Reading::Whole => read_whole(document),
        Reading::Heads => None,
    };
    let (head, text, format) = match whole {
        Some((head, json)) => (head, crate::Text::new(json), Format::Json),
        None => (
            parse_head(document, &at)?,
            document.text.clone(),
            document.format,
        ),
    };
    let head = match head {
        Top::Empty => return Ok(Classified::Ignored),
        Top::NotAnObject(found) => return Err(PlanError::NotAnObject { at, found }),
        Top::Object(head) => head,
    };
    let api_version = required_string(head.api_version, "apiVersion", &at)?;
    let kind = required_string(head.kind, "kind", &at)?;
    let mut annotations = Vec::with_capacity(head.annotations.len());
    for (key, value) in head.annotations {
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
        return Ok(Classified::Ignored);
    };
    let name = optional_string(head.name, "metadata.name", &at)?;
    let mut events = Vec::new();
    let mut warnings = Vec::new();
    for value in split_annotation(hook_value) {
        match Event::from_annotation_value(&value) {
            Some(event) if events.contains(&event) => warnings.push(format!(
                "{kind}/{name} ({at}): event `{event}` is listed twice in `{HOOK_ANNOTATION}: {hook_value}`; Helm would run the hook twice, kubectl-hooks runs it once",
                name = name.as_deref().unwrap_or("")
            )),
            Some(event) => events.push(event),
            None => {
                let name = name.unwrap_or_default();
                let reason = format!("unknown hook event {value:?}");
                let warning = format!(
                    "{kind}/{name} ({at}): dropped: {reason} in `{HOOK_ANNOTATION}: {hook_value}`; Helm skips the whole document, so it is neither run as a hook nor applied as a resource (valid events: {})",
                    Event::ALL.map(Event::as_str).join(", ")
                );
                let skipped = Skipped {
                    kind,
                    name,
                    source: document.source.to_string(),
                    document: document.document,
                    reason,
                };
                return Ok(Classified::Dropped(skipped, warning));
            }
        }
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(PlanError::MissingField {
            at,
            field: "metadata.name",
        });
    };
    let namespace =
        optional_string(head.namespace, "metadata.namespace", &at)?.filter(|n| !n.is_empty());
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
    let timeout = timeout(annotation(TIMEOUT_ANNOTATION), &id, &at)?;
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
        timeout,
        source: document.source.clone(),
        document: document.document,
        input_position: 0,
        location: at,
        source_line: document.source_line,
        text,
        format,
        warnings,
    };
    Ok(Classified::Hook(Box::new(hook)))
}

/// `kubectl-hooks.dev/timeout`, when the hook has one. Bad values are the author's to
/// fix, not something to guess at: an error naming the hook.
pub(crate) fn timeout(
    value: Option<&str>,
    id: &str,
    at: &Location,
) -> Result<Option<std::time::Duration>, PlanError> {
    let Some(value) = value else {
        return Ok(None);
    };
    crate::parse_timeout(value)
        .map(Some)
        .map_err(|problem| PlanError::BadTimeout {
            at: at.clone(),
            hook: crate::escape_bounded(id, QUOTED_VALUE_BYTES),
            value: crate::escape_bounded(value, QUOTED_VALUE_BYTES),
            problem,
        })
}

/// How much of an annotation value a warning quotes, and how many unknown values it names.
const QUOTED_VALUE_BYTES: usize = 120;
const UNKNOWN_VALUES_NAMED: usize = 5;

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
    // One warning per kind of oddity, however often it occurs: the annotation may come
    // from a policy's patch, and a value of 20,000 empty entries must not become 20,000
    // warnings that each quote it.
    let shown = crate::escape_bounded(value, QUOTED_VALUE_BYTES);
    let empty = list.iter().filter(|p| p.is_empty()).count();
    if empty > 0 {
        let entries = if empty == 1 {
            "an empty entry".to_owned()
        } else {
            format!("{empty} empty entries")
        };
        warnings.push(format!(
            "{id} ({at}): `{annotation}: \"{shown}\"` has {entries}; Helm keeps them, so no default policy applies to this hook"
        ));
    }
    let mut unknown: Vec<&str> = list
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty() && !known.contains(p))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        let named: Vec<String> = unknown
            .iter()
            .take(UNKNOWN_VALUES_NAMED)
            .map(|p| format!("\"{}\"", crate::escape_bounded(p, QUOTED_VALUE_BYTES)))
            .collect();
        let more = match unknown.len().saturating_sub(UNKNOWN_VALUES_NAMED) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let (values, verb) = if unknown.len() == 1 {
            ("value", "is kept but does nothing")
        } else {
            ("values", "are kept but do nothing")
        };
        warnings.push(format!(
            "{id} ({at}): unknown `{annotation}` {values} {}{more} {verb} (known: {})",
            named.join(", "),
            known.join(", ")
        ));
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

fn yaml_error(error: YamlError, document: &Location) -> PlanError {
    let mut at = document.clone();
    if let Some(start) = at.line {
        at.line = Some(start + error.line.saturating_sub(1));
    }
    match error.kind {
        YamlErrorKind::TooDeep | YamlErrorKind::TooManyNodes => PlanError::TooComplex {
            at,
            what: error.message,
        },
        YamlErrorKind::Syntax | YamlErrorKind::NotJson => PlanError::Yaml {
            at,
            message: error.message,
        },
    }
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
        Format::Yaml => yaml::head(document.text.as_str()).map_err(|e| yaml_error(e, at)),
        Format::Json => {
            let value: serde_json::Value =
                serde_json::from_str(document.text.as_str()).map_err(|e| json_error(&e, at))?;
            Ok(yaml::head_from_json(value))
        }
    }
}

/// A YAML hook document read whole: its head and its JSON text, in one scan. `None` where
/// the head is not the plain case (no `helm.sh/hook` in the text, an empty document, a
/// field of the wrong type, `null` where a string belongs): the head is then read from
/// the YAML, as [`Reading::Heads`] reads it, so every message is the same either way;
/// so is a document that does not convert.
fn read_whole(document: &Document) -> Option<(Top, String)> {
    // A document that does not spell the annotation is not a hook: its head is all that
    // is read of it. (One that escapes it, `helm.sh\x2fhook`, is read as a hook by the
    // head path, and its manifest converted when a policy asks.)
    if document.format != Format::Yaml || !document.text.as_str().contains(HOOK_ANNOTATION) {
        return None;
    }
    // A document that does not convert is read the way heads are, so its error (or none,
    // where the head reads and the body is broken) is the same as with `Reading::Heads`.
    let Ok(Some(json)) = yaml::to_json_text(document.text.as_str()) else {
        return None;
    };
    yaml::plain_head_from_json_text(&json).map(|head| (Top::Object(head), json))
}

/// The whole document as JSON text, for policies: written as it is read, not printed from
/// a value (JSON documents are their own text).
pub(crate) fn document_to_json_text<'a>(
    text: &'a str,
    format: Format,
    at: &Location,
) -> Result<std::borrow::Cow<'a, str>, PlanError> {
    match format {
        Format::Json => Ok(std::borrow::Cow::Borrowed(text)),
        Format::Yaml => yaml::to_json_text(text)
            .map_err(|e| yaml_error(e, at))?
            .map(std::borrow::Cow::Owned)
            .ok_or_else(|| PlanError::NotAnObject {
                at: at.clone(),
                found: "empty",
            }),
    }
}

/// The whole document as JSON, for policies and the executor.
pub(crate) fn document_to_json(
    text: &str,
    format: Format,
    at: &Location,
) -> Result<serde_json::Value, PlanError> {
    let value = match format {
        Format::Yaml => yaml::to_json(text).map_err(|e| yaml_error(e, at))?,
        Format::Json => Some(serde_json::from_str(text).map_err(|e| json_error(&e, at))?),
    };
    value.ok_or_else(|| PlanError::NotAnObject {
        at: at.clone(),
        found: "empty",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, LoadOptions};

    fn documents(yaml: &str) -> Vec<Document> {
        let input = Input::Text {
            name: "t.yaml".into(),
            content: yaml.into(),
        };
        crate::load(&[input], &LoadOptions::default()).unwrap()
    }

    const HOOK: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: a\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"-1\"\nspec: {x: 0755}\n";

    #[test]
    fn reading_whole_holds_a_plain_hook_as_json_text_read_once() {
        let catalog = parse_with(&documents(HOOK), Reading::Whole).unwrap();
        let hook = &catalog.hooks[0];
        assert_eq!((hook.format, hook.weight), (Format::Json, -1));
        assert_eq!(
            hook.text.as_str(),
            r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a","annotations":{"helm.sh/hook":"pre-install","helm.sh/hook-weight":"-1"}},"spec":{"x":493}}"#
        );
        // Reading heads keeps the YAML.
        let heads = parse(&documents(HOOK)).unwrap();
        assert_eq!(heads.hooks[0].format, Format::Yaml);
    }

    #[test]
    fn reading_whole_reads_an_irregular_head_as_heads_are_read() {
        // An unquoted weight is an error whose message quotes the YAML as written.
        let yaml = HOOK.replace("\"-1\"", "-1");
        let heads = parse(&documents(&yaml)).unwrap_err().to_string();
        let whole = parse_with(&documents(&yaml), Reading::Whole)
            .unwrap_err()
            .to_string();
        assert_eq!(heads, whole);
        // A broken body under a good head: the same error, with its line.
        let broken = HOOK.replace("{x: 0755}", "{x: [1, 2}");
        let heads = parse(&documents(&broken)).unwrap_err().to_string();
        let whole = parse_with(&documents(&broken), Reading::Whole)
            .unwrap_err()
            .to_string();
        assert_eq!(heads, whole);
        assert!(heads.contains("line 8"), "{heads}");
    }
}
