//! Reading inputs into documents: files, directories, stdin; multi-document YAML and JSON
//! streams; `# Source:` comments of `helm template` output; Helm's input order.

use std::collections::HashMap;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::PlanError;

/// One `-f` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, or a directory read recursively.
    Path(PathBuf),
    /// Standard input (`-f -`).
    Stdin,
    /// In-memory text, for tests and benchmarks; `name` plays the part of a path.
    Text { name: String, content: String },
}

impl Input {
    /// `-` means stdin, anything else a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The largest single input accepted; protects against reading a disk image by mistake.
    pub max_input_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_input_bytes: 128 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

/// A document's text: a slice of the input it was read from, shared, so that planning a
/// 10 MB stream keeps one copy of it however many hooks point into it.
#[derive(Clone)]
pub struct Text {
    all: Arc<String>,
    range: Range<usize>,
}

impl Text {
    pub fn new(text: String) -> Text {
        let range = 0..text.len();
        Text {
            all: Arc::new(text),
            range,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.all[self.range.clone()]
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

/// One non-empty document of the input, in Helm's input order.
#[derive(Debug, Clone)]
pub struct Document {
    /// The `# Source:` path of `helm template` output, or else the file it came from.
    pub source: Arc<str>,
    /// The file or stream it was read from (`<stdin>` for standard input).
    pub file: Arc<str>,
    /// 0-based index among the non-empty documents of `source`.
    pub document: usize,
    /// 1-based line in `file` where the document starts.
    pub line: usize,
    /// The 1-based line in `source` where the document starts: its line in the file, or
    /// for `helm template` output, its line in the template as rendered (the documents
    /// of one `# Source:` joined by `---`, as the template wrote them). Exact unless the
    /// template's control structures left blank lines Helm trimmed; good for pointing a
    /// reader (or a code-scanning UI) at the right document.
    pub source_line: usize,
    pub text: Text,
    pub format: Format,
}

impl Document {
    pub fn location(&self) -> crate::Location {
        crate::Location {
            source: self.source.clone(),
            file: (self.file != self.source).then(|| self.file.clone()),
            document: self.document,
            line: Some(self.line),
        }
    }
}

const DIRECTORY_DEPTH_LIMIT: usize = 64;

/// Reads every input and returns its documents in Helm's input order: sources sorted by
/// path (bytewise, like Go's `sort.Strings`), documents in their order within a source.
pub fn load(inputs: &[Input], options: &LoadOptions) -> Result<Vec<Document>, PlanError> {
    if inputs.is_empty() {
        return Err(PlanError::NoInput);
    }
    let mut documents = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let content = read_limited(std::io::stdin().lock(), "<stdin>", 0, options)?;
                split_into(&mut documents, "<stdin>", content, None);
            }
            Input::Text { name, content } => {
                check_size(name, content.len() as u64, options)?;
                let content = check_text(name, content.as_bytes().to_vec())?;
                split_into(&mut documents, name, content, None);
            }
            Input::Path(path) => {
                let mut files = Vec::new();
                collect_files(path, &mut files, 0, true)?;
                files.sort();
                for file in files {
                    let name = file.display().to_string();
                    let handle = std::fs::File::open(&file).map_err(|source| PlanError::Read {
                        path: file.clone(),
                        source,
                    })?;
                    // Refuse a huge file before reading any of it; otherwise read it
                    // into a buffer of its size, not one grown from a few bytes.
                    let size = match handle.metadata() {
                        Ok(metadata) => {
                            check_size(&name, metadata.len(), options)?;
                            usize::try_from(metadata.len()).unwrap_or(0)
                        }
                        Err(_) => 0,
                    };
                    let content = read_limited(handle, &name, size, options)?;
                    let format = match file.extension().and_then(|e| e.to_str()) {
                        Some("json") => Some(Format::Json),
                        _ => None,
                    };
                    split_into(&mut documents, &name, content, format);
                }
            }
        }
    }
    // Stable: documents of one source keep their order, whichever file they came from.
    documents.sort_by(|a, b| a.source.cmp(&b.source));
    Ok(documents)
}

fn collect_files(
    path: &Path,
    files: &mut Vec<PathBuf>,
    depth: usize,
    explicit: bool,
) -> Result<(), PlanError> {
    let metadata = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            PlanError::Missing {
                path: path.to_owned(),
            }
        } else {
            PlanError::Read {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    if metadata.is_dir() {
        if depth > DIRECTORY_DEPTH_LIMIT {
            // A symlink loop; real chart trees are a few levels deep.
            return Ok(());
        }
        let entries = std::fs::read_dir(path).map_err(|source| PlanError::Read {
            path: path.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| PlanError::Read {
                path: path.to_owned(),
                source,
            })?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            collect_files(&entry.path(), files, depth + 1, false)?;
        }
    } else if explicit || is_manifest_file(path) {
        files.push(path.to_owned());
    }
    Ok(())
}

/// In a directory walk: `.yaml`, `.yml` and `.json` files, except Helm's partials (`_*`).
fn is_manifest_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.starts_with('_') {
        return false;
    }
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn check_size(name: &str, size: u64, options: &LoadOptions) -> Result<(), PlanError> {
    if size > options.max_input_bytes {
        return Err(PlanError::TooLarge {
            name: name.to_owned(),
            limit: options.max_input_bytes,
        });
    }
    Ok(())
}

/// Reads up to one byte past the limit, into a buffer of `size` first (a file's size:
/// a file may still grow or shrink while it is read).
fn read_limited(
    reader: impl Read,
    name: &str,
    size: usize,
    options: &LoadOptions,
) -> Result<String, PlanError> {
    // One more than the size, so that reading the end needs no second buffer.
    let mut buffer = Vec::with_capacity(size.saturating_add(1));
    reader
        .take(options.max_input_bytes.saturating_add(1))
        .read_to_end(&mut buffer)
        .map_err(|source| PlanError::Read {
            path: PathBuf::from(name),
            source,
        })?;
    check_size(name, buffer.len() as u64, options)?;
    check_text(name, buffer)
}

/// Rejects binary input before the YAML parser sees it, so the error names the byte.
fn check_text(name: &str, bytes: Vec<u8>) -> Result<String, PlanError> {
    let binary = |offset: usize, what: &'static str, bytes: &[u8]| PlanError::Binary {
        name: name.to_owned(),
        what,
        offset,
        line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
    };
    if let Some(offset) = memchr::memchr(0, &bytes) {
        return Err(binary(offset, "a NUL byte", &bytes));
    }
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..3);
            }
            Ok(text)
        }
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            Err(binary(offset, "invalid UTF-8", e.as_bytes()))
        }
    }
}

