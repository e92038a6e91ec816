//! `kubectl hooks gc`: hook objects left in the cluster, shown, and deleted with `--yes`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use clap::{Args, ValueEnum};
use hooks_apply::gc::{self, DeleteMode, DeleteResult, GcOptions, GcScope, Leftover, ReleaseHooks};
use hooks_plan::escape;
use hooks_releases::ReleaseStore;
use serde::Serialize;

use super::run::DryRunArg;
use super::{ClusterArgs, StorageArgs, runtime};
use crate::{Failure, exit_codes, render};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GcOutput {
    Table,
    Json,
}

/// Find hook objects left in the cluster, and delete them with `--yes`.
///
/// With `--release`: the release's hook objects (of every revision Helm keeps) whose
/// delete policy says they should be gone: `hook-succeeded` ones that succeeded,
/// `hook-failed` ones that failed, failed ones without `before-hook-creation` (the next
/// run would trip over them), every hook of an uninstalled release. Without it: objects
/// of kubectl-hooks runs (by their run-id annotation) that those rules find, which only a
/// run that did not finish leaves. Never a CustomResourceDefinition, never an object
/// that is not a hook of the release or of one of our runs, never while a Helm action
/// is pending on the release. Helm's storage is only read.
#[derive(Debug, Args)]
pub(crate) struct GcCommand {
    /// Look for this release's hook objects, as Helm's storage lists its hooks; without
    /// it, for objects of kubectl-hooks runs in the namespace (and cluster-scoped ones).
    #[arg(long, value_name = "NAME")]
    release: Option<String>,

    #[command(flatten)]
    storage: StorageArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Delete what was found (background propagation, as Helm deletes hooks). Without
    /// it, only show.
    #[arg(short = 'y', long)]
    yes: bool,

    /// With `--yes`: `client` sends nothing and says what would be deleted; `server`
    /// sends the deletions with `dryRun=All`.
    #[arg(long, value_enum, default_value_t = DryRunArg::None, num_args = 0..=1,
          default_missing_value = "client", require_equals = false)]
    dry_run: DryRunArg,

    /// Leave alone objects written within this long: they may belong to a run or a Helm
    /// action still going. E.g. `10m`.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = hooks_plan::parse_duration)]
    min_age: Duration,

    /// `table` on stdout, notes on stderr; `json`: one document with everything.
    #[arg(short, long, value_enum, default_value_t = GcOutput::Table)]
    output: GcOutput,
}

/// `-o json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GcReport<'a> {
    namespace: &'a str,
    release: Option<&'a str>,
    #[serde(flatten)]
    findings: &'a gc::Findings,
    /// One per leftover, in order, when deletions were sent (or, client dry run, not).
    results: Vec<Outcome<'a>>,
}

#[derive(Serialize)]
struct Outcome<'a> {
    object: &'a hooks_apply::ObjectRef,
    #[serde(flatten)]
    result: DeleteResult,
}

impl GcCommand {
    pub(crate) fn execute(self) -> Result<i32, Failure> {
        let runtime = runtime()?;
        let connection = runtime.block_on(self.cluster.connect())?;
        let namespace = connection.namespace.clone();
        let scope = match &self.release {
            None => GcScope::Runs,
            Some(release) => {
                let store = ReleaseStore::new(
                    connection.client.clone(),
                    &namespace,
                    self.storage.driver()?,
                );
                let history = runtime.block_on(store.history(release))?;
                let newest = &history[0];
                if newest.status.is_pending() {
                    writeln!(
                        std::io::stderr().lock(),
                        "release `{release}` revision {} is {}: a Helm action is running or was killed while it ran, so its hooks are left alone\n  hint: `helm history {release} -n {namespace}` shows it; `helm rollback` ends a stuck one",
                        newest.revision,
                        newest.status
                    )?;
                    return Ok(exit_codes::SUCCESS);
                }
                let revisions = history
                    .iter()
                    .map(|revision| {
                        Ok(ReleaseHooks {
                            name: revision.name.clone(),
                            revision: revision.revision,
                            status: revision.status.to_string(),
                            hooks: revision.catalog()?.hooks,
                        })
                    })
                    .collect::<Result<Vec<_>, hooks_releases::ReleaseError>>()?;
                GcScope::Release {
                    revisions,
                    uninstalled: newest.status == hooks_releases::Status::Uninstalled,
                }
            }
        };
        let options = GcOptions {
            namespace: namespace.clone(),
            scope,
            min_age: self.min_age,
        };
        let now = SystemTime::now();
        let findings = runtime.block_on(gc::find(&connection.client, &options, now))?;
        let mode = match (self.yes, self.dry_run) {
            (false, _) | (true, DryRunArg::Client) => None,
            (true, DryRunArg::None) => Some(DeleteMode::Delete),
            (true, DryRunArg::Server) => Some(DeleteMode::ServerDryRun),
        };
        if self.output == GcOutput::Table {
            self.show(&findings, now)?;
        }
        let results = match mode {
            Some(mode) => {
                runtime.block_on(gc::delete(&connection.client, &findings.leftovers, mode))
            }
            None => Vec::new(),
        };
        let failed = results.iter().any(|r| matches!(r, DeleteResult::Failed(_)));
        match self.output {
            GcOutput::Table => self.results(&findings.leftovers, &results)?,
            GcOutput::Json => {
                let report = GcReport {
                    namespace: &namespace,
                    release: self.release.as_deref(),
                    findings: &findings,
                    results: findings
                        .leftovers
                        .iter()
                        .zip(results)
                        .map(|(leftover, result)| Outcome {
                            object: &leftover.object,
                            result,
                        })
                        .collect(),
                };
                let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
                serde_json::to_writer_pretty(&mut stdout, &report)?;
                writeln!(stdout)?;
                stdout.flush()?;
            }
        }
        Ok(if failed {
            exit_codes::CLUSTER_ERROR
        } else {
            exit_codes::SUCCESS
        })
    }

