use std::fmt;

/// Where a field is in a manifest. Displays as `spec.template.spec.containers[0].image`
/// for people, and converts to a JSON pointer for code.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct FieldPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Key(String),
    Index(usize),
}

impl FieldPath {
    /// The whole manifest.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// The path of a chain of object keys.
    pub fn of(keys: &[&str]) -> Self {
        FieldPath(keys.iter().map(|k| Segment::Key((*k).to_owned())).collect())
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// The RFC 6901 JSON pointer, e.g. `/spec/template/spec/containers/0`.
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            out.push('/');
            match segment {
                Segment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if is_plain(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                // Label and annotation keys contain dots and slashes; quote them so the
                // path stays unambiguous.
                Segment::Key(k) => write!(f, "[{k:?}]")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_and_points() {
        let p = FieldPath::of(&["spec", "template", "spec", "containers"])
            .index(0)
            .key("securityContext")
            .key("privileged");
        assert_eq!(
            p.to_string(),
            "spec.template.spec.containers[0].securityContext.privileged"
        );
        assert_eq!(
            p.pointer(),
            "/spec/template/spec/containers/0/securityContext/privileged"
        );

        let p = FieldPath::of(&["metadata", "labels", "a.io/b~c"]);
        assert_eq!(p.to_string(), "metadata.labels[\"a.io/b~c\"]");
        assert_eq!(p.pointer(), "/metadata/labels/a.io~1b~0c");
        assert_eq!(FieldPath::root().pointer(), "");
    }
}
