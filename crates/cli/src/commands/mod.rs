pub(crate) mod completion;
pub(crate) mod gc;
pub(crate) mod plan;
pub(crate) mod policies;
pub(crate) mod policy;
pub(crate) mod run;
mod run_junit;
pub(crate) mod version;

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use hooks_apply::{ClientOptions, Connection};
use hooks_plan::{Catalog, Event, HookSelector, Ordering, Plan, Selection};
use hooks_releases::{Driver, Release, ReleaseStore, Which};

use crate::Failure;

/// Where hooks come from: rendered manifests (`-f`), or an installed release's storage in
/// the cluster (`--release` without `-f`). Shared by every command that plans.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// A manifest file, a directory (read recursively: `.yaml`, `.yml`, `.json`; names
    /// starting with `_` skipped), or `-` for stdin. Repeatable. Without it, `--release`
    /// names an installed release whose hooks are read from the cluster.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        required_unless_present = "release"
    )]
    pub files: Vec<String>,

    /// The release. Without `-f`, its hooks are read from Helm's storage in the cluster
    /// (read-only); with `-f`, it is only the name policies are told (`context.release`).
    #[arg(long, value_name = "NAME")]
    pub release: Option<String>,

    /// With `--release` and no `-f`: the revision whose hooks to read (default: the
    /// latest deployed one).
    #[arg(long, value_name = "N", requires = "release", conflicts_with = "files")]
    pub revision: Option<u64>,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// The largest single input accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_input_size: u64,
}

/// Hooks ready to plan, and the release they were read from, if any.
pub(crate) struct Loaded {
    pub catalog: Catalog,
    pub release: Option<Release>,
}

impl ManifestArgs {
    /// The release whose hooks are read from the cluster: `--release` without `-f`.
    pub fn cluster_release(&self) -> Option<&str> {
        match &self.release {
            Some(release) if self.files.is_empty() => Some(release),
            _ => None,
        }
    }

    /// The release name policies are told.
    pub fn release_name(&self) -> &str {
        self.release.as_deref().unwrap_or("")
    }

    /// Loads and parses the manifests: every bad-input error except two hooks naming one
    /// object, which needs the release's namespace to tell.
    /// `reading` is [`hooks_plan::Reading::Whole`] when policies will read the hooks.
    pub fn catalog(&self, reading: hooks_plan::Reading) -> Result<Catalog, hooks_plan::PlanError> {
        let inputs: Vec<hooks_plan::Input> = self
            .files
            .iter()
            .map(|f| hooks_plan::Input::from_arg(f))
            .collect();
        let options = hooks_plan::LoadOptions {
            max_input_bytes: self.max_input_size,
        };
        hooks_plan::parse_with(&hooks_plan::load(&inputs, &options)?, reading)
    }

    /// The manifests' hooks.
    pub fn manifests(&self, reading: hooks_plan::Reading) -> Result<Loaded, Failure> {
        Ok(Loaded {
            catalog: self.catalog(reading)?,
            release: None,
        })
    }

    /// The hooks of `release`, read through `connection` (in its namespace), saying on
    /// stderr which revision was read.
    pub async fn read_release(
        &self,
        release: &str,
        connection: &Connection,
    ) -> Result<Loaded, Failure> {
        let store = ReleaseStore::new(
            connection.client.clone(),
            &connection.namespace,
            self.storage.driver()?,
        );
        let which = self.revision.map_or(Which::LatestDeployed, Which::Revision);
        let release = store.read(release, which).await?;
        let catalog = release.catalog()?;
        writeln!(
            std::io::stderr().lock(),
            "release `{}` revision {} ({}), namespace `{}`: hooks read from {}",
            release.name,
            release.revision,
            release.status,
            release.namespace,
            release.object
        )?;
        Ok(Loaded {
            catalog,
            release: Some(release),
        })
    }
}

impl Loaded {
    /// Plans `event` in `namespace` and keeps the hooks `selection` picks. A release with
    /// no hooks for the event is an error (there is nothing to do, and a typo in the
    /// event or release should not pass as success) unless `may_be_empty` (one event of
    /// an action's two); manifests may have none.
    pub fn plan(
        &self,
        event: Event,
        ordering: Ordering,
        namespace: &str,
        selection: &Selection,
        may_be_empty: bool,
    ) -> Result<Plan, Failure> {
        let plan = self
            .catalog
            .clone()
            .into_plan_in(event, ordering, namespace)?;
        if let Some(release) = &self.release
            && plan.hooks.is_empty()
            && !may_be_empty
        {
            return Err(release.no_hooks(&self.catalog, &[event]).into());
        }
        Ok(plan.select(selection)?)
    }
}

/// Where Helm keeps releases.
#[derive(Debug, Args)]
pub(crate) struct StorageArgs {
    /// Where Helm keeps releases: `secret` (Helm's default) or `configmap`, as Helm's
    /// `--driver`/`HELM_DRIVER`. Only read when a release is.
    #[arg(
        long,
        value_name = "DRIVER",
        env = "HELM_DRIVER",
        default_value = "secret",
        hide_env_values = true
    )]
    pub helm_driver: String,
}

impl StorageArgs {
    /// Parsed only when a release is read, so that an unrelated `HELM_DRIVER` (`sql`,
    /// `memory`) does not break `-f`.
    pub fn driver(&self) -> Result<Driver, Failure> {
        self.helm_driver.parse().map_err(|message: String| {
            Failure::new(crate::exit_codes::BAD_INPUT, anyhow::anyhow!(message)).with_hint(Some(
                "pass `--helm-driver secret` or `--helm-driver configmap`".into(),
            ))
        })
    }
}

/// `--hook` and `--exclude-hook`: some hooks of the event only.
#[derive(Debug, Args)]
pub(crate) struct SelectArgs {
    /// Run only this hook of the event, `KIND/NAME` (or `KIND/NAMESPACE/NAME`); the
    /// hooks named run in plan order. Repeatable. Like `helm test --filter name=NAME`.
    #[arg(long = "hook", value_name = "KIND/NAME")]
    pub include: Vec<HookSelector>,

    /// Skip this hook of the event, `KIND/NAME`. Repeatable; wins over `--hook`. Like
    /// `helm test --filter '!name=NAME'`.
    #[arg(long = "exclude-hook", value_name = "KIND/NAME")]
    pub exclude: Vec<HookSelector>,
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

/// Which cluster, and which namespace in it.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// The namespace: the release's (where `--release` is read from and `gc` looks), and
    /// where namespaced hooks without one go; policies are told it. Default: the
    /// context's namespace, else `default` (`plan -f` reads no kubeconfig: `default`).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The kubeconfig context to use (default: the current context).
    #[arg(long)]
    pub context: Option<String>,

    /// The kubeconfig file (default: `KUBECONFIG`, else `~/.kube/config`, else the pod's
    /// service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

impl ClusterArgs {
    /// Reads the kubeconfig; this touches no cluster.
    pub async fn connect(&self) -> Result<Connection, Failure> {
        Ok(Connection::connect(&ClientOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        })
        .await?)
    }
}

/// Parses an event name for clap, with the list of valid ones in the error.
pub(crate) fn parse_event(value: &str) -> Result<hooks_plan::Event, String> {
    value
        .parse()
        .map_err(|e: hooks_plan::PlanError| format!("{e}; {}", e.hint().unwrap_or_default()))
}

/// A single-threaded runtime for a command's cluster work.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
