//! `kubectl hooks run`: plan → policies → apply, with progress on stderr and a JSON report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use hooks_apply::{
    ApplyError, ApplyMethod, Connection, DryRun, Event, EventKind, EventSink, ExecuteOptions,
    Executor, FIELD_MANAGER, HookOutcome, Parallel, Report, ShowLogs, format_duration,
};
use hooks_plan::{Event as HookEvent, Ordering, Plan, escape};
use serde::Serialize;

use super::policies::{Loaded, PolicyArgs};
use super::{ClusterArgs, ManifestArgs, SelectArgs, parse_event, runtime};
use crate::{Failure, exit_codes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunOutput {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DryRunArg {
    None,
    Client,
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShowLogsArg {
    /// Failed Job and Pod hooks, and whatever `helm.sh/hook-output-log-policy` asks for.
    Failed,
    /// Every Job and Pod hook.
    Always,
    /// Only what `helm.sh/hook-output-log-policy` asks for, like Helm.
    Never,
}

/// Run the hooks of one event against the cluster, one at a time like Helm, or wave by
/// wave with `--parallel`.
///
/// Each hook's old object is deleted first when its delete policy has
/// `before-hook-creation` (the default), then it is server-side applied as Helm 4 does
/// (an object that is still there is updated in place); Jobs are waited on until
/// Complete or Failed, Pods until Succeeded or Failed. A failed hook stops the event.
/// Exit codes: 0 success, 2 bad input, 3 denied by a policy, 4 policy error, 5 a hook
/// failed or timed out, 6 cluster or API error, 130 interrupted.
#[derive(Debug, Args)]
pub(crate) struct RunCommand {
    /// The lifecycle event: pre-install, post-install, pre-upgrade, post-upgrade,
    /// pre-delete, post-delete, pre-rollback, post-rollback or test. With `--release`,
    /// also `install` or `upgrade` (pre- then post-), or `auto`: install when the release
    /// is not in the cluster, upgrade when it is.
    #[arg(value_parser = parse_target, value_name = "EVENT")]
    event: Target,

    #[command(flatten)]
    manifests: ManifestArgs,

    #[command(flatten)]
    select: SelectArgs,

    /// Policies run over the plan before anything is applied; a denial applies nothing.
    #[command(flatten)]
    policies: PolicyArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// How long each wait may take: a deletion, a create, a Job or Pod finishing.
    /// E.g. `500ms`, `30s`, `5m`, `1h`, `1m30s`. A hook's own
    /// `kubectl-hooks.dev/timeout` annotation bounds its waits instead.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = hooks_plan::parse_duration)]
    timeout: Duration,

    /// Run hooks of equal weight (a wave) together: a wave first applies its other
    /// objects in plan order, then starts its Jobs and Pods at once and waits for all of
    /// them; the next wave starts when the whole wave succeeded. An orderer policy may
    /// group the waves instead.
    #[arg(long)]
    parallel: bool,

    /// With `--parallel`, the most Jobs and Pods running at once (default: a whole wave).
    #[arg(long, value_name = "N", requires = "parallel")]
    max_parallel: Option<std::num::NonZeroUsize>,

    /// `client`: make no change, only read, and say what would be done. `server`: send
    /// creates and deletes with `dryRun=All` and wait for nothing.
    #[arg(long, value_enum, default_value_t = DryRunArg::None, num_args = 0..=1,
          default_missing_value = "client", require_equals = false)]
    dry_run: DryRunArg,

    /// Apply hooks with server-side apply, as Helm 4 does: an object that is still there
    /// is updated in place. `--server-side=false` creates them instead and fails on an
    /// existing object, as Helm 3 does.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    server_side: bool,

    /// The field manager named on every write, who owns the applied fields.
    #[arg(long, value_name = "NAME", default_value = FIELD_MANAGER)]
    field_manager: String,

    /// With server-side apply, take over fields another field manager set to other
    /// values instead of failing on the conflict (as `kubectl apply --force-conflicts`).
    #[arg(long)]
    force_conflicts: bool,

    /// Whose container logs to print.
    #[arg(long, value_enum, default_value_t = ShowLogsArg::Failed)]
    show_logs: ShowLogsArg,

    /// How many lines of each container's log to print, the last ones; -1 for all (as
    /// `kubectl logs --tail`).
    #[arg(long, value_name = "LINES", default_value_t = 50, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..))]
    log_tail: i64,

    /// `text`: progress on stderr. `json`: progress on stderr and the report on stdout.
    #[arg(short, long, value_enum, default_value_t = RunOutput::Text)]
    output: RunOutput,

    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Also write a JUnit XML report to FILE, for CI test reporters: one test case per
    /// hook, failed ones with their message and log tail, denied ones with the denials.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Tie-breaking among equal weights: `helm` is what Helm does (weight, name, kind,
    /// input order); `documented` is what Helm's docs say (weight, kind, name).
    #[arg(long, default_value_t = Ordering::Helm)]
    ordering: Ordering,
}

/// What the policies decided about the plan, for the report.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Policing {
    /// The policies that ran, in order.
    pub policies: Vec<String>,
    /// One entry per decision (a mutation, a reorder, a denial), as the sandbox reports it.
    pub decisions: Vec<serde_json::Value>,
}

