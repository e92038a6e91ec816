//! A kube client from the places kubectl looks: `--kubeconfig`, `KUBECONFIG`,
//! `~/.kube/config`, or the pod's service account.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::ApplyError;

#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `--kubeconfig`: wins over `KUBECONFIG` and `~/.kube/config`, like kubectl.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`: a context of the kubeconfig instead of its current one.
    pub context: Option<String>,
    /// `-n/--namespace`: instead of the context's namespace.
    pub namespace: Option<String>,
}

/// A client and the namespace hooks without one go to.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    /// The namespace for namespaced objects whose manifest names none.
    pub namespace: String,
    /// The API server's URL, for messages and the report.
    pub server: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("namespace", &self.namespace)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub async fn connect(options: &ClientOptions) -> Result<Connection, ApplyError> {
        let config_options = KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let mut config = if let Some(path) = &options.kubeconfig {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| ApplyError::Kubeconfig {
                    path: Some(path.clone()),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &config_options)
                .await
                .map_err(|source| ApplyError::Kubeconfig {
                    path: Some(path.clone()),
                    source,
                })?
        } else if options.context.is_some() {
            // A named context only makes sense with a kubeconfig; do not fall back to the
            // in-cluster account silently.
            kube::Config::from_kubeconfig(&config_options)
                .await
                .map_err(|source| ApplyError::Kubeconfig { path: None, source })?
        } else {
            kube::Config::infer()
                .await
                .map_err(|source| ApplyError::NoConfig { source })?
        };
        // kube's default retry layer re-sends any request on 503/504, a POST included; the
        // executor retries itself so that it can first check whether a create landed.
        config.default_retry = false;
        if let Some(namespace) = &options.namespace {
            config.default_namespace = namespace.clone();
        }
        let server = config.cluster_url.to_string();
        let namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config).map_err(|source| ApplyError::Client {
            server: server.clone(),
            source,
        })?;
        Ok(Connection {
            client,
            namespace,
            server,
        })
    }
}
