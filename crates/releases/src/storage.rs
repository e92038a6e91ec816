//! Helm's release records, as its `secret` and `configmap` storage drivers write them
//! (helm/helm `pkg/storage/driver`): one object per revision, named
//! `sh.helm.release.v1.<release>.v<revision>`, labelled `owner=helm`, `name`, `status`
//! and `version`, whose `data.release` is the release as JSON, gzipped and base64-encoded
//! (a Secret's data is base64 once more on the wire, which the client undoes).
//!
//! Everything here is pure: bytes in, a typed release out, every step bounded. A release
//! record is whatever is in the cluster, so it is read as untrusted input: the base64 is
//! checked, the gzip stream may not inflate beyond [`MAX_RELEASE_BYTES`], and the JSON is
//! read into the few fields we use with serde_json's nesting limit (128).

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use base64::Engine;
use serde::{Deserialize, Deserializer};

/// The `type` of a release Secret, and the prefix of every record's name.
pub const RELEASE_TYPE: &str = "helm.sh/release.v1";
const NAME_PREFIX: &str = "sh.helm.release.v1.";

/// The largest a release may inflate to. A chart with CRDs and large values stores a few
/// MB of JSON in a record of at most 1 MiB (etcd's limit); 64 MiB is far beyond that, and
/// stops a gzip bomb long before it costs memory.
pub const MAX_RELEASE_BYTES: u64 = 64 * 1024 * 1024;

/// Where Helm keeps releases: `HELM_DRIVER`, `--helm-driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    /// Secrets of type `helm.sh/release.v1`: Helm's default.
    #[default]
    Secret,
    /// ConfigMaps of the same name and labels.
    ConfigMap,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Secret => "secret",
            Driver::ConfigMap => "configmap",
        }
    }

    /// The REST resource, as `kubectl` and RBAC name it.
    pub fn resource(self) -> &'static str {
        match self {
            Driver::Secret => "secrets",
            Driver::ConfigMap => "configmaps",
        }
    }

    /// `secret/NAME`, the form `kubectl get` takes.
    pub fn object(self, name: &str) -> String {
        format!("{}/{name}", self.as_str())
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Driver {
    type Err = String;
    /// Helm's names: `secret`/`secrets` (and empty, its default), `configmap`/`configmaps`.
    fn from_str(value: &str) -> Result<Driver, String> {
        match value {
            "" | "secret" | "secrets" => Ok(Driver::Secret),
            "configmap" | "configmaps" => Ok(Driver::ConfigMap),
            other => Err(format!(
                "unsupported Helm storage driver `{other}`: kubectl-hooks reads `secret` and `configmap` (the `sql` and `memory` drivers keep releases outside the cluster's API)"
            )),
        }
    }
}

/// The name of the record of `release`'s `revision`.
pub fn record_name(release: &str, revision: u64) -> String {
    format!("{NAME_PREFIX}{release}.v{revision}")
}

/// A release's status, as Helm records it in the `status` label and `info.status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Deployed,
    Superseded,
    Failed,
    Uninstalled,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
    Unknown,
    /// A value Helm does not write; kept so that it can be shown.
    Other(String),
}

impl Status {
    pub fn parse(value: &str) -> Status {
        match value {
            "deployed" => Status::Deployed,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalled" => Status::Uninstalled,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            "unknown" => Status::Unknown,
            other => Status::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Deployed => "deployed",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalled => "uninstalled",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
            Status::Unknown => "unknown",
            Status::Other(other) => other,
        }
    }

    /// A Helm action is running on the release, or was killed while it ran.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Status::PendingInstall
                | Status::PendingUpgrade
                | Status::PendingRollback
                | Status::Uninstalling
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Status {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The part of Helm's release JSON we read (`pkg/release/v1/release.go`); the chart, its
/// values and the manifest of ordinary objects are skipped without being kept.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredRelease {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub info: Option<Info>,
    /// In the order Helm stored them: its input order sorted by kind.
    #[serde(default, deserialize_with = "null_as_default")]
    pub hooks: Vec<StoredHook>,
    /// `ssa` or `csa`: how Helm 4 applied the release (empty for Helm 3's).
    #[serde(default)]
    pub apply_method: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub description: String,
}

/// One hook as Helm stored it (`pkg/release/v1/hook.go`). `weight` and the policy lists
/// are omitted when empty; Helm adds the default `before-hook-creation` to
/// `delete_policies` of the hooks it has run.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredHook {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    /// The template that rendered it, e.g. `shop/templates/migrate.yaml`.
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub manifest: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<String>,
    #[serde(default)]
    pub weight: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub delete_policies: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_log_policies: Vec<String>,
    /// When Helm last ran it and how that went; we never update it (see the README).
    #[serde(default)]
    pub last_run: Option<LastRun>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastRun {
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub phase: String,
}

/// Go writes a nil slice as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Why a record's `data.release` could not be read as a release.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("its `release` data is not base64 ({0})")]
    Base64(#[from] base64::DecodeError),
    #[error("its `release` data is not a valid gzip stream ({0})")]
    Gzip(std::io::Error),
    #[error(
        "its `release` data inflates to more than {} MiB, which no release needs (a gzip bomb?)",
        MAX_RELEASE_BYTES / 1024 / 1024
    )]
    TooLarge,
    #[error("it is not a Helm release ({0})")]
    Json(serde_json::Error),
}