/// What `run` was asked to run: one event, or an action's two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Event(HookEvent),
    /// pre-install, then post-install.
    Install,
    /// pre-upgrade, then post-upgrade.
    Upgrade,
    /// [`Target::Install`] when the release is not in the cluster, else [`Target::Upgrade`].
    Auto,
}

fn parse_target(value: &str) -> Result<Target, String> {
    match value {
        "install" => Ok(Target::Install),
        "upgrade" => Ok(Target::Upgrade),
        "auto" => Ok(Target::Auto),
        other => parse_event(other)
            .map(Target::Event)
            .map_err(|e| format!("{e}; or `install`, `upgrade`, `auto` with `--release`")),
    }
}

impl RunCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        if self.force_conflicts && !self.server_side {
            return Err(Failure::new(
                exit_codes::BAD_INPUT,
                anyhow::anyhow!("`--force-conflicts` needs server-side apply"),
            )
            .with_hint(Some(
                "drop `--server-side=false`, or drop `--force-conflicts`".into(),
            )));
        }
        self.check_target()?;
        let loading = self.policies.load();
        // Manifests are read before the kubeconfig, so bad input is told without a cluster.
        let manifests = match self.manifests.cluster_release() {
            None => Some(self.manifests.manifests(self.policies.reading())?),
            Some(_) => None,
        };
        let runtime = runtime()?;
        // Reading the kubeconfig touches no cluster. It comes before planning because the
        // namespace hooks really go to (`-n`, else the context's) tells which hooks name
        // one object, and policies are told it.
        let connection = runtime.block_on(self.cluster.connect())?;
        let loaded = match (manifests, self.manifests.cluster_release()) {
            (Some(loaded), _) => loaded,
            (None, Some(release)) => {
                runtime.block_on(self.manifests.read_release(release, &connection))?
            }
            (None, None) => unreachable!("manifests are read when no release is"),
        };
        let events = runtime.block_on(self.events(&connection))?;
        // Every event is planned and policed before anything is applied: bad input or a
        // denial in `post-install` stops `install` before `pre-install` runs.
        let mut plans = Vec::with_capacity(events.len());
        for &event in &events {
            let mut plan = loaded.plan(
                event,
                self.ordering,
                &connection.namespace,
                &self.select.selection(),
                events.len() > 1,
            )?;
            plan.default_timeout = self.timeout;
            std::io::stderr()
                .lock()
                .write_all(crate::render::warnings(&plan.warnings).as_bytes())?;
            plans.push(plan);
        }
        if let Some(release) = &loaded.release
            && plans.iter().all(|plan| plan.hooks.is_empty())
        {
            return Err(release.no_hooks(&loaded.catalog, &events).into());
        }
        let policies = loading.wait()?;
        let plans = plans
            .into_iter()
            .map(|plan| self.police(plan, policies.as_ref(), &connection.namespace))
            .collect::<Result<Vec<_>, _>>()?;
        drop(policies);
        let mut runs = Vec::with_capacity(plans.len());
        for (plan, policing) in plans {
            let report = runtime.block_on(self.apply(connection.clone(), &plan))?;
            writeln!(std::io::stderr().lock(), "{}", summary(&plan, &report))?;
            let failed = report.error.is_some();
            runs.push((plan, policing, report));
            // A failed pre- hook stops the action, as in Helm: post- hooks never run.
            if failed {
                break;
            }
        }
        self.finish(&runs)
    }

    /// `install`, `upgrade` and `auto` act on a release, and on all of an event's hooks.
    fn check_target(&self) -> Result<(), Failure> {
        if matches!(self.event, Target::Event(_)) {
            return Ok(());
        }
        if self.manifests.release.is_none() {
            return Err(Failure::new(
                exit_codes::BAD_INPUT,
                anyhow::anyhow!("`run {}` needs `--release NAME`", self.target_name()),
            )
            .with_hint(Some(
                "name the release (its hooks are read from the cluster without `-f`), or run one event, e.g. `run pre-install -f …`".into(),
            )));
        }
        if !self.select.include.is_empty() || !self.select.exclude.is_empty() {
            return Err(Failure::new(
                exit_codes::BAD_INPUT,
                anyhow::anyhow!(
                    "`--hook` and `--exclude-hook` pick hooks of one event, not of `run {}`",
                    self.target_name()
                ),
            )
            .with_hint(Some(
                "run the events one at a time, e.g. `run pre-install --hook …`".into(),
            )));
        }
        Ok(())
    }

    fn target_name(&self) -> &'static str {
        match self.event {
            Target::Event(event) => event.as_str(),
            Target::Install => "install",
            Target::Upgrade => "upgrade",
            Target::Auto => "auto",
        }
    }

    /// The events to run, in order; for `install`, `upgrade` and `auto`, says on stderr
    /// which were chosen and why.
    async fn events(&self, connection: &Connection) -> Result<Vec<HookEvent>, Failure> {
        let install = vec![HookEvent::PreInstall, HookEvent::PostInstall];
        let upgrade = vec![HookEvent::PreUpgrade, HookEvent::PostUpgrade];
        let (events, why) = match self.event {
            Target::Event(event) => return Ok(vec![event]),
            Target::Install => (install, "as asked".to_owned()),
            Target::Upgrade => (upgrade, "as asked".to_owned()),
            Target::Auto => {
                let name = self.manifests.release_name();
                // Every revision, not only the one read for its hooks: the newest says
                // whether the release is there (a failed upgrade is still a release).
                let revisions = hooks_releases::ReleaseStore::new(
                    connection.client.clone(),
                    &connection.namespace,
                    self.manifests.storage.driver()?,
                )
                .revisions(name)
                .await?;
                match revisions.last() {
                    None => (
                        install,
                        format!(
                            "release `{name}` is not in namespace `{}`",
                            connection.namespace
                        ),
                    ),
                    // `helm uninstall --keep-history` keeps the records; Helm's
                    // `upgrade --install` installs over them.
                    Some(latest) if latest.status == hooks_releases::Status::Uninstalled => (
                        install,
                        format!(
                            "release `{name}` was uninstalled (revision {latest} is its latest)"
                        ),
                    ),
                    Some(latest) => (
                        upgrade,
                        format!(
                            "release `{name}` exists in namespace `{}` (latest revision {latest})",
                            connection.namespace
                        ),
                    ),
                }
            }
        };
        writeln!(
            std::io::stderr().lock(),
            "{}: running {} then {}: {why}; the release's other objects are not applied",
            self.target_name(),
            events[0],
            events[1]
        )?;
        Ok(events)
    }

    /// Runs the configured policies over the plan: the one place where policing happens,
    /// so that a denial applies nothing.
    fn police(
        &self,
        plan: Plan,
        policies: Option<&Loaded>,
        namespace: &str,
    ) -> Result<(Plan, Policing), Failure> {
        let Some(policies) = policies else {
            return Ok((plan, Policing::default()));
        };
        let policed = policies.police(
            plan,
            self.manifests.release_name(),
            namespace,
            self.dry_run != DryRunArg::None,
        )?;
        let names = policies.names();
        // Every decision goes to stderr before anything is applied, like the progress.
        std::io::stderr()
            .lock()
            .write_all(crate::render::policies_table(&policed).as_bytes())?;
        if policed.denied {
            if let Some(path) = &self.junit {
                write_file(
                    path,
                    "JUnit report",
                    &super::run_junit::from_denial(&policed).render(),
                )?;
            }
            let denials = policed.denials().count();
            return Err(Failure::new(
                exit_codes::DENIED,
                anyhow::anyhow!(
                    "denied by policy ({denials} denial{}); nothing was applied",
                    if denials == 1 { "" } else { "s" }
                ),
            )
            .with_hint(Some(
                "see the denials above; `kubectl hooks plan EVENT -f … --policy…` shows the same decisions without a cluster".into(),
            )));
        }
        let policing = Policing {
            policies: names,
            decisions: policed
                .decisions
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?,
        };
        Ok((policed.plan, policing))
    }

    async fn apply(&self, connection: Connection, plan: &Plan) -> Result<Report, Failure> {
        let options = ExecuteOptions {
            timeout: self.timeout,
            dry_run: match self.dry_run {
                DryRunArg::None => DryRun::None,
                DryRunArg::Client => DryRun::Client,
                DryRunArg::Server => DryRun::Server,
            },
            show_logs: match self.show_logs {
                ShowLogsArg::Failed => ShowLogs::Failed,
                ShowLogsArg::Always => ShowLogs::Always,
                ShowLogsArg::Never => ShowLogs::Never,
            },
            log_tail_lines: (self.log_tail >= 0).then_some(self.log_tail),
            apply: if self.server_side {
                ApplyMethod::ServerSide
            } else {
                ApplyMethod::Create
            },
            field_manager: self.field_manager.clone(),
            force_conflicts: self.force_conflicts,
            parallel: self.parallel.then_some(Parallel {
                max_parallel: self.max_parallel,
            }),
            ..ExecuteOptions::default()
        };
        let mut executor = Executor::new(connection, options);
        let cancel = hooks_apply::CancellationToken::new();
        let interrupt = tokio::spawn({
            let cancel = cancel.clone();
            async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                    // A second Ctrl-C means "now": the first one's clean stop is too slow.
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(exit_codes::INTERRUPTED);
                    }
                }
            }
        });
        let mut progress = Progress::new(plan.event, self.parallel);
        let report = executor.run(plan, &mut progress, &cancel).await;
        interrupt.abort();
        Ok(report)
    }

    /// Writes the reports of the events that ran: one document for one event, a list for
    /// an action's two. The exit code is the last event's.
    fn finish(&self, runs: &[(Plan, Policing, Report)]) -> Result<i32, Failure> {
        let documents: Vec<RunReport<'_>> = runs
            .iter()
            .map(|(plan, policing, report)| RunReport {
                report,
                ordering: plan.ordering,
                policies: policing,
            })
            .collect();
        let json = |pretty: bool| -> Result<String, serde_json::Error> {
            match (documents.as_slice(), pretty) {
                ([one], true) => serde_json::to_string_pretty(one),
                ([one], false) => serde_json::to_string(one),
                (all, true) => serde_json::to_string_pretty(all),
                (all, false) => serde_json::to_string(all),
            }
        };
        if let Some(path) = &self.report {
            write_file(path, "report", &(json(true)? + "\n"))?;
        }
        if let Some(path) = &self.junit {
            let mut suites = runs
                .iter()
                .map(|(plan, _, report)| super::run_junit::from_report(plan, report));
            let mut all = suites.next().expect("at least one event ran");
            for more in suites {
                all.suites.extend(more.suites);
            }
            write_file(path, "JUnit report", &all.render())?;
        }
        if self.output == RunOutput::Json {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(json(true)?.as_bytes())?;
            writeln!(stdout)?;
        }
        let (_, _, report) = runs.last().expect("at least one event ran");
        match &report.error {
            None => Ok(exit_codes::SUCCESS),
            Some(error) => {
                writeln!(std::io::stderr().lock(), "{}", render_error(error))?;
                Ok(crate::failure::apply_exit_code(error.class()))
            }
        }
    }
}

