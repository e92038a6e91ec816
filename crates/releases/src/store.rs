//! Reading releases from the cluster: list a release's records by Helm's labels, pick a
//! revision, decode it. Read-only: Helm's storage is never written.

use std::collections::{BTreeMap, BTreeSet};

use hooks_plan::{Catalog, Event, StoredDocument};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};

use crate::error::{ReleaseError, Revision};
use crate::storage::{self, Driver, MAX_RELEASE_BYTES, RELEASE_TYPE, Status, StoredHook};

/// Which revision of a release to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    /// The highest revision whose status is `deployed`, as Helm's `Deployed` finds it.
    #[default]
    LatestDeployed,
    /// The highest revision, whatever its status, as `helm get` and `helm test` read it.
    Latest,
    Revision(u64),
}

/// One revision of a release, read from its record.
#[derive(Debug, Clone)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub revision: u64,
    /// From the record's `status` label, which is what Helm selects revisions by.
    pub status: Status,
    pub driver: Driver,
    /// The record, as `kubectl get` names it: `secret/sh.helm.release.v1.shop.v3`.
    pub object: String,
    /// In the order Helm stored them.
    pub hooks: Vec<StoredHook>,
    pub apply_method: Option<String>,
}

impl Release {
    /// The hooks, planned with exactly the rules for manifests: each stored manifest is a
    /// document whose source is its template's path. Where Helm's stored fields (events,
    /// weight, kind, name) disagree with the manifest, which only a record not written by
    /// Helm can do, a warning says so; the manifest wins, as everywhere else.
    pub fn catalog(&self) -> Result<Catalog, ReleaseError> {
        let hook_error = |source| ReleaseError::Hook {
            object: self.object.clone(),
            source: Box::new(source),
        };
        let documents = hooks_plan::stored_documents(
            &self.object,
            self.hooks
                .iter()
                .map(|h| StoredDocument {
                    path: h.path.clone(),
                    manifest: h.manifest.clone(),
                })
                .collect(),
        )
        .map_err(hook_error)?;
        let mut catalog = hooks_plan::parse(&documents).map_err(hook_error)?;
        let mut warnings = Vec::new();
        for (stored, document) in self.hooks.iter().zip(&documents) {
            let found = catalog
                .hooks
                .iter()
                .find(|h| h.source == document.source && h.document == document.document);
            let Some(hook) = found else {
                if !catalog
                    .skipped
                    .iter()
                    .any(|s| *s.source == *document.source && s.document == document.document)
                {
                    warnings.push(format!(
                        "{}: the stored hook {}/{} ({}) has no `helm.sh/hook` annotation in its manifest, so it is not planned",
                        self.object, stored.kind, stored.name, stored.path
                    ));
                }
                continue;
            };
            let stored_events: BTreeSet<Event> = stored
                .events
                .iter()
                .filter_map(|e| Event::from_annotation_value(e))
                .collect();
            let events: BTreeSet<Event> = hook.events.iter().copied().collect();
            let mut differs = Vec::new();
            if stored.kind != hook.kind || stored.name != hook.name {
                differs.push(format!(
                    "it is stored as {}/{} but its manifest is {}/{}",
                    stored.kind, stored.name, hook.kind, hook.name
                ));
            }
            if stored_events != events {
                differs.push(format!(
                    "its stored events are [{}] but its manifest says [{}]",
                    stored.events.join(", "),
                    hook.events
                        .iter()
                        .map(|e| e.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if stored.weight != hook.weight {
                differs.push(format!(
                    "its stored weight is {} but its manifest says {}",
                    stored.weight, hook.weight
                ));
            }
            if !differs.is_empty() {
                warnings.push(format!(
                    "{}: hook {} ({}): {}; the manifest is used",
                    self.object,
                    hook.id,
                    hook.location,
                    differs.join("; ")
                ));
            }
        }
        catalog.warnings.extend(warnings);
        Ok(catalog)
    }

    /// The events the release has hooks for, in Helm's order of events.
    pub fn events(catalog: &Catalog) -> Vec<Event> {
        Event::ALL
            .into_iter()
            .filter(|e| catalog.hooks.iter().any(|h| h.events.contains(e)))
            .collect()
    }

    /// The error for "no hooks for these events", naming the events it has hooks for.
    pub fn no_hooks(&self, catalog: &Catalog, events: &[Event]) -> ReleaseError {
        ReleaseError::NoHooks {
            release: self.name.clone(),
            revision: self.revision,
            events: events.to_vec(),
            available: Release::events(catalog),
        }
    }
}

/// A record as listed: its labels, its data still encoded.
#[derive(Debug, Clone)]
struct Record {
    /// The object's name.
    name: String,
    revision: Option<u64>,
    status: Status,
    /// Why this object, though it carries Helm's labels, is not one of its records.
    problem: Option<String>,
    data: Option<Vec<u8>>,
}

/// A namespace's Helm storage, read through one driver.
#[derive(Clone)]
pub struct ReleaseStore {
    client: kube::Client,
    namespace: String,
    driver: Driver,
}

impl std::fmt::Debug for ReleaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseStore")
            .field("namespace", &self.namespace)
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

impl ReleaseStore {
    pub fn new(client: kube::Client, namespace: &str, driver: Driver) -> ReleaseStore {
        ReleaseStore {
            client,
            namespace: namespace.to_owned(),
            driver,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// The release's revisions and their statuses, oldest first; empty when there is no
    /// such release.
    pub async fn revisions(&self, release: &str) -> Result<Vec<Revision>, ReleaseError> {
        Ok(revisions(&self.records_of(release).await?))
    }

    /// Reads one revision of `release`.
    pub async fn read(&self, release: &str, which: Which) -> Result<Release, ReleaseError> {
        let records = self.records_of(release).await?;
        let known = revisions(&records);
        if known.is_empty() {
            return Err(self.not_found(release).await?);
        }
        let usable = records
            .iter()
            .filter_map(|r| r.revision.map(|revision| (revision, r)));
        let chosen = match which {
            Which::LatestDeployed => usable
                .filter(|(_, r)| r.status == Status::Deployed)
                .max_by_key(|(revision, _)| *revision),
            Which::Latest => usable.max_by_key(|(revision, _)| *revision),
            Which::Revision(wanted) => usable
                .filter(|(revision, _)| *revision == wanted)
                .max_by_key(|(revision, _)| *revision),
        };
        let Some((_, record)) = chosen else {
            return Err(match which {
                Which::Revision(revision) => ReleaseError::NoSuchRevision {
                    release: release.to_owned(),
                    revision,
                    revisions: known,
                },
                _ => ReleaseError::NoDeployedRevision {
                    release: release.to_owned(),
                    revisions: known,
                },
            });
        };
        self.decode(release, record)
    }

    /// Every revision of `release` Helm still keeps, newest first.
    pub async fn history(&self, release: &str) -> Result<Vec<Release>, ReleaseError> {
        let records = self.records_of(release).await?;
        if revisions(&records).is_empty() {
            return Err(self.not_found(release).await?);
        }
        let mut releases = records
            .iter()
            .filter(|r| r.revision.is_some())
            .map(|r| self.decode(release, r))
            .collect::<Result<Vec<_>, _>>()?;
        releases.sort_by_key(|r| std::cmp::Reverse(r.revision));
        Ok(releases)
    }

    /// The names of the releases in the namespace, sorted.
    pub async fn names(&self) -> Result<Vec<String>, ReleaseError> {
        let records = self.list("owner=helm").await?;
        let names: BTreeSet<String> = records
            .into_iter()
            .filter(|(_, r)| r.problem.is_none())
            .map(|(name, _)| name)
            .collect();
        Ok(names.into_iter().collect())
    }

    async fn not_found(&self, release: &str) -> Result<ReleaseError, ReleaseError> {
        Ok(ReleaseError::NotFound {
            release: release.to_owned(),
            namespace: self.namespace.clone(),
            driver: self.driver,
            others: self.names().await?,
        })
    }

    async fn records_of(&self, release: &str) -> Result<Vec<Record>, ReleaseError> {
        // A release name is a DNS label, so it is a valid label value; anything else
        // cannot be a release and must not reach the selector unquoted.
        if !is_label_value(release) {
            return Ok(Vec::new());
        }
        Ok(self
            .list(&format!("owner=helm,name={release}"))
            .await?
            .into_iter()
            .map(|(_, record)| record)
            .collect())
    }

    /// Records matching `selector`, with the release name of each.
    async fn list(&self, selector: &str) -> Result<Vec<(String, Record)>, ReleaseError> {
        let params = ListParams::default().labels(selector);
        let resource = self.driver.resource();
        let error = |e| {
            ReleaseError::from_kube(
                e,
                "list",
                resource,
                &self.namespace,
                format!("{resource} in namespace `{}`", self.namespace),
            )
        };
        let mut out = Vec::new();
        match self.driver {
            Driver::Secret => {
                let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
                for secret in api.list(&params).await.map_err(error)? {
                    let mut data = secret.data.unwrap_or_default();
                    let data = data.remove("release").map(|b| b.0);
                    let problem = match secret.type_.as_deref() {
                        Some(RELEASE_TYPE) => None,
                        other => Some(format!(
                            "its type is `{}`, not `{RELEASE_TYPE}`",
                            other.unwrap_or("")
                        )),
                    };
                    out.push(record(secret.metadata, data, problem));
                }
            }
            Driver::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
                for map in api.list(&params).await.map_err(error)? {
                    let mut data = map.data.unwrap_or_default();
                    let data = data.remove("release").map(String::into_bytes);
                    out.push(record(map.metadata, data, None));
                }
            }
        }
        Ok(out)
    }

    fn decode(&self, release: &str, record: &Record) -> Result<Release, ReleaseError> {
        let object = self.driver.object(&record.name);
        if let Some(reason) = &record.problem {
            return Err(ReleaseError::Foreign {
                object,
                reason: reason.clone(),
            });
        }
        let revision = record
            .revision
            .expect("only records with a revision are chosen");
        let Some(data) = &record.data else {
            return Err(ReleaseError::Foreign {
                object,
                reason: "it has no `release` key in its data".into(),
            });
        };
        let stored =
            storage::decode(data, MAX_RELEASE_BYTES).map_err(|source| ReleaseError::Corrupt {
                object: object.clone(),
                source,
            })?;
        let foreign = |reason: String| ReleaseError::Foreign {
            object: object.clone(),
            reason,
        };
        if stored.name != release || stored.version != revision {
            return Err(foreign(format!(
                "it holds release `{}` revision {}, where its name and labels say `{release}` revision {revision}",
                stored.name, stored.version
            )));
        }
        if !stored.namespace.is_empty() && stored.namespace != self.namespace {
            return Err(foreign(format!(
                "it holds a release of namespace `{}`, but it is in `{}`",
                stored.namespace, self.namespace
            )));
        }
        Ok(Release {
            name: release.to_owned(),
            namespace: self.namespace.clone(),
            revision,
            status: record.status.clone(),
            driver: self.driver,
            object,
            hooks: stored.hooks,
            apply_method: stored.apply_method.filter(|m| !m.is_empty()),
        })
    }
}

/// What Helm's labels and the object's name say. A record is Helm's when its `version`
/// label is a number and its name is `sh.helm.release.v1.<name>.v<version>`.
fn record(
    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    data: Option<Vec<u8>>,
    mut problem: Option<String>,
) -> (String, Record) {
    let labels: BTreeMap<String, String> = metadata.labels.unwrap_or_default();
    let name = metadata.name.unwrap_or_default();
    let release = labels.get("name").cloned().unwrap_or_default();
    let revision = labels.get("version").and_then(|v| v.parse::<u64>().ok());
    match revision {
        None => {
            problem.get_or_insert_with(|| "its `version` label is not a revision number".into());
        }
        Some(revision) if name != storage::record_name(&release, revision) => {
            problem.get_or_insert_with(|| {
                format!(
                    "its name is not `{}`, which its labels call it",
                    storage::record_name(&release, revision)
                )
            });
        }
        Some(_) => {}
    }
    let status = Status::parse(labels.get("status").map_or("", String::as_str));
    (
        release,
        Record {
            name,
            revision,
            status,
            problem,
            data,
        },
    )
}

/// Every revision of the records that are Helm's, oldest first; a foreign object that
/// carries Helm's labels is listed too when its revision could be read, so that
/// `--revision` can name it and get its error.
fn revisions(records: &[Record]) -> Vec<Revision> {
    let mut revisions: Vec<Revision> = records
        .iter()
        .filter_map(|r| {
            r.revision.map(|revision| Revision {
                revision,
                status: r.status.clone(),
            })
        })
        .collect();
    revisions.sort_by_key(|r| r.revision);
    revisions.dedup_by_key(|r| r.revision);
    revisions
}

/// A Kubernetes label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and
/// ending with an alphanumeric.
fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric()
}