fn split_into(documents: &mut Vec<Document>, file: &str, content: String, format: Option<Format>) {
    // Arc<String>, not Arc<str>: converting would copy the whole input once more.
    let all: Arc<String> = Arc::new(content);
    let content: &str = &all;
    let format = format.unwrap_or_else(|| {
        if content.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        }
    });
    let mut counters: HashMap<Arc<str>, usize> = HashMap::new();
    // Per `# Source:`, the line of the template (as rendered) the next document starts at.
    let mut rendered_lines: HashMap<Arc<str>, usize> = HashMap::new();
    let file: Arc<str> = Arc::from(file);
    let base = content.as_ptr() as usize;
    let mut push =
        |source: Option<&str>, line: usize, content_lines: usize, text: &str, format: Format| {
            let start = text.as_ptr() as usize - base;
            let text = Text {
                all: all.clone(),
                range: start..start + text.len(),
            };
            let source: Arc<str> = match source {
                None => file.clone(),
                Some(s) => match counters.get_key_value(s) {
                    Some((known, _)) => known.clone(),
                    None => Arc::from(s),
                },
            };
            let counter = counters.entry(source.clone()).or_default();
            let document = *counter;
            *counter += 1;
            let source_line = if source == file {
                line
            } else {
                let next = rendered_lines.entry(source.clone()).or_insert(1);
                let at = *next;
                // The template wrote this document's lines and a `---` before the next one.
                *next += content_lines + 1;
                at
            };
            // Helm never renders partials; a `# Source:` naming one is skipped like the file.
            if source != file && base_name(&source).starts_with('_') {
                return;
            }
            documents.push(Document {
                source,
                file: file.clone(),
                document,
                line,
                source_line,
                text,
                format,
            });
        };
    match format {
        Format::Json => {
            for (line, text) in split_json(content) {
                push(None, line, 0, text, Format::Json);
            }
        }
        Format::Yaml => {
            for piece in split_yaml(content) {
                if piece.empty {
                    continue;
                }
                push(
                    piece.source,
                    piece.line,
                    piece.content_lines,
                    piece.text,
                    Format::Yaml,
                );
            }
        }
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg_attr(test, derive(Debug, PartialEq))]
struct Piece<'a> {
    line: usize,
    text: &'a str,
    source: Option<&'a str>,
    /// Lines after the `# Source:` comment (trailing blank ones not counted): what the
    /// template rendered for this document.
    content_lines: usize,
    empty: bool,
}

