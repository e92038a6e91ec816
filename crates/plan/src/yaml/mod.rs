//! YAML the way kubectl reads manifests, on saphyr-parser's event stream.
//!
//! Three readers share one resolver:
//! - [`head`] walks a document's events and keeps only what planning needs (apiVersion,
//!   kind, metadata.name/namespace/annotations), skipping everything else without building
//!   values, so planning costs little more than tokenising;
//! - [`to_json`] builds the whole document as JSON for policies and the API server;
//! - [`json_text::to_json_text`] writes the document as JSON text as it reads it, without
//!   building values, for what only needs the text (policies get manifests as JSON text),
//!   and falls back to [`to_json`] for what needs values (anchors, merges, repeated keys).
//!
//! Plain scalars resolve like go-yaml v2, which kubectl and Helm use (through
//! sigs.k8s.io/yaml): `yes`/`no`/`on`/`off` are booleans, `0755` is octal 493, `1_000`
//! is 1000. A YAML 1.2 library would read `defaultMode: 0755` as 755, which the API
//! server rejects. Aliases are expanded with a node budget (alias bombs), nesting is
//! capped (stack safety); both are errors, never a crash.

use std::borrow::Cow;
use std::collections::HashMap;

mod json_text;

pub(crate) use json_text::to_json_text;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};
use serde_json::{Map, Number, Value};

/// Deeper than any real manifest (CRD schemas included) and shallow enough for any stack.
pub(crate) const MAX_DEPTH: usize = 128;
/// Nodes one document may expand to, aliases included: real manifests are far smaller.
pub(crate) const MAX_NODES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum YamlErrorKind {
    Syntax,
    TooDeep,
    TooManyNodes,
    NotJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub kind: YamlErrorKind,
    /// 1-based, relative to the text given.
    pub line: usize,
    pub message: String,
}

/// What the planner reads of a document.
pub(crate) enum Top {
    Empty,
    NotAnObject(&'static str),
    Object(Head),
}

#[derive(Default)]
pub(crate) struct Head {
    pub api_version: Option<Scalar>,
    pub kind: Option<Scalar>,
    pub name: Option<Scalar>,
    pub namespace: Option<Scalar>,
    pub annotations: Vec<(String, Scalar)>,
}

/// A field typed loosely so a number where a string belongs is reported with its fix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Null,
    Other { found: &'static str, raw: String },
}

impl Scalar {
    fn from_value(value: &Value, raw: &str) -> Scalar {
        match value {
            Value::String(s) => Scalar::Str(s.clone()),
            Value::Null => Scalar::Null,
            Value::Bool(_) => Scalar::Other {
                found: "a boolean",
                raw: raw.to_owned(),
            },
            Value::Number(_) => Scalar::Other {
                found: "a number",
                raw: raw.to_owned(),
            },
            Value::Array(_) => Scalar::Other {
                found: "a list",
                raw: "…".into(),
            },
            Value::Object(_) => Scalar::Other {
                found: "a mapping",
                raw: "…".into(),
            },
        }
    }
}

/// Reads the head of one document. Falls back to the full reader when the head uses
/// aliases or merge keys, which the fast walk does not follow.
pub(crate) fn head(text: &str) -> Result<Top, YamlError> {
    match HeadWalker::new(text).walk() {
        Ok(Some(top)) => Ok(top),
        Ok(None) => Ok(head_from_value(to_json(text)?)),
        Err(e) => Err(e),
    }
}

/// The head of a document that was parsed whole (JSON input, or the YAML fallback).
/// The head of a JSON object whose head fields are all strings (`namespace` may be
/// absent): the common case, read without building the document. `None` for anything
/// else, which the caller reads the slow way for its exact message.
pub(crate) fn plain_head_from_json_text(json: &str) -> Option<Head> {
    use std::collections::BTreeMap;

    #[derive(serde::Deserialize)]
    struct Plain<'a> {
        #[serde(rename = "apiVersion", borrow)]
        api_version: Cow<'a, str>,
        #[serde(borrow)]
        kind: Cow<'a, str>,
        #[serde(borrow)]
        metadata: Metadata<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(borrow, default)]
        namespace: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        annotations: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    }
    // The writer emits each key once (a document with a duplicate key is written from
    // its last-wins value), so a map loses nothing here.
    let plain: Plain<'_> = serde_json::from_str(json).ok()?;
    let string = |s: Cow<'_, str>| Scalar::Str(s.into_owned());
    Some(Head {
        api_version: Some(string(plain.api_version)),
        kind: Some(string(plain.kind)),
        name: Some(string(plain.metadata.name)),
        namespace: plain.metadata.namespace.map(string),
        annotations: plain
            .metadata
            .annotations
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.into_owned(), string(v)))
            .collect(),
    })
}

