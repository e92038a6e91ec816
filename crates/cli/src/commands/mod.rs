pub(crate) mod completion;
pub(crate) mod plan;
pub(crate) mod policies;
pub(crate) mod policy;
pub(crate) mod run;
mod run_junit;
pub(crate) mod version;

use clap::Args;

/// Where manifests come from; shared by every command that reads them.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// A manifest file, a directory (read recursively: `.yaml`, `.yml`, `.json`; names
    /// starting with `_` skipped), or `-` for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<String>,

    /// The largest single input accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_input_size: u64,
}

impl ManifestArgs {
    /// Loads and parses the manifests: every bad-input error except two hooks naming one
    /// object, which needs the release's namespace to tell.
    pub fn catalog(&self) -> Result<hooks_plan::Catalog, hooks_plan::PlanError> {
        let inputs: Vec<hooks_plan::Input> = self
            .files
            .iter()
            .map(|f| hooks_plan::Input::from_arg(f))
            .collect();
        let options = hooks_plan::LoadOptions {
            max_input_bytes: self.max_input_size,
        };
        hooks_plan::parse(&hooks_plan::load(&inputs, &options)?)
    }

    /// Loads the manifests and plans `event` for a release in `namespace`.
    pub fn plan(
        &self,
        event: hooks_plan::Event,
        ordering: hooks_plan::Ordering,
        namespace: &str,
    ) -> Result<hooks_plan::Plan, hooks_plan::PlanError> {
        self.catalog()?.into_plan_in(event, ordering, namespace)
    }
}

/// Parses an event name for clap, with the list of valid ones in the error.
pub(crate) fn parse_event(value: &str) -> Result<hooks_plan::Event, String> {
    value
        .parse()
        .map_err(|e: hooks_plan::PlanError| format!("{e}; {}", e.hint().unwrap_or_default()))
}
