use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where in the input something was found: the source (a file path, `<stdin>`, or the
/// `# Source:` path of `helm template` output), the 0-based document index within that
/// source, and the 1-based line in the file or stream it was read from, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// What the user passed or what the `# Source:` comment said.
    pub source: Arc<str>,
    /// The file or stream the document was read from, when it differs from `source`
    /// (`helm template` output names each document's template in a comment).
    pub file: Option<Arc<str>>,
    pub document: usize,
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` document {}", self.source, self.document)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({file}, line {line})"),
            (Some(file), None) => write!(f, " ({file})"),
            (None, Some(line)) => write!(f, " (line {line})"),
            (None, None) => Ok(()),
        }
    }
}

/// Everything that stops loading, parsing or planning. Each variant names the place and
/// [`PlanError::hint`] says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },

    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{name}` is larger than the limit of {} for one input", human_bytes(*limit))]
    TooLarge { name: String, limit: u64 },

    #[error("`{name}` is not text: found {what} at byte {offset} (line {line})")]
    Binary {
        name: String,
        what: &'static str,
        offset: usize,
        line: usize,
    },

    #[error("{at}: invalid YAML: {message}")]
    Yaml { at: Location, message: String },

    #[error("{at}: refused: {what}")]
    TooComplex { at: Location, what: String },

    #[error("{at}: invalid JSON: {message}")]
    Json { at: Location, message: String },

    #[error("{at}: the document is {found}, not a Kubernetes object (a mapping)")]
    NotAnObject { at: Location, found: &'static str },

    #[error("{at}: the object has no `{field}`")]
    MissingField { at: Location, field: &'static str },

    #[error("{at}: `{field}` is {found}, not a string")]
    FieldNotString {
        at: Location,
        field: String,
        found: &'static str,
    },

    #[error("{at}: annotation `{key}` is {found}, not a string")]
    AnnotationNotString {
        at: Location,
        key: String,
        found: &'static str,
        raw: String,
    },

    #[error(
        "{} for event `{event}`: at {first} and at {second}",
        duplicate_subject(ids, object)
    )]
    DuplicateHook {
        /// The two hooks' ids, in input order; equal when the same hook is written twice.
        ids: Box<[String; 2]>,
        /// The object both name, its namespace resolved.
        object: String,
        event: crate::Event,
        first: Box<Location>,
        second: Box<Location>,
    },

    #[error(
        "{at}: hook `{hook}`: `{}: \"{value}\"` is {problem}",
        crate::TIMEOUT_ANNOTATION
    )]
    BadTimeout {
        at: Location,
        hook: String,
        /// The annotation's value, escaped and bounded: it is the manifest's text.
        value: String,
        problem: crate::BadTimeout,
    },

    #[error("unknown hook event `{0}`")]
    UnknownEvent(String),

    #[error("no hook `{selector}` in event `{event}`")]
    UnknownHook {
        selector: String,
        event: crate::Event,
        /// The ids of the event's hooks, in plan order.
        hooks: Vec<String>,
    },

    #[error("no input: pass `-f FILE`, `-f DIR` or `-f -` for stdin")]
    NoInput,
}

impl PlanError {
    /// What the user can do about it, shown after the error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            PlanError::Missing { .. } => "check the path given to `-f`".into(),
            PlanError::TooLarge { .. } => {
                "split the input into several files, or raise `--max-input-size`".into()
            }
            PlanError::Binary { .. } => {
                "pass rendered Kubernetes manifests (YAML or JSON), e.g. `helm template … | kubectl hooks plan EVENT -f -`".into()
            }
            PlanError::Yaml { .. } | PlanError::Json { .. } => {
                "fix the syntax at that line; `helm template` output and `kubectl create --dry-run=client -o yaml` output are always valid".into()
            }
            PlanError::TooComplex { .. } => {
                "real manifests never need this; look for YAML anchors and aliases (`&x`, `*x`) that multiply content, or generated nesting".into()
            }
            PlanError::NotAnObject { .. } => {
                "each document must be one object with `apiVersion`, `kind` and `metadata`".into()
            }
            PlanError::MissingField { field, .. } => {
                format!("every object needs `apiVersion`, `kind` and `metadata.name`; add `{field}`")
            }
            PlanError::FieldNotString { field, .. } => format!("quote the value of `{field}`"),
            PlanError::AnnotationNotString { key, raw, .. } => format!(
                "Helm fails the render on this too: annotation values must be strings; quote it: `{key}: \"{raw}\"`"
            ),
            PlanError::DuplicateHook { .. } => {
                "give one of them another `metadata.name` (or namespace), or attach them to different events; a hook without a namespace goes to the release's (`-n`)".into()
            }
            PlanError::BadTimeout { .. } => format!(
                "write a positive duration such as `90s`, `5m` or `1h30m`, or remove `{}` for the run's `--timeout`",
                crate::TIMEOUT_ANNOTATION
            ),
            PlanError::UnknownEvent(_) => format!(
                "use one of: {}",
                crate::Event::ALL.map(|e| e.as_str()).join(", ")
            ),
            PlanError::UnknownHook { event, hooks, .. } if hooks.is_empty() => {
                format!("`{event}` has no hooks")
            }
            PlanError::UnknownHook { event, hooks, .. } => {
                format!("the hooks of `{event}` are: {}", hooks.join(", "))
            }
            PlanError::Read { .. } | PlanError::NoInput => return None,
        })
    }
}

/// `hook `Job/x` is defined twice`, or, when two ids resolve to one object, both ids and
/// the object.
fn duplicate_subject(ids: &[String; 2], object: &str) -> String {
    if ids[0] == ids[1] {
        format!("hook `{}` is defined twice", ids[0])
    } else {
        format!("hooks `{}` and `{}` both name {object}", ids[0], ids[1])
    }
}

fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}