pub(crate) fn head_from_json(value: Value) -> Top {
    head_from_value(Some(value))
}

fn head_from_value(value: Option<Value>) -> Top {
    let Some(value) = value else {
        return Top::Empty;
    };
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Top::Empty,
        other => return Top::NotAnObject(describe(&other)),
    };
    let scalar = |v: Option<&Value>| v.map(|v| Scalar::from_value(v, &raw_text(v)));
    let metadata = map.get("metadata");
    let field = |name: &str| scalar(metadata.and_then(|m| m.get(name)));
    let annotations = metadata
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.clone(), Scalar::from_value(v, &raw_text(v))))
                .collect()
        })
        .unwrap_or_default();
    Top::Object(Head {
        api_version: scalar(map.get("apiVersion")),
        kind: scalar(map.get("kind")),
        name: field("name"),
        namespace: field("namespace"),
        annotations,
    })
}

fn raw_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The whole document as JSON; `None` for a document with no content.
pub(crate) fn to_json(text: &str) -> Result<Option<Value>, YamlError> {
    let mut reader = Reader::new(text);
    reader
        .expect_document_start()?
        .map_or(Ok(None), |(event, span)| {
            let value = reader.node(event, span, 0)?;
            reader.expect_end()?;
            Ok(Some(value))
        })
}

struct Events<'a> {
    parser: Parser<'a, StrInput<'a>>,
    last_line: usize,
}

impl<'a> Events<'a> {
    fn new(text: &'a str) -> Self {
        Events {
            parser: Parser::new_from_str(text),
            last_line: 1,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next() {
            Some(Ok((event, span))) => {
                self.last_line = span.start.line();
                Ok((event, span))
            }
            // The scanner caps flow nesting itself; report it like our own depth cap.
            Some(Err(e)) if e.info().contains("recursion limit") => Err(YamlError {
                kind: YamlErrorKind::TooDeep,
                line: e.marker().line(),
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            }),
            Some(Err(e)) => Err(YamlError {
                kind: YamlErrorKind::Syntax,
                line: e.marker().line(),
                message: e.info().to_owned(),
            }),
            None => Err(self.error(YamlErrorKind::Syntax, "unexpected end of input".into())),
        }
    }

    fn error(&self, kind: YamlErrorKind, message: String) -> YamlError {
        YamlError {
            kind,
            line: self.last_line,
            message,
        }
    }

    /// Skips to the first event of the document's root node; `None` if it has none.
    fn document_start(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::Nothing | Event::DocumentStart(_) => continue,
                Event::StreamEnd => return Ok(None),
                Event::DocumentEnd => continue,
                other => return Ok(Some((other, span))),
            }
        }
    }

    /// After the root node: only the end of the document and of the stream may follow.
    fn end(&mut self) -> Result<(), YamlError> {
        loop {
            let (event, _) = self.next()?;
            match event {
                Event::DocumentEnd | Event::Nothing => continue,
                Event::StreamEnd => return Ok(()),
                _ => {
                    return Err(self.error(
                        YamlErrorKind::Syntax,
                        "a second document without a `---` line before it".into(),
                    ));
                }
            }
        }
    }
}