fn write_file(path: &std::path::Path, what: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::new(
            exit_codes::INTERNAL_ERROR,
            anyhow::Error::new(e)
                .context(format!("cannot write the {what} to `{}`", path.display())),
        )
    })
}

/// `error: …`, each cause once, then the hint: the shape of [`Failure::render`].
fn render_error(error: &ApplyError) -> String {
    let mut out = format!("error: {error}");
    let mut previous = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !previous.contains(&text) {
            out.push_str(&format!("\n  caused by: {text}"));
        }
        previous = text;
        source = cause.source();
    }
    if let Some(hint) = error.hint() {
        out.push_str(&format!("\n  hint: {hint}"));
    }
    crate::failure::escape_lines(&out)
}

/// The JSON document of `-o json` and `--report`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    ordering: Ordering,
    policies: &'a Policing,
}

fn summary(plan: &Plan, report: &Report) -> String {
    let total = report.hooks.len();
    let count = |outcome: HookOutcome| report.hooks.iter().filter(|h| h.outcome == outcome).count();
    let took = format_duration(report.duration);
    let dry = match report.dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run: nothing was changed)",
        DryRun::Server => " (server dry run: nothing was changed)",
    };
    let mut text = match report.outcome {
        hooks_apply::RunOutcome::Succeeded if total == 0 => {
            format!("{}: no hooks to run", plan.event)
        }
        hooks_apply::RunOutcome::Succeeded => format!(
            "{}: {total} hook{} {} in {took}{dry}",
            plan.event,
            if total == 1 { "" } else { "s" },
            if dry.is_empty() {
                "succeeded"
            } else {
                "checked"
            }
        ),
        hooks_apply::RunOutcome::Interrupted => {
            // Every hook a parallel wave was running when Ctrl-C came, not just the first.
            let running: Vec<String> = report
                .hooks
                .iter()
                .filter(|h| h.outcome == HookOutcome::Interrupted)
                .map(|h| escape(&h.id).into_owned())
                .collect();
            let running = match running.as_slice() {
                [] => String::new(),
                [one] => format!(" while {one} was running"),
                [rest @ .., last] => {
                    format!(" while {} and {last} were running", rest.join(", "))
                }
            };
            format!("{}: interrupted{running} after {took}", plan.event)
        }
        _ => {
            let succeeded = report
                .hooks
                .iter()
                .filter(|h| h.outcome.is_success())
                .count();
            format!(
                "{}: failed after {took}: {succeeded} succeeded, {} failed, {} not run",
                plan.event,
                total - count(HookOutcome::NotRun) - succeeded,
                count(HookOutcome::NotRun)
            )
        }
    };
    if report.outcome != hooks_apply::RunOutcome::Succeeded {
        if report.left_in_cluster.is_empty() {
            text.push_str("\nnothing this run created is left in the cluster");
        } else {
            text.push_str("\nleft in the cluster by this run:");
            for object in &report.left_in_cluster {
                text.push_str(&format!("\n  {}", escape(&object.to_string())));
            }
        }
    }
    text
}

