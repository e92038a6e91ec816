use std::fmt::Write;

use hooks_sandbox::{Decision, Policed};

/// Every decision of the policies, in the order they were made, then the verdict. Diffs
/// are indented under the mutation they belong to.
pub(crate) fn policies_table(policed: &Policed) -> String {
    let mut out = String::from("\npolicies:\n");
    if policed.decisions.is_empty() {
        out.push_str("  (no policy applies to this event)\n");
    }
    for decision in &policed.decisions {
        match decision {
            Decision::Mutation {
                policy,
                hook,
                diff,
                warnings,
            } => {
                let _ = writeln!(out, "  {policy}: mutated {hook}");
                for line in diff.lines() {
                    let _ = writeln!(out, "      {line}");
                }
                for warning in warnings {
                    let _ = writeln!(out, "      warning: {warning}");
                }
            }
            Decision::Order {
                policy,
                before,
                after,
                changed,
            } => {
                if *changed {
                    let _ = writeln!(out, "  {policy}: reordered");
                    let _ = writeln!(out, "      before: {}", before.join(", "));
                    let _ = writeln!(out, "      after:  {}", after.join(", "));
                } else {
                    let _ = writeln!(out, "  {policy}: kept the order");
                }
            }
            Decision::Allow { policy } => {
                let _ = writeln!(out, "  {policy}: allowed");
            }
            Decision::Denial {
                policy,
                hook,
                reason,
            } => {
                let about = hook.as_deref().unwrap_or("the event");
                let _ = writeln!(out, "  {policy}: DENIED {about}: {reason}");
            }
            Decision::IgnoredFailure {
                policy,
                role,
                error,
            } => {
                let _ = writeln!(
                    out,
                    "  {policy}: {role} failed, ignored (failurePolicy: Ignore): {}",
                    indent_rest(error)
                );
            }
            Decision::Log(log) => {
                let _ = writeln!(
                    out,
                    "  {}: [{}] {}",
                    log.policy,
                    log.level.as_str(),
                    log.message
                );
            }
        }
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

/// Multi-line errors (a guest's quoted output) stay inside their entry.
fn indent_rest(text: &str) -> String {
    text.replace('\n', "\n      ")
}