/// Splits a YAML stream at `---` lines, the way Helm's `SplitManifests` does, keeping the
/// marker line with the document that follows (so the YAML parser sees `--- !tag` etc.).
///
/// It looks for `---` rather than walking every line: this runs on one core before the
/// documents are read on all of them, and a line at a time it was a fifth of the main
/// thread's time when planning 100 hooks as a process.
fn split_yaml(content: &str) -> Vec<Piece<'_>> {
    let bytes = content.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    // A marker starts a line, and a document is never split at its own first line.
    for at in memchr::memmem::find_iter(bytes, b"---") {
        if at == start || bytes[at - 1] != b'\n' || !is_document_marker(&content[at..]) {
            continue;
        }
        pieces.push(piece(&content[start..at], start_line));
        start_line += memchr::memchr_iter(b'\n', &bytes[start..at]).count();
        start = at;
    }
    if start < content.len() || pieces.is_empty() {
        pieces.push(piece(&content[start..], start_line));
    }
    pieces
}

fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

fn piece(text: &str, line: usize) -> Piece<'_> {
    let mut source = None;
    // Where the lines the template rendered begin: after the `# Source:` line.
    let mut rendered_from = 0;
    let mut empty = true;
    for raw in text.lines() {
        let mut l = raw.trim();
        if is_document_marker(raw) {
            l = raw[3..].trim();
        }
        if l.is_empty() || l == "..." {
            continue;
        }
        empty = false;
        // A `# Source:` counts only before the content; after it nothing here can change.
        let Some(comment) = l.strip_prefix('#') else {
            break;
        };
        if source.is_none()
            && let Some(path) = comment.trim_start().strip_prefix("Source:")
            && !path.trim().is_empty()
        {
            source = Some(path.trim());
            let at = raw.as_ptr() as usize - text.as_ptr() as usize;
            rendered_from =
                memchr::memchr(b'\n', &text.as_bytes()[at..]).map_or(text.len(), |n| at + n + 1);
        }
    }
    // The rendered lines, trailing blank ones not counted.
    let content_lines = match source {
        None => 0,
        Some(_) => match text[rendered_from..].trim_end() {
            "" => 0,
            rendered => 1 + memchr::memchr_iter(b'\n', rendered.as_bytes()).count(),
        },
    };
    Piece {
        line,
        text,
        source,
        content_lines,
        empty,
    }
}