struct Reader<'a> {
    events: Events<'a>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            events: Events::new(text),
            anchors: HashMap::new(),
            nodes: 0,
        }
    }

    fn expect_document_start(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        self.events.document_start()
    }

    fn expect_end(&mut self) -> Result<(), YamlError> {
        self.events.end()
    }

    fn count(&mut self, nodes: usize) -> Result<(), YamlError> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(self.events.error(
                YamlErrorKind::TooManyNodes,
                format!("the document expands to more than {MAX_NODES} nodes (a YAML alias bomb?)"),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, _span: Span, depth: usize) -> Result<Value, YamlError> {
        if depth > MAX_DEPTH {
            return Err(self.events.error(
                YamlErrorKind::TooDeep,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let start = self.nodes;
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1)?;
                (
                    resolve(&text, style, tag.as_deref())
                        .map_err(|m| self.events.error(YamlErrorKind::NotJson, m))?,
                    anchor,
                )
            }
            Event::Alias(id) => {
                let Some((value, nodes)) = self.anchors.get(&id).cloned() else {
                    return Err(self
                        .events
                        .error(YamlErrorKind::Syntax, "alias to an unknown anchor".into()));
                };
                self.count(nodes)?;
                return Ok(value);
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.events.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.count(1)?;
                (Value::Object(self.mapping(depth)?), anchor)
            }
            _ => {
                return Err(self
                    .events
                    .error(YamlErrorKind::Syntax, "unexpected YAML event".into()));
            }
        };
        if anchor != 0 {
            let nodes = self.nodes - start;
            self.anchors.insert(anchor, (value.clone(), nodes));
        }
        Ok(value)
    }

    fn mapping(&mut self, depth: usize) -> Result<Map<String, Value>, YamlError> {
        let mut map = Map::new();
        let mut merges: Vec<Value> = Vec::new();
        loop {
            let (event, span) = self.events.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(k, ScalarStyle::Plain, _, None) if k == "<<");
            let key = self.node(event, span, depth + 1)?;
            let (event, span) = self.events.next()?;
            let value = self.node(event, span, depth + 1)?;
            if is_merge {
                merges.push(value);
                continue;
            }
            let key = match key {
                Value::String(s) => s,
                Value::Null => "null".into(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(self.events.error(
                        YamlErrorKind::NotJson,
                        "a mapping key is a list or a mapping, which JSON cannot represent".into(),
                    ));
                }
            };
            map.insert(key, value);
        }
        // go-yaml merges `<<` so that explicit keys win wherever they appear, and earlier
        // maps of a merge list win over later ones.
        for merge in merges {
            let maps = match merge {
                Value::Object(m) => vec![m],
                Value::Array(items) => items
                    .into_iter()
                    .map(|i| match i {
                        Value::Object(m) => Ok(m),
                        _ => Err(()),
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|()| {
                        self.events
                            .error(YamlErrorKind::Syntax, "`<<` must merge mappings".into())
                    })?,
                _ => {
                    return Err(self
                        .events
                        .error(YamlErrorKind::Syntax, "`<<` must merge mappings".into()));
                }
            };
            for m in maps {
                for (k, v) in m {
                    map.entry(k).or_insert(v);
                }
            }
        }
        Ok(map)
    }
}

fn is_core_tag(tag: &Tag) -> bool {
    tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:"
}

/// A scalar as go-yaml v2 would decode it into `interface{}`, then as sigs.k8s.io/yaml
/// would write it as JSON.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag.filter(|t| is_core_tag(t)) {
        match tag.suffix.as_str() {
            "str" | "binary" | "timestamp" => return Ok(Value::String(text.to_string())),
            "null" => return Ok(Value::Null),
            _ => return resolve_plain(text),
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    resolve_plain(text)
}

pub(crate) fn resolve_plain(text: &str) -> Result<Value, String> {
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            Value::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => {
            return Err(format!(
                "`{text}` is not a number JSON can carry; quote it if it is text"
            ));
        }
        _ => {
            let first = text.as_bytes()[0];
            if (first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.'))
                && let Some(number) = number(text)
            {
                return Ok(Value::Number(number));
            }
            Value::String(text.to_owned())
        }
    })
}