/// Draws progress on stderr. Off a terminal: plain lines, one per step worth keeping. On
/// a terminal, the hooks still running (a whole wave with `--parallel`) stay live below
/// the finished lines, one line each, redrawn in place as they change.
struct Progress {
    event: HookEvent,
    total: usize,
    terminal: bool,
    parallel: bool,
    /// The running hooks' live lines, by plan position.
    live: std::collections::BTreeMap<usize, String>,
    /// How many live lines are on the screen below the last finished line.
    drawn: usize,
}

impl Progress {
    fn new(event: HookEvent, parallel: bool) -> Progress {
        Progress {
            event,
            total: 0,
            terminal: std::io::stderr().is_terminal(),
            parallel,
            live: Default::default(),
            drawn: 0,
        }
    }

    /// A line that stays, above the live ones.
    fn line(&mut self, text: &str) {
        let mut out = self.erase();
        out.push_str(text);
        out.push('\n');
        self.draw(out);
    }

    /// Sets (or, with `None`, drops) the live line of the hook at `position`.
    fn live(&mut self, position: Option<usize>, text: Option<String>) {
        let Some(position) = position else { return };
        match text {
            Some(text) => self.live.insert(position, text),
            None => self.live.remove(&position),
        };
        if self.terminal {
            let out = self.erase();
            self.draw(out);
        }
    }