/// Splits a stream of JSON values (kubectl accepts several objects in one `.json` file).
/// Syntax errors are left for the parser, which reports them with a line.
fn split_json(content: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut stream =
        serde_json::Deserializer::from_str(content).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    loop {
        match stream.next() {
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                let text = &content[start..end];
                let leading = text.len() - text.trim_start().len();
                let line = 1 + content[..start + leading].matches('\n').count();
                pieces.push((line, &content[start + leading..end]));
                start = end;
            }
            Some(Err(_)) => {
                // Hand the rest to the parser, which produces the located error.
                let text = &content[start..];
                let leading = text.len() - text.trim_start().len();
                let line = 1 + content[..start + leading].matches('\n').count();
                pieces.push((line, &content[start + leading..]));
                break;
            }
            None => break,
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    // The size given is where reading starts from, not a bound: a file that grew after it
    // was measured is read whole, and the limit still holds.
    #[test]
    fn a_file_is_read_whole_whatever_size_it_was_measured_at() {
        let text = "kind: Job\n".repeat(1000);
        let options = LoadOptions::default();
        for size in [0, 10, text.len(), text.len() * 2] {
            let read = read_limited(text.as_bytes(), "grown.yaml", size, &options).unwrap();
            assert_eq!(read, text, "measured at {size} bytes");
        }
        let small = LoadOptions {
            max_input_bytes: 100,
        };
        let error = read_limited(text.as_bytes(), "grown.yaml", 50, &small).unwrap_err();
        assert!(
            matches!(error, PlanError::TooLarge { ref name, limit: 100 } if name == "grown.yaml"),
            "{error:?}"
        );
    }

    #[test]
    fn splits_at_markers_and_keeps_line_numbers() {
        let pieces = split_yaml("a: 1\n---\nb: 2\n--- # Source: x/y.yaml\nc: 3\n");
        let lines: Vec<_> = pieces.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 4]);
        assert_eq!(pieces[2].source, Some("x/y.yaml"));
    }

    #[test]
    fn documents_know_their_line_in_the_template() {
        let stream = "---\n# Source: c/templates/a.yaml\nkind: A\nmetadata:\n  name: a1\n\n---\n# Source: c/templates/b.yaml\nkind: B\n---\n# Source: c/templates/a.yaml\nkind: A\nmetadata: {name: a2}\n";
        let documents = load(
            &[Input::Text {
                name: "rendered.yaml".into(),
                content: stream.into(),
            }],
            &LoadOptions::default(),
        )
        .unwrap();
        let at: Vec<_> = documents
            .iter()
            .map(|d| (&*d.source, d.document, d.line, d.source_line))
            .collect();
        // a.yaml rendered `kind: A`, `metadata:`, `  name: a1`, `---`, then the second.
        assert_eq!(
            at,
            [
                ("c/templates/a.yaml", 0, 1, 1),
                ("c/templates/a.yaml", 1, 10, 5),
                ("c/templates/b.yaml", 0, 7, 1),
            ]
        );
    }

    #[test]
    fn documents_of_a_plain_file_keep_their_line() {
        let documents = load(
            &[Input::Text {
                name: "hooks.yaml".into(),
                content: "a: 1\n---\nb: 2\n".into(),
            }],
            &LoadOptions::default(),
        )
        .unwrap();
        let lines: Vec<_> = documents.iter().map(|d| (d.line, d.source_line)).collect();
        assert_eq!(lines, [(1, 1), (2, 2)]);
    }

    #[test]
    fn marker_inside_a_word_does_not_split() {
        let pieces = split_yaml("a: 1\n----\nb: ---x\n");
        assert_eq!(pieces.len(), 1);
    }

    #[test]
    fn empty_documents_are_marked_empty() {
        let pieces = split_yaml("---\n\n---\n...\n---\na: 1\n");
        assert_eq!(pieces.iter().filter(|p| !p.empty).count(), 1);
    }

    #[test]
    fn comment_only_document_is_not_empty_for_numbering() {
        // Helm's SplitManifests counts it, so the document indexes after it match Helm's.
        let pieces = split_yaml("# just a comment\n---\na: 1\n");
        assert!(!pieces[0].empty);
    }

    #[test]
    fn source_comment_after_content_is_ignored() {
        let pieces = split_yaml("---\na: 1\n# Source: late.yaml\n");
        assert_eq!(pieces[0].source, None);
    }

    /// The splitter as it was, a line at a time: the oracle for the one that looks for
    /// `---` instead.
    fn split_yaml_by_lines(content: &str) -> Vec<Piece<'_>> {
        let mut pieces = Vec::new();
        let (mut start, mut start_line, mut offset) = (0, 1, 0);
        for (index, line) in content.split_inclusive('\n').enumerate() {
            if offset != start && is_document_marker(line) {
                pieces.push(piece_by_lines(&content[start..offset], start_line));
                start = offset;
                start_line = index + 1;
            }
            offset += line.len();
        }
        if start < content.len() || pieces.is_empty() {
            pieces.push(piece_by_lines(&content[start..], start_line));
        }
        pieces
    }

    fn piece_by_lines(text: &str, line: usize) -> Piece<'_> {
        let (mut source, mut source_at, mut empty, mut seen_content) = (None, 0, true, false);
        for (index, raw) in text.lines().enumerate() {
            let l = if is_document_marker(raw) {
                raw[3..].trim()
            } else {
                raw.trim()
            };
            if l.is_empty() || l == "..." {
                continue;
            }
            empty = false;
            match l.strip_prefix('#') {
                Some(comment) if !seen_content && source.is_none() => {
                    if let Some(path) = comment.trim_start().strip_prefix("Source:")
                        && !path.trim().is_empty()
                    {
                        source = Some(path.trim());
                        source_at = index + 1;
                    }
                }
                Some(_) => {}
                None => seen_content = true,
            }
        }
        let rendered: Vec<_> = text.lines().skip(source_at).collect();
        let blank = rendered
            .iter()
            .rev()
            .take_while(|l| l.trim().is_empty())
            .count();
        Piece {
            line,
            text,
            source,
            content_lines: if source.is_some() {
                rendered.len() - blank
            } else {
                0
            },
            empty,
        }
    }

    #[test]
    fn splitting_at_markers_agrees_with_reading_a_line_at_a_time() {
        const LINES: [&str; 16] = [
            "---",
            "--- # Source: c/templates/a.yaml",
            "----",
            " ---",
            "---x",
            "--- !tag",
            "---\t",
            "...",
            "",
            "  ",
            "a: 1",
            "b: ---",
            "# Source: c/templates/b.yaml",
            "# Source:",
            "# a comment",
            "--- \u{a0}",
        ];
        const ENDS: [&str; 3] = ["\n", "\r\n", ""];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |below: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % below
        };
        for _ in 0..20_000 {
            let mut stream = String::new();
            for _ in 0..next(12) {
                stream.push_str(LINES[next(LINES.len())]);
                stream.push_str(ENDS[next(ENDS.len())]);
            }
            assert_eq!(
                split_yaml(&stream),
                split_yaml_by_lines(&stream),
                "{stream:?}"
            );
        }
    }

    #[test]
    fn json_stream_is_split_per_value() {
        let pieces = split_json("{\"a\":1}\n\n{\"b\":2}");
        assert_eq!(pieces, [(1, "{\"a\":1}"), (3, "{\"b\":2}")]);
    }

    #[test]
    fn bom_is_stripped() {
        let text = check_text("x", "\u{feff}a: 1".as_bytes().to_vec()).unwrap();
        assert_eq!(text, "a: 1");
    }
}
