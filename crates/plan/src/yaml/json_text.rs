//! A YAML document as JSON text, written while it is read.
//!
//! Policies receive every manifest as JSON text, so building a `serde_json::Value` only to
//! print it again is most of what converting costs (an insertion-ordered map with a hashed
//! index per mapping, an allocation per node). This reader writes each event straight to
//! the output, resolving scalars exactly as [`super::to_json`] does. What needs the values
//! themselves (anchors and aliases, `<<` merges, a key repeated in one mapping, where the
//! last one wins in place of the first) makes it hand the document to [`super::to_json`],
//! so the text is always exactly what that reader's value prints.

use saphyr_parser::{Event, ScalarStyle, Span};
use serde_json::Value;

use super::{Events, MAX_DEPTH, MAX_NODES, YamlError, YamlErrorKind, resolve, to_json};

/// The whole document as JSON text; `None` for a document with no content.
pub(crate) fn to_json_text(text: &str) -> Result<Option<String>, YamlError> {
    let mut writer = Writer {
        events: Events::new(text),
        out: Vec::with_capacity(text.len()),
        nodes: 0,
    };
    let Some((event, span)) = writer.events.document_start()? else {
        return Ok(None);
    };
    match writer.node(event, span, 0)? {
        Written::Done => {
            writer.events.end()?;
            Ok(Some(
                String::from_utf8(writer.out).expect("serde_json writes UTF-8"),
            ))
        }
        Written::NeedsValues => Ok(to_json(text)?.map(|value| value.to_string())),
    }
}

/// Whether a node was written, or needs [`super::to_json`].
#[derive(PartialEq, Eq)]
enum Written {
    Done,
    NeedsValues,
}

struct Writer<'a> {
    events: Events<'a>,
    out: Vec<u8>,
    nodes: usize,
}

impl<'a> Writer<'a> {
    /// The node budget and the depth cap, counted as [`super::to_json`] counts them, so
    /// that a document is refused by both readers or by neither.
    fn count(&mut self) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.events.error(
                YamlErrorKind::TooManyNodes,
                format!("the document expands to more than {MAX_NODES} nodes (a YAML alias bomb?)"),
            ));
        }
        Ok(())
    }

    fn depth(&self, depth: usize) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            return Err(self.events.error(
                YamlErrorKind::TooDeep,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn scalar(&mut self, value: &Value) {
        serde_json::to_writer(&mut self.out, value).expect("writing to memory cannot fail");
    }

    fn node(&mut self, event: Event<'a>, _span: Span, depth: usize) -> Result<Written, YamlError> {
        self.depth(depth)?;
        match event {
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if anchor != 0 =>
            {
                Ok(Written::NeedsValues)
            }
            Event::Alias(_) => Ok(Written::NeedsValues),
            Event::Scalar(text, style, _, tag) => {
                self.count()?;
                let value = resolve(&text, style, tag.as_deref())
                    .map_err(|m| self.events.error(YamlErrorKind::NotJson, m))?;
                self.scalar(&value);
                Ok(Written::Done)
            }
            Event::SequenceStart(..) => {
                self.count()?;
                self.out.push(b'[');
                let mut first = true;
                loop {
                    let (event, span) = self.events.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    if !std::mem::take(&mut first) {
                        self.out.push(b',');
                    }
                    if self.node(event, span, depth + 1)? == Written::NeedsValues {
                        return Ok(Written::NeedsValues);
                    }
                }
                self.out.push(b']');
                Ok(Written::Done)
            }
            Event::MappingStart(..) => {
                self.count()?;
                self.mapping(depth)
            }
            _ => Err(self
                .events
                .error(YamlErrorKind::Syntax, "unexpected YAML event".into())),
        }
    }

    fn mapping(&mut self, depth: usize) -> Result<Written, YamlError> {
        self.out.push(b'{');
        let mut keys: Vec<String> = Vec::new();
        loop {
            let (event, _) = self.events.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            self.depth(depth + 1)?;
            // Keys that are not plain scalars (merges, anchors, aliases, collections) are
            // for the reader that builds values, which also reports what JSON cannot have.
            let key = match event {
                Event::Scalar(text, style, 0, tag)
                    if !(style == ScalarStyle::Plain && tag.is_none() && text == "<<") =>
                {
                    self.count()?;
                    let key = resolve(&text, style, tag.as_deref())
                        .map_err(|m| self.events.error(YamlErrorKind::NotJson, m))?;
                    match key {
                        Value::String(s) => s,
                        Value::Null => "null".into(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Ok(Written::NeedsValues),
                    }
                }
                _ => return Ok(Written::NeedsValues),
            };
            if keys.contains(&key) {
                return Ok(Written::NeedsValues);
            }
            if !keys.is_empty() {
                self.out.push(b',');
            }
            serde_json::to_writer(&mut self.out, &key).expect("writing to memory cannot fail");
            self.out.push(b':');
            keys.push(key);
            let (event, span) = self.events.next()?;
            if self.node(event, span, depth + 1)? == Written::NeedsValues {
                return Ok(Written::NeedsValues);
            }
        }
        self.out.push(b'}');
        Ok(Written::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text written is what the value reader's value prints, for every shape.
    fn same(yaml: &str) {
        let expected = to_json(yaml).map(|v| v.map(|v| v.to_string()));
        let written = to_json_text(yaml);
        match (&expected, &written) {
            (Ok(e), Ok(w)) => assert_eq!(w, e, "{yaml}"),
            (Err(e), Err(w)) => assert_eq!(
                (&w.kind, w.line, &w.message),
                (&e.kind, e.line, &e.message),
                "{yaml}"
            ),
            _ => panic!("{yaml}: {expected:?} vs {written:?}"),
        }
    }

    #[test]
    fn written_text_is_what_the_value_reader_prints() {
        for yaml in [
            "",
            "# only a comment\n",
            "a: 1\nb: [x, 'y', \"z\\n\"]\nc: {d: null, e: ~, f: yes, g: off}\n",
            "mode: 0755\nnum: 1_000\nhex: 0x1F\nf: 1.5\ne: 1e3\nneg: -7\nbig: 18446744073709551615\n",
            "1: one\ntrue: t\nnull: n\n2.5: x\n",
            "s: !!str 10\nt: !!int \"12\"\nq: 'quoted: yes'\nempty:\n",
            "list:\n  - a: 1\n    b: [1, [2, [3]]]\n  - {}\n  - []\n",
            "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
            "unicode: \"é ✓ \\u0001\"\n",
            // What needs values: the fallback must give the same text.
            "base: &b {x: 1}\nuse: *b\n",
            "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
            "dup: 1\ndup: 2\nother: 3\n",
            "? [a, b]\n: complex key\n",
            // Errors: the same kind, line and message.
            "a: .nan\n",
            "a: [1, 2\n",
            "---\na: 1\n---\nb: 2\n",
        ] {
            same(yaml);
        }
    }

    #[test]
    fn depth_and_budget_are_refused_alike() {
        same(&format!("{}1{}", "[".repeat(200), "]".repeat(200)));
        same(&format!(
            "{}\n",
            (0..50)
                .map(|i| format!("{}- x", "  ".repeat(i)))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
}
