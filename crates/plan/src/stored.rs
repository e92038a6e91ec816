//! Hook documents that were not read from files: an installed release's hooks, which Helm
//! stores one document each, with the path of the template that rendered it.
//!
//! They become ordinary [`Document`]s, so [`crate::parse`] and the planner treat them
//! exactly as manifests: the same annotation rules, warnings, duplicate checks and order.

use std::sync::Arc;

use crate::{Document, Format, Location, PlanError, Text};

/// One hook document from somewhere other than a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The template path Helm recorded (`chart/templates/job.yaml`): the hook's `source`,
    /// as the `# Source:` comment of `helm template` names it.
    pub path: String,
    /// The hook's manifest as Helm stored it: one YAML (or JSON) document.
    pub manifest: String,
}

/// Turns stored hook documents into [`Document`]s for [`crate::parse`], keeping the order
/// given. For a release that is the order Helm stored its hooks in: its input order
/// (templates by path, documents in order) already sorted by kind, which `parse` keeps,
/// since its sort by kind is stable.
///
/// `origin` names where the documents were read from (e.g.
/// `secret/sh.helm.release.v1.shop.v3`); errors show it beside the hook's path. A
/// document's index is its position among the stored hooks of the same path, and its
/// line is its line within the stored manifest.
pub fn stored_documents(
    origin: &str,
    stored: Vec<StoredDocument>,
) -> Result<Vec<Document>, PlanError> {
    let file: Arc<str> = Arc::from(origin);
    let mut sources: Vec<(Arc<str>, usize)> = Vec::new();
    let mut documents = Vec::with_capacity(stored.len());
    for StoredDocument { path, manifest } in stored {
        let (source, counter) = match sources.iter_mut().find(|(s, _)| **s == *path) {
            Some((source, counter)) => (source.clone(), counter),
            None => {
                sources.push((Arc::from(path.as_str()), 0));
                let (source, counter) = sources.last_mut().expect("just pushed");
                (source.clone(), counter)
            }
        };
        let document = *counter;
        *counter += 1;
        let at = Location {
            source: source.clone(),
            file: Some(file.clone()),
            document,
            line: Some(1),
        };
        check(&manifest, &at)?;
        let format = if manifest.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Yaml
        };
        documents.push(Document {
            source,
            file: file.clone(),
            document,
            line: 1,
            source_line: 1,
            text: Text::new(manifest),
            format,
        });
    }
    Ok(documents)
}

/// A stored hook is one non-empty document of text: Helm split the template's output at
/// `---` before storing it, so a marker inside one means the record was not written by
/// Helm.
fn check(manifest: &str, at: &Location) -> Result<(), PlanError> {
    if let Some(offset) = manifest.find('\0') {
        return Err(PlanError::Binary {
            name: format!("{} ({})", at.source, at.file.as_deref().unwrap_or("")),
            what: "a NUL byte",
            offset,
            line: 1 + manifest[..offset].matches('\n').count(),
        });
    }
    if manifest.trim().is_empty() {
        return Err(PlanError::NotAnObject {
            at: at.clone(),
            found: "empty",
        });
    }
    let mut content = false;
    for (index, line) in manifest.lines().enumerate() {
        let marker = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if marker && content {
            let mut at = at.clone();
            at.line = Some(index + 1);
            return Err(PlanError::Yaml {
                at,
                message: "a second document starts here; Helm stores each hook as one document"
                    .into(),
            });
        }
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with('#') && !marker {
            content = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Ordering};

    fn stored(path: &str, manifest: &str) -> StoredDocument {
        StoredDocument {
            path: path.into(),
            manifest: manifest.into(),
        }
    }

    const JOB: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n";
    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  annotations:\n    helm.sh/hook: pre-install\n";

    #[test]
    fn documents_keep_their_order_path_and_index() {
        let documents = stored_documents(
            "secret/sh.helm.release.v1.x.v1",
            vec![
                stored("c/templates/b.yaml", CM),
                stored("c/templates/a.yaml", JOB),
                stored("c/templates/b.yaml", &JOB.replace("migrate", "second")),
            ],
        )
        .unwrap();
        let at: Vec<_> = documents.iter().map(|d| (&*d.source, d.document)).collect();
        assert_eq!(
            at,
            [
                ("c/templates/b.yaml", 0),
                ("c/templates/a.yaml", 0),
                ("c/templates/b.yaml", 1)
            ]
        );
        let plan = crate::parse(&documents)
            .unwrap()
            .into_plan(Event::PreInstall, Ordering::Helm)
            .unwrap();
        // weight 0 everywhere: name decides, as for manifests.
        let names: Vec<_> = plan.hooks.iter().map(|h| h.hook.name.as_str()).collect();
        assert_eq!(names, ["migrate", "script", "second"]);
        assert_eq!(&*plan.hooks[0].hook.source, "c/templates/a.yaml");
    }

    #[test]
    fn errors_name_the_origin_and_the_line_in_the_manifest() {
        let error = stored_documents(
            "secret/sh.helm.release.v1.x.v1",
            vec![stored("c/templates/a.yaml", "a: 1\n---\nb: 2\n")],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "`c/templates/a.yaml` document 0 (secret/sh.helm.release.v1.x.v1, line 2): invalid YAML: a second document starts here; Helm stores each hook as one document"
        );
    }

    #[test]
    fn a_leading_marker_is_one_document() {
        assert!(stored_documents("x", vec![stored("a.yaml", &format!("---\n{JOB}"))]).is_ok());
    }

    #[test]
    fn empty_and_binary_manifests_are_refused() {
        assert!(matches!(
            stored_documents("x", vec![stored("a.yaml", "  \n")]),
            Err(PlanError::NotAnObject { .. })
        ));
        assert!(matches!(
            stored_documents("x", vec![stored("a.yaml", "a: \0")]),
            Err(PlanError::Binary { .. })
        ));
    }

    #[test]
    fn json_manifests_are_read_as_json() {
        let documents = stored_documents(
            "x",
            vec![stored(
                "a.json",
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j","annotations":{"helm.sh/hook":"test"}}}"#,
            )],
        )
        .unwrap();
        assert_eq!(documents[0].format, Format::Json);
        assert_eq!(crate::parse(&documents).unwrap().hooks[0].name, "j");
    }
}
