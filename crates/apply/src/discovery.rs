//! apiVersion + kind → the REST resource and its scope.
//!
//! Only the group versions the plan uses are fetched (one request each), which is cheaper
//! than kubectl's full discovery. The cache is per run: a kind missing from a cached group
//! version is looked up again, since an earlier hook may just have created its CRD.
//! Hooks of a parallel wave resolve concurrently: the cache is shared behind a lock that
//! is never held across a request.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList;
use kube::discovery::ApiResource;

/// A resolved kind.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

#[derive(Default)]
pub(crate) struct Discovery {
    lists: Mutex<HashMap<String, APIResourceList>>,
}

impl Discovery {
    /// `Ok(None)`: the group version is served but has no such kind, or the group version
    /// is not served at all.
    pub async fn resolve(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
        guard: &crate::retry::Guard<'_>,
    ) -> Result<Option<Resolved>, crate::retry::CallError> {
        let cached = self.lists.lock().ok().and_then(|lists| {
            lists
                .get(api_version)
                .and_then(|l| find(l, api_version, kind))
        });
        if let Some(found) = cached {
            return Ok(Some(found));
        }
        let fetched = guard
            .call(&format!("discover {api_version}"), || async {
                let result = if api_version.contains('/') {
                    client.list_api_group_resources(api_version).await
                } else {
                    client.list_core_api_resources(api_version).await
                };
                match result {
                    Ok(list) => Ok(Some(list)),
                    Err(e) if crate::retry::is_status(&e, 404) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        let Some(list) = fetched else {
            return Ok(None);
        };
        let found = find(&list, api_version, kind);
        if let Ok(mut lists) = self.lists.lock() {
            lists.insert(api_version.to_owned(), list);
        }
        Ok(found)
    }
}

fn find(list: &APIResourceList, api_version: &str, kind: &str) -> Option<Resolved> {
    // Subresources (`pods/log`) share their parent's kind in some lists; skip them.
    let entry = list
        .resources
        .iter()
        .find(|r| r.kind == kind && !r.name.contains('/'))?;
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), api_version.to_owned()),
    };
    Some(Resolved {
        resource: ApiResource {
            group,
            version,
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            plural: entry.name.clone(),
        },
        namespaced: entry.namespaced,
    })
}