/// Go's `strconv.ParseInt(s, 0, 64)` (then ParseUint, then ParseFloat on YAML's float
/// syntax), after removing underscores as go-yaml v2 does.
fn number(text: &str) -> Option<Number> {
    let plain: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    let (negative, digits) = match plain.as_bytes()[0] {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, &plain[..]),
    };
    let lower = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body) = match lower.as_deref() {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        _ => (10, digits),
    };
    if !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(magnitude) = u64::from_str_radix(body, radix)
    {
        if !negative {
            return Some(Number::from(magnitude));
        }
        if let Some(v) = 0i64.checked_sub_unsigned(magnitude) {
            return Some(Number::from(v));
        }
    }
    if is_yaml_float(&plain) {
        let v: f64 = plain.parse().ok()?;
        // sigs.k8s.io/yaml writes integral floats without a fraction.
        if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
            return Some(Number::from(v as i64));
        }
        return Number::from_f64(v);
    }
    None
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The fast walk. `Ok(None)` asks for the full reader (aliases or merges in the head).
struct HeadWalker<'a> {
    events: Events<'a>,
    /// Nodes seen so far, aliases counted at their expanded size, so an alias bomb is
    /// refused here without ever being expanded.
    nodes: usize,
    anchors: HashMap<usize, usize>,
    /// Open collections: their anchor and the node count when they opened.
    open: Vec<(usize, usize)>,
    /// Whether `metadata` and `metadata.annotations` were read: a second one replaces
    /// the first whole in Helm's reader (go-yaml: the last key wins), which the full
    /// reader does exactly.
    read_metadata: bool,
    read_annotations: bool,
}

enum Wanted {
    Top,
    Metadata,
    Annotations,
}

