use std::collections::HashMap;
use std::fmt::Write;

use hooks_plan::escape;
use hooks_sandbox::{Decision, Policed};

/// Denials shown per policy; the rest are counted (`-o json` has every one).
const DENIALS_SHOWN: usize = 20;

/// Every decision of the policies, in the order they were made, then the verdict.
///
/// Whatever a policy wrote (a log line, a reason, a diff of its patch) is shown escaped
/// and under the policy's name, line by line, so that nothing it writes can pass for the
/// tool's own lines, the verdict above all.
pub(crate) fn policies_table(policed: &Policed) -> String {
    let mut out = String::from("\npolicies:\n");
    if policed.decisions.is_empty() {
        out.push_str("  (no policy applies to this event)\n");
    }
    let mut denials: HashMap<&str, usize> = HashMap::new();
    for decision in &policed.decisions {
        match decision {
            Decision::Mutation {
                policy,
                hook,
                diff,
                warnings,
            } => {
                let policy = escape(policy);
                let _ = writeln!(out, "  {policy}: mutated {}", escape(hook));
                for line in diff.lines() {
                    let _ = writeln!(out, "    {policy} | {}", escape(line));
                }
                for warning in warnings {
                    let _ = writeln!(out, "    {policy} | warning: {}", escape(warning));
                }
            }
            Decision::Order {
                policy,
                before,
                after,
                changed,
            } => {
                let policy = escape(policy);
                let ids = |ids: &[String]| {
                    ids.iter()
                        .map(|id| escape(id).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if *changed {
                    let _ = writeln!(out, "  {policy}: reordered");
                    let _ = writeln!(out, "    {policy} | before: {}", ids(before));
                    let _ = writeln!(out, "    {policy} | after:  {}", ids(after));
                } else {
                    let _ = writeln!(out, "  {policy}: kept the order");
                }
            }
            Decision::Waves {
                policy,
                before,
                after,
                changed,
            } => {
                let policy = escape(policy);
                let waves = |waves: &[Vec<String>]| {
                    waves
                        .iter()
                        .map(|wave| {
                            let ids: Vec<String> =
                                wave.iter().map(|id| escape(id).into_owned()).collect();
                            format!("[{}]", ids.join(", "))
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                if *changed {
                    let _ = writeln!(out, "  {policy}: set the waves");
                    let _ = writeln!(out, "    {policy} | before: {}", waves(before));
                    let _ = writeln!(out, "    {policy} | after:  {}", waves(after));
                } else {
                    let _ = writeln!(out, "  {policy}: kept the waves");
                }
            }
            Decision::Allow { policy } => {
                let _ = writeln!(out, "  {}: allowed", escape(policy));
            }
            Decision::Denial {
                policy,
                hook,
                reason,
            } => {
                let shown = denials.entry(policy.as_str()).or_default();
                *shown += 1;
                if *shown <= DENIALS_SHOWN {
                    let about = hook.as_deref().map_or("the event".into(), escape);
                    let _ = writeln!(
                        out,
                        "  {}: DENIED {about}: {}",
                        escape(policy),
                        escape(reason)
                    );
                }
            }
            Decision::IgnoredFailure {
                policy,
                role,
                error,
            } => {
                let policy = escape(policy);
                let mut lines = error.lines();
                let what = match role {
                    Some(role) => format!("{role} failed"),
                    None => "could not be loaded".into(),
                };
                let _ = writeln!(
                    out,
                    "  {policy}: {what}, ignored (failurePolicy: Ignore): {}",
                    escape(lines.next().unwrap_or_default())
                );
                for line in lines {
                    let _ = writeln!(out, "    {policy} | {}", escape(line.trim_start()));
                }
            }
            Decision::Log(log) => {
                let _ = writeln!(
                    out,
                    "  {}: [{}] {}",
                    escape(&log.policy),
                    log.level.as_str(),
                    escape(&log.message)
                );
            }
        }
    }
    let mut over: Vec<(&str, usize)> = denials
        .into_iter()
        .filter(|(_, n)| *n > DENIALS_SHOWN)
        .collect();
    over.sort();
    for (policy, n) in over {
        let _ = writeln!(
            out,
            "  {}: … and {} more denials (`-o json` lists them all)",
            escape(policy),
            n - DENIALS_SHOWN
        );
    }
    let denials = policed.denials().count();
    if policed.denied {
        let _ = writeln!(
            out,
            "\nverdict: DENIED ({denials} denial{}); nothing would be applied",
            if denials == 1 { "" } else { "s" }
        );
    } else {
        out.push_str("\nverdict: allowed\n");
    }
    out
}