    /// The escape sequence that clears the live lines on the screen.
    fn erase(&mut self) -> String {
        let drawn = std::mem::take(&mut self.drawn);
        if drawn == 0 {
            String::new()
        } else {
            // To the start of the first live line, then clear to the end of the screen.
            format!("\x1b[{drawn}F\x1b[0J")
        }
    }

    /// Writes `out`, then the live lines again (on a terminal).
    fn draw(&mut self, mut out: String) {
        if self.terminal {
            for text in self.live.values() {
                out.push_str(text);
                out.push('\n');
            }
            self.drawn = self.live.len();
        }
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(out.as_bytes());
        let _ = stderr.flush();
    }
}

impl EventSink for Progress {
    fn event(&mut self, event: Event) {
        // Hook ids, pod output and API messages are the cluster's and the chart's text:
        // escaped before they reach the terminal.
        let tag = match (event.position, &event.hook) {
            (Some(p), Some(h)) => format!("[{p}/{}] {}", self.total, escape(h)),
            _ => String::new(),
        };
        match event.kind {
            EventKind::RunStarted {
                hooks,
                namespace,
                server,
            } => {
                self.total = hooks;
                if hooks > 0 {
                    self.line(&format!(
                        "{}: running {hooks} hook{}{} (namespace `{namespace}`, {server})",
                        self.event,
                        if hooks == 1 { "" } else { "s" },
                        if self.parallel { " in waves" } else { "" }
                    ));
                }
            }
            EventKind::WaveStarted {
                wave,
                waves,
                hooks,
                waited,
            } => self.line(&format!(
                "wave {wave}/{waves}: {hooks} hook{}, {waited} Job{}/Pod{} together",
                if hooks == 1 { "" } else { "s" },
                if waited == 1 { "" } else { "s" },
                if waited == 1 { "" } else { "s" },
            )),
            EventKind::HookStarted { wave, .. } => {
                if self.parallel && !self.terminal {
                    self.line(&format!("{tag}: started (wave {wave})"));
                }
                self.live(event.position, Some(format!("{tag} …")));
            }
            EventKind::Waiting { object } => self.live(
                event.position,
                Some(format!(
                    "{tag}: waiting for {} to finish …",
                    escape(&object.kubectl_name())
                )),
            ),
            EventKind::Deleting { object, reason } => {
                if self.live.contains_key(&event.position.unwrap_or_default()) {
                    self.live(
                        event.position,
                        Some(format!(
                            "{tag}: deleting {} ({}) …",
                            escape(&object.kubectl_name()),
                            reason.as_str()
                        )),
                    );
                }
            }
            EventKind::Created { .. } => {}
            EventKind::Deleted {
                object,
                reason,
                existed,
                waited,
            } => {
                // The hook goes on (to its apply) after a before-hook-creation deletion.
                if self.live.contains_key(&event.position.unwrap_or_default()) {
                    self.live(event.position, Some(format!("{tag} …")));
                }
                if existed {
                    self.line(&format!(
                        "{tag}: deleted {} ({}, {})",
                        escape(&object.kubectl_name()),
                        reason.as_str(),
                        format_duration(waited)
                    ));
                }
            }
            EventKind::Retrying {
                what,
                error,
                attempt,
                delay,
            } => self.line(&format!(
                "{tag}: retrying {} in {} (attempt {attempt}): {}",
                escape(&what),
                format_duration(delay),
                escape(&error)
            )),
            EventKind::DryRun { actions } => {
                for action in actions {
                    self.line(&format!("{tag}: {}", escape(&action.to_string())));
                }
            }
            EventKind::HookFinished {
                outcome,
                message,
                duration,
            } => {
                // The error itself is printed once, at the end, with its hint.
                let _ = message;
                self.live(event.position, None);
                self.line(&format!(
                    "{tag}: {} ({})",
                    outcome.as_str(),
                    format_duration(duration)
                ));
            }
            EventKind::LogLines {
                pod,
                container,
                lines,
            } => {
                self.line(&format!(
                    "{tag}: logs of pod/{} container {}:",
                    escape(&pod),
                    escape(&container)
                ));
                for line in lines {
                    self.line(&format!("  | {}", escape(&line)));
                }
            }
            EventKind::Warning { message } => {
                self.line(&format!("warning: {tag}: {}", escape(&message)))
            }
        }
    }
}