/// Decodes a record's `data.release` as Helm's `decodeRelease` does: base64, then gunzip
/// when the gzip magic is there (releases stored before Helm compressed them are plain
/// JSON), then JSON. `limit` bounds the inflated size ([`MAX_RELEASE_BYTES`] in use).
pub fn decode(data: &[u8], limit: u64) -> Result<StoredRelease, DecodeError> {
    // Helm writes standard base64 without line breaks; a newline or two from a hand edit
    // is forgiven, as Go's decoder forgives them.
    let compact: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(compact)?;
    let json = if bytes.len() > 3 && bytes[..3] == [0x1f, 0x8b, 0x08] {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            // One byte past the limit tells "at the limit" from "beyond it".
            .take(limit.saturating_add(1))
            .read_to_end(&mut inflated)
            .map_err(DecodeError::Gzip)?;
        if inflated.len() as u64 > limit {
            return Err(DecodeError::TooLarge);
        }
        inflated
    } else {
        if bytes.len() as u64 > limit {
            return Err(DecodeError::TooLarge);
        }
        bytes
    };
    serde_json::from_slice(&json).map_err(DecodeError::Json)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// What Helm's `encodeRelease` produces: gzip (best compression), then base64.
    pub(crate) fn encode(json: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(json).unwrap();
        let bytes = gz.finish().unwrap();
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    }

    const RELEASE: &str = r#"{"name":"shop","namespace":"apps","version":2,
        "info":{"status":"deployed","description":"Upgrade complete"},
        "chart":{"metadata":{"name":"shop"},"templates":[{"name":"t","data":"eA=="}]},
        "config":{"a":{"b":[1,2,{"c":null}]}},
        "manifest":"---\n# Source: shop/templates/cm.yaml\n",
        "hooks":[{"name":"migrate","kind":"Job","path":"shop/templates/migrate.yaml",
                  "manifest":"apiVersion: batch/v1\nkind: Job\n","events":["pre-upgrade"],
                  "last_run":{"phase":""},"weight":-5,"delete_policies":["hook-succeeded"]},
                 {"name":"t","kind":"Pod","path":"shop/templates/t.yaml","manifest":"x",
                  "events":["test"],"last_run":{"started_at":"2026-01-01T00:00:00Z","phase":"Succeeded"},
                  "delete_policies":null}],
        "apply_method":"ssa"}"#;

    #[test]
    fn reads_what_helm_writes() {
        let release = decode(&encode(RELEASE.as_bytes()), MAX_RELEASE_BYTES).unwrap();
        assert_eq!(
            (
                release.name.as_str(),
                release.namespace.as_str(),
                release.version
            ),
            ("shop", "apps", 2)
        );
        assert_eq!(release.info.unwrap().status, "deployed");
        assert_eq!(release.apply_method.as_deref(), Some("ssa"));
        let hooks: Vec<_> = release
            .hooks
            .iter()
            .map(|h| (h.kind.as_str(), h.name.as_str(), h.weight, h.events.clone()))
            .collect();
        assert_eq!(
            hooks,
            [
                ("Job", "migrate", -5, vec!["pre-upgrade".to_owned()]),
                ("Pod", "t", 0, vec!["test".to_owned()])
            ]
        );
        assert!(release.hooks[1].delete_policies.is_empty());
        assert_eq!(
            release.hooks[1].last_run.as_ref().unwrap().phase,
            "Succeeded"
        );
    }

    #[test]
    fn uncompressed_releases_are_read_as_helm_does() {
        let data = base64::engine::general_purpose::STANDARD.encode(RELEASE);
        assert_eq!(
            decode(data.as_bytes(), MAX_RELEASE_BYTES).unwrap().name,
            "shop"
        );
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 256 MiB of zeros gzip to about 250 KB; reading stops one byte past 1 MiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..256 {
            gz.write_all(&chunk).unwrap();
        }
        let bomb = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(bomb.len() < 1 << 20);
        let error = decode(bomb.as_bytes(), 1 << 20).unwrap_err();
        assert!(matches!(error, DecodeError::TooLarge), "{error}");
    }

    /// Regression: the first version expected a recursion-limit error here. serde_json
    /// skips a field we do not read without recursing, so deep nesting there costs no
    /// stack; where we do read, the types are shallow and the first wrong bracket fails.
    #[test]
    fn deep_json_does_not_overflow_the_stack() {
        let deep = |field: &str| {
            format!(
                "{{\"{field}\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
        };
        let skipped = decode(&encode(deep("config").as_bytes()), MAX_RELEASE_BYTES).unwrap();
        assert!(skipped.hooks.is_empty());
        let error = decode(&encode(deep("hooks").as_bytes()), MAX_RELEASE_BYTES).unwrap_err();
        assert!(
            error.to_string().starts_with("it is not a Helm release"),
            "{error}"
        );
    }

    #[test]
    fn junk_says_which_layer_is_wrong() {
        let text = |data: &[u8]| decode(data, MAX_RELEASE_BYTES).unwrap_err().to_string();
        assert!(text(b"not base64!").starts_with("its `release` data is not base64"));
        let truncated = {
            let full = encode(RELEASE.as_bytes());
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(full)
                .unwrap();
            base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() / 2])
        };
        assert!(text(truncated.as_bytes()).starts_with("its `release` data is not a valid gzip"));
        assert!(text(&encode(b"[1, 2]")).starts_with("it is not a Helm release"));
    }

    #[test]
    fn drivers_and_statuses() {
        assert_eq!("".parse::<Driver>(), Ok(Driver::Secret));
        assert_eq!("configmaps".parse::<Driver>(), Ok(Driver::ConfigMap));
        assert!("sql".parse::<Driver>().is_err());
        assert_eq!(record_name("shop", 3), "sh.helm.release.v1.shop.v3");
        assert!(Status::parse("pending-upgrade").is_pending());
        assert_eq!(Status::parse("weird").as_str(), "weird");
    }
}