    /// The table on stdout; what was left alone, and why, on stderr.
    fn show(&self, findings: &gc::Findings, now: SystemTime) -> Result<(), Failure> {
        let mut stdout = std::io::stdout().lock();
        let whose = match &self.release {
            Some(release) => format!("of release `{release}`"),
            None => "of kubectl-hooks runs".to_owned(),
        };
        if findings.leftovers.is_empty() {
            writeln!(stdout, "no leftover hook objects {whose}")?;
        } else {
            stdout.write_all(table(&findings.leftovers, now).as_bytes())?;
        }
        let mut stderr = std::io::stderr().lock();
        for leftover in &findings.recent {
            writeln!(
                stderr,
                "note: {} is left alone: written within --min-age ({})",
                escape(&leftover.object.to_string()),
                escape(&leftover.why())
            )?;
        }
        for note in &findings.notes {
            writeln!(stderr, "note: {}", escape(note))?;
        }
        if !findings.leftovers.is_empty() && !self.yes {
            writeln!(
                stderr,
                "{} object{} {whose} would be deleted; pass `--yes` to delete {}",
                findings.leftovers.len(),
                if findings.leftovers.len() == 1 {
                    ""
                } else {
                    "s"
                },
                if findings.leftovers.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )?;
        }
        Ok(())
    }

    /// One line per deletion on stderr, then a summary.
    fn results(&self, leftovers: &[Leftover], results: &[DeleteResult]) -> Result<(), Failure> {
        let mut stderr = std::io::stderr().lock();
        if self.yes && self.dry_run == DryRunArg::Client && !leftovers.is_empty() {
            for leftover in leftovers {
                writeln!(
                    stderr,
                    "would delete {} (dry run: nothing was sent)",
                    escape(&leftover.object.kubectl_delete())
                )?;
            }
        }
        for (leftover, result) in leftovers.iter().zip(results) {
            let object = escape(&leftover.object.to_string()).into_owned();
            let line = match result {
                DeleteResult::Deleted => format!("deleted {object}"),
                DeleteResult::DryRun => {
                    format!(
                        "{object}: the server accepts its deletion (server dry run: nothing was changed)"
                    )
                }
                DeleteResult::AlreadyGone => format!("{object}: already gone"),
                DeleteResult::Replaced => {
                    format!("{object}: replaced by a new object since it was examined; left alone")
                }
                DeleteResult::Failed(message) => {
                    format!("error: cannot delete {object}: {}", escape(message))
                }
            };
            writeln!(stderr, "{line}")?;
        }
        Ok(())
    }
}

fn table(leftovers: &[Leftover], now: SystemTime) -> String {
    let rows: Vec<Vec<String>> = leftovers
        .iter()
        .map(|leftover| {
            let object = &leftover.object;
            vec![
                escape(&object.kind).into_owned(),
                escape(&object.name).into_owned(),
                object
                    .namespace
                    .as_deref()
                    .map_or_else(|| "-".into(), |ns| escape(ns).into_owned()),
                leftover
                    .created_at
                    .and_then(|at| now.duration_since(at).ok())
                    .map_or_else(|| "<unknown>".into(), age),
                escape(&leftover.why()).into_owned(),
            ]
        })
        .collect();
    render::render_rows(&["KIND", "NAME", "NAMESPACE", "AGE", "WHY"], &rows)
}

/// An age as `kubectl get` shows it: `45s`, `3m12s`, `5h`, `2d`.
fn age(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0..120 => format!("{secs}s"),
        120..600 => format!("{}m{}s", secs / 60, secs % 60),
        600..10_800 => format!("{}m", secs / 60),
        10_800..172_800 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::age;
    use std::time::Duration;

    #[test]
    fn ages_as_kubectl_shows_them() {
        let cases = [
            (5, "5s"),
            (130, "2m10s"),
            (900, "15m"),
            (7_200, "120m"),
            (18_000, "5h"),
            (200_000, "2d"),
        ];
        for (secs, text) in cases {
            assert_eq!(age(Duration::from_secs(secs)), text);
        }
    }
}