impl<'a> HeadWalker<'a> {
    fn new(text: &'a str) -> Self {
        HeadWalker {
            events: Events::new(text),
            nodes: 0,
            anchors: HashMap::new(),
            open: Vec::new(),
            read_metadata: false,
            read_annotations: false,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        let (event, span) = self.events.next()?;
        match &event {
            Event::Scalar(_, _, anchor, _) => {
                self.count(1)?;
                if *anchor != 0 {
                    self.anchors.insert(*anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.count(1)?;
                self.open.push((*anchor, self.nodes - 1));
                if self.open.len() > MAX_DEPTH {
                    return Err(self.events.error(
                        YamlErrorKind::TooDeep,
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = self.open.pop()
                    && anchor != 0
                {
                    self.anchors.insert(anchor, self.nodes - start);
                }
            }
            Event::Alias(id) => {
                let size = self.anchors.get(id).copied().unwrap_or(1);
                self.count(size)?;
            }
            _ => {}
        }
        Ok((event, span))
    }

    fn count(&mut self, nodes: usize) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            return Err(self.events.error(
                YamlErrorKind::TooManyNodes,
                format!("the document expands to more than {MAX_NODES} nodes (a YAML alias bomb?)"),
            ));
        }
        Ok(())
    }

    fn walk(mut self) -> Result<Option<Top>, YamlError> {
        let Some((event, _)) = self.document_start()? else {
            return Ok(Some(Top::Empty));
        };
        let top = match event {
            Event::MappingStart(_, _) => {
                let mut head = Head::default();
                if !self.mapping(Wanted::Top, &mut head)? {
                    return Ok(None);
                }
                Top::Object(head)
            }
            Event::Scalar(text, style, _, tag) => {
                match resolve(&text, style, tag.as_deref()).unwrap_or(Value::Null) {
                    Value::Null => Top::Empty,
                    other => Top::NotAnObject(describe(&other)),
                }
            }
            Event::SequenceStart(_, _) => {
                self.skip_rest(1)?;
                Top::NotAnObject("a list")
            }
            _ => return Ok(None),
        };
        self.end()?;
        Ok(Some(top))
    }

    fn document_start(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart
                | Event::Nothing
                | Event::DocumentStart(_)
                | Event::DocumentEnd => {}
                Event::StreamEnd => return Ok(None),
                other => return Ok(Some((other, span))),
            }
        }
    }

    fn end(&mut self) -> Result<(), YamlError> {
        loop {
            let (event, _) = self.next()?;
            match event {
                Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(()),
                _ => {
                    return Err(self.events.error(
                        YamlErrorKind::Syntax,
                        "a second document without a `---` line before it".into(),
                    ));
                }
            }
        }
    }

    /// Walks a mapping, recording the wanted fields; `false` means "fall back".
    fn mapping(&mut self, wanted: Wanted, head: &mut Head) -> Result<bool, YamlError> {
        loop {
            let (event, _) = self.next()?;
            let key = match event {
                Event::MappingEnd => return Ok(true),
                Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<" => {
                    return Ok(false);
                }
                Event::Scalar(text, _, _, _) => text,
                Event::Alias(_) => return Ok(false),
                Event::MappingStart(_, _) | Event::SequenceStart(_, _) => {
                    // A complex key: not one of ours; skip it and its value.
                    self.skip_rest(1)?;
                    let (value, _) = self.next()?;
                    self.skip(value)?;
                    continue;
                }
                _ => return Ok(false),
            };
            let (value, _) = self.next()?;
            let slot: Option<&mut Option<Scalar>> = match (&wanted, key.as_ref()) {
                (Wanted::Top, "apiVersion") => Some(&mut head.api_version),
                (Wanted::Top, "kind") => Some(&mut head.kind),
                (Wanted::Metadata, "name") => Some(&mut head.name),
                (Wanted::Metadata, "namespace") => Some(&mut head.namespace),
                _ => None,
            };
            if let Some(slot) = slot {
                match self.scalar(value)? {
                    Some(scalar) => *slot = Some(scalar),
                    None => return Ok(false),
                }
                continue;
            }
            match (&wanted, key.as_ref(), value) {
                (Wanted::Top, "metadata", Event::MappingStart(_, _)) => {
                    if std::mem::replace(&mut self.read_metadata, true)
                        || !self.mapping(Wanted::Metadata, head)?
                    {
                        return Ok(false);
                    }
                }
                (Wanted::Metadata, "annotations", Event::MappingStart(_, _)) => {
                    if std::mem::replace(&mut self.read_annotations, true)
                        || !self.mapping(Wanted::Annotations, head)?
                    {
                        return Ok(false);
                    }
                }
                (Wanted::Annotations, _, value) => match self.scalar(value)? {
                    Some(scalar) => {
                        let key = key.into_owned();
                        head.annotations.retain(|(k, _)| *k != key);
                        head.annotations.push((key, scalar));
                    }
                    None => return Ok(false),
                },
                (Wanted::Top, "metadata", Event::Alias(_))
                | (Wanted::Metadata, "annotations", Event::Alias(_)) => return Ok(false),
                (Wanted::Top, "metadata", Event::Scalar(..))
                | (Wanted::Metadata, "annotations", Event::Scalar(..))
                | (Wanted::Top, "metadata", Event::SequenceStart(..))
                | (Wanted::Metadata, "annotations", Event::SequenceStart(..)) => {
                    // Unusual shapes: let the full reader describe them exactly.
                    return Ok(false);
                }
                (_, _, value) => self.skip(value)?,
            }
        }
    }

    /// A scalar value, or `None` (fall back) for an alias.
    fn scalar(&mut self, event: Event<'a>) -> Result<Option<Scalar>, YamlError> {
        Ok(Some(match event {
            Event::Scalar(text, style, _, tag) => {
                let value =
                    resolve(&text, style, tag.as_deref()).unwrap_or(Value::Number(Number::from(0)));
                Scalar::from_value(&value, &text)
            }
            Event::Alias(_) => return Ok(None),
            Event::SequenceStart(_, _) => {
                self.skip_rest(1)?;
                Scalar::Other {
                    found: "a list",
                    raw: "…".into(),
                }
            }
            Event::MappingStart(_, _) => {
                self.skip_rest(1)?;
                Scalar::Other {
                    found: "a mapping",
                    raw: "…".into(),
                }
            }
            _ => return Ok(None),
        }))
    }

    fn skip(&mut self, event: Event<'a>) -> Result<(), YamlError> {
        match event {
            Event::SequenceStart(_, _) | Event::MappingStart(_, _) => self.skip_rest(1),
            _ => Ok(()),
        }
    }

    /// Consumes events until `depth` open collections are closed. Aliases are not
    /// expanded here, so an alias bomb in a skipped subtree costs nothing.
    fn skip_rest(&mut self, mut depth: usize) -> Result<(), YamlError> {
        while depth > 0 {
            let (event, _) = self.next()?;
            match event {
                Event::SequenceStart(_, _) | Event::MappingStart(_, _) => depth += 1,
                Event::SequenceEnd | Event::MappingEnd => depth -= 1,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json(text: &str) -> Value {
        to_json(text).unwrap().unwrap()
    }

    #[test]
    fn octal_like_kubectl() {
        assert_eq!(json("mode: 0755"), json!({"mode": 493}));
        assert_eq!(json("mode: 0o755"), json!({"mode": 493}));
        assert_eq!(json("count: 08"), json!({"count": 8}));
    }

    #[test]
    fn yaml_1_1_booleans_like_kubectl() {
        assert_eq!(
            json("a: yes\nb: Off\nc: 'yes'"),
            json!({"a": true, "b": false, "c": "yes"})
        );
    }

    #[test]
    fn norway_keys_like_kubectl() {
        // go-yaml v2 resolves the key `y` to true, and sigs.k8s.io/yaml writes it "true".
        assert_eq!(json("y: 1\nNO: 2"), json!({"true": 1, "false": 2}));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            json("a: 1_000\nb: 0x1F\nc: -5\nd: 1.5\ne: 1e3\nf: 12345678901234567890\ng: .5"),
            json!({"a": 1000, "b": 31, "c": -5, "d": 1.5, "e": 1000, "f": 12345678901234567890u64, "g": 0.5})
        );
    }

    #[test]
    fn strings_that_look_like_numbers_stay_strings() {
        assert_eq!(
            json("a: 1.2.3\nb: 0x\nc: '5'\nd: !!str 5\ne: 2024-01-01"),
            json!({"a": "1.2.3", "b": "0x", "c": "5", "d": "5", "e": "2024-01-01"})
        );
    }

    #[test]
    fn merge_keys() {
        assert_eq!(
            json("base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3"),
            json!({"base": {"a": 1, "b": 2}, "derived": {"a": 1, "b": 3}})
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut previous = 'a';
        for c in 'b'..='k' {
            doc.push_str(&format!(
                "{c}: &{c} [{}]\n",
                vec![format!("*{previous}"); 10].join(",")
            ));
            previous = c;
        }
        let err = to_json(&doc).unwrap_err();
        assert_eq!(err.kind, YamlErrorKind::TooManyNodes);
    }

    #[test]
    fn deep_nesting_is_refused_by_both_readers() {
        let doc = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(to_json(&doc).unwrap_err().kind, YamlErrorKind::TooDeep);
        assert_eq!(head(&doc).err().unwrap().kind, YamlErrorKind::TooDeep);
    }

    #[test]
    fn head_falls_back_for_aliased_metadata() {
        let doc = "x: &n pod-a\napiVersion: v1\nkind: Pod\nmetadata:\n  name: *n\n";
        let Top::Object(head) = head(doc).unwrap() else {
            panic!()
        };
        assert_eq!(head.name, Some(Scalar::Str("pod-a".into())));
    }

    #[test]
    fn head_reports_non_string_annotation() {
        let doc = "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    a: 5\n    b: yes\n";
        let Top::Object(head) = head(doc).unwrap() else {
            panic!()
        };
        assert!(matches!(
            head.annotations[0].1,
            Scalar::Other {
                found: "a number",
                ..
            }
        ));
        assert!(matches!(
            head.annotations[1].1,
            Scalar::Other {
                found: "a boolean",
                ..
            }
        ));
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = to_json("a: 1\nb: [\nc: 2\n  - x: : :\n").unwrap_err();
        assert_eq!(err.kind, YamlErrorKind::Syntax);
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn empty_and_comment_only_documents() {
        assert!(to_json("# nothing\n").unwrap().is_none());
        assert!(matches!(head("---\n# nothing\n").unwrap(), Top::Empty));
    }
}
