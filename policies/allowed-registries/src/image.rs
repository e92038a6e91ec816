//! Image references, normalised the way the container runtime resolves them
//! (distribution/reference's `ParseNormalizedNamed`).

/// Where an image is pulled from: `registry` (lower-case, `docker.io` for Docker Hub)
/// and the repository `path` within it (`library/nginx` for `nginx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub path: String,
}

const DOCKER_HUB: &str = "docker.io";

impl ImageRef {
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        let name = match image.split_once('@') {
            Some((name, digest)) => {
                check_digest(digest)?;
                name
            }
            None => image,
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let name = match name.rfind(':') {
            Some(colon) if colon > name.rfind('/').unwrap_or(0) => {
                check_tag(&name[colon + 1..])?;
                &name[..colon]
            }
            _ => name,
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if is_registry(first) => {
                (first.to_ascii_lowercase(), rest.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        check_path(&path)?;
        Ok(ImageRef { registry, path })
    }

    /// Whether the image comes from `allowed`: a registry (`registry.example.com`,
    /// `localhost:5000`) or a registry and a repository prefix (`ghcr.io/acme`), matched
    /// on whole path components.
    pub fn is_under(&self, allowed: &str) -> bool {
        let allowed = allowed.trim().trim_end_matches('/');
        let (registry, prefix) = allowed.split_once('/').unwrap_or((allowed, ""));
        let registry = registry.to_ascii_lowercase();
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
            other => other,
        };
        registry == self.registry
            && (prefix.is_empty()
                || self.path == prefix
                || self
                    .path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/')))
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

fn is_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn check_digest(digest: &str) -> Result<(), String> {
    let ok = digest.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-_".contains(c))
            && hex.len() >= 32
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    });
    if ok {
        Ok(())
    } else {
        Err(format!("invalid digest `{digest}`"))
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&tag.len())
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid tag `{tag}`"))
    }
}

fn check_path(path: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    if path.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!("invalid repository `{path}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(image: &str) -> String {
        ImageRef::parse(image).unwrap().to_string()
    }

    #[test]
    fn normalises_like_the_runtime() {
        assert_eq!(parsed("nginx"), "docker.io/library/nginx");
        assert_eq!(parsed("nginx:1.27"), "docker.io/library/nginx");
        assert_eq!(parsed("library/nginx"), "docker.io/library/nginx");
        assert_eq!(parsed("bitnami/redis:7"), "docker.io/bitnami/redis");
        assert_eq!(parsed("index.docker.io/nginx"), "docker.io/library/nginx");
        assert_eq!(parsed("localhost/x"), "localhost/x");
        assert_eq!(parsed("localhost:5000/team/x:dev"), "localhost:5000/team/x");
        assert_eq!(
            parsed("Registry.Example.com/a/b:1"),
            "registry.example.com/a/b"
        );
        let digest = format!("ghcr.io/acme/tool@sha256:{}", "a".repeat(64));
        assert_eq!(parsed(&digest), "ghcr.io/acme/tool");
        let both = format!("ghcr.io/acme/tool:1.2@sha256:{}", "b".repeat(64));
        assert_eq!(parsed(&both), "ghcr.io/acme/tool");
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "x:",
            "x@sha256:zz",
            "ghcr.io/",
            "x:-tag",
            "a b",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matches_registry_and_whole_path_components() {
        let img = ImageRef::parse("ghcr.io/acme/tools/kubectl:1.32").unwrap();
        assert!(img.is_under("ghcr.io"));
        assert!(img.is_under("GHCR.io/acme/"));
        assert!(img.is_under("ghcr.io/acme/tools"));
        assert!(!img.is_under("ghcr.io/acm"));
        assert!(!img.is_under("ghcr.io/acme/tools/kubectl-extra"));
        assert!(!img.is_under("ghcr.io.evil.com"));
        let hub = ImageRef::parse("nginx").unwrap();
        assert!(hub.is_under("docker.io/library"));
        assert!(hub.is_under("index.docker.io"));
        assert!(!hub.is_under("registry.example.com"));
    }
}
