//! Where kubectl-hooks differs from Helm 4 on purpose: the one list, each entry checked
//! by the differential suite to really occur where it says, and the same list as the
//! README's "Differences from Helm" table.

use std::collections::BTreeSet;
use std::time::Duration;

use hooks_emulator::RequestRecord;

use crate::differential::{Action, ActionTrace, Divergence, Outcome, Run};

pub const DIVERGENCES: &[Divergence] = &[
    Divergence {
        scenario: "slow-deletion",
        action: Action::Upgrade,
        what: "before-hook-creation waits until the old object is gone (Helm 4's default \
               --wait=hookOnly does not, so its new hook is applied to the terminating \
               object and vanishes with it)",
        occurs: applied_while_terminating,
        expected: |run, i| adjusted(run, i, keep_replaced_objects),
    },
    Divergence {
        scenario: "duplicates",
        action: Action::Install,
        what: "two hooks of one event naming one object are refused before anything is \
               applied (Helm applies the second over the first)",
        occurs: one_object_applied_twice,
        expected: |run, i| adjusted(run, i, refuse_the_event),
    },
    Divergence {
        scenario: "crd-established-late",
        action: Action::Install,
        what: "a CustomResourceDefinition hook is waited for until Established (Helm \
               counts it ready at once, so a later hook of its kind fails)",
        occurs: custom_resource_not_served,
        expected: custom_resources_applied,
    },
    Divergence {
        scenario: "hook-timeout",
        action: Action::Install,
        what: "the logs of a failed or timed-out Job or Pod are read without an \
               output-log policy (--show-logs never reads only what the policy asks)",
        occurs: failed_hook_logs_read,
        expected: |run, i| adjusted(run, i, read_failed_hook_logs),
    },
    Divergence {
        scenario: "upgrade-failure",
        action: Action::Upgrade,
        what: "the logs of a failed or timed-out Job or Pod are read without an \
               output-log policy (--show-logs never reads only what the policy asks)",
        occurs: failed_hook_logs_read,
        expected: |run, i| adjusted(run, i, read_failed_hook_logs),
    },
];

/// What Helm did in action `index`, changed by `change`.
fn adjusted(run: &Run, index: usize, change: fn(&mut ActionTrace)) -> ActionTrace {
    let mut trace = run.helm[index].clone();
    change(&mut trace);
    trace
}

/// The deletion delay of the slow-deletion scenario's emulators.
const DELETION_DELAY: Duration = Duration::from_secs(1);

/// `(DELETE, next write)` of each object deleted and then written again in `requests`.
fn delete_then_write(requests: &[RequestRecord]) -> Vec<(&RequestRecord, &RequestRecord)> {
    let mut pairs = Vec::new();
    for (i, delete) in requests.iter().enumerate() {
        if delete.method != "DELETE" || delete.status != 200 || delete.dry_run {
            continue;
        }
        if let Some(write) = requests[i + 1..].iter().find(|r| {
            r.path.starts_with(&delete.path)
                && r.name == delete.name
                && matches!(r.method.as_str(), "PATCH" | "POST")
                && (200..300).contains(&r.status)
        }) {
            pairs.push((delete, write));
        }
    }
    pairs
}

fn applied_while_terminating(run: &Run, index: usize) -> Result<(), String> {
    let helm = delete_then_write(&run.helm_requests[index]);
    let ours = delete_then_write(&run.our_requests[index]);
    if helm.is_empty() || ours.is_empty() {
        return Err("no object was deleted and applied again".into());
    }
    for (delete, write) in helm {
        let gap = write.received.duration_since(delete.received);
        if gap >= DELETION_DELAY {
            return Err(format!(
                "Helm waited {gap:?} after deleting {:?}",
                delete.name
            ));
        }
    }
    for (delete, write) in ours {
        let gap = write.received.duration_since(delete.received);
        if gap < DELETION_DELAY {
            return Err(format!(
                "we applied {:?} {gap:?} after deleting it",
                delete.name
            ));
        }
    }
    let replaced = replaced(&run.helm[index]);
    if replaced
        .iter()
        .any(|key| run.helm[index].left.contains(key))
    {
        return Err("Helm's re-applied object outlived the old one's deletion".into());
    }
    Ok(())
}

/// Objects deleted and then applied again within one event (before-hook-creation).
fn replaced(trace: &ActionTrace) -> BTreeSet<String> {
    trace
        .events
        .iter()
        .flat_map(|e| {
            e.deleted
                .iter()
                .filter(|key| e.applied.contains(key))
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

fn keep_replaced_objects(trace: &mut ActionTrace) {
    let replaced = replaced(trace);
    trace.left.extend(replaced);
}

fn one_object_applied_twice(run: &Run, index: usize) -> Result<(), String> {
    let helm = &run.helm[index];
    let first = &helm.events[0];
    let unique: BTreeSet<&String> = first.applied.iter().collect();
    if unique.len() == first.applied.len() {
        return Err(format!("Helm applied no object twice: {:?}", first.applied));
    }
    if helm.outcome != Outcome::Succeeded {
        return Err("Helm failed too".into());
    }
    Ok(())
}

fn refuse_the_event(trace: &mut ActionTrace) {
    let event = trace.events[0].event;
    trace.events.truncate(1);
    trace.events[0].applied.clear();
    trace.events[0].deleted.clear();
    trace.events[0].logs.clear();
    trace.left.clear();
    trace.outcome = Outcome::Failed(event);
}

/// Helm applied the CRD and stopped at the next hook, whose kind was not served yet; we
/// waited, then applied the custom resources (as the crd scenario, where the CRD is
/// established at once, shows Helm would have) and finished the action.
fn custom_resource_not_served(run: &Run, index: usize) -> Result<(), String> {
    let (helm, ours) = (&run.helm[index], &run.ours[index]);
    let crd = |key: &String| key.starts_with("customresourcedefinitions/");
    let widget = |key: &String| key.starts_with("widgets/");
    let applied = &helm.events[0].applied;
    if helm.outcome != Outcome::Failed(helm.events[0].event) {
        return Err(format!("Helm did not fail the event: {:?}", helm.outcome));
    }
    if applied.len() != 1 || !crd(&applied[0]) {
        return Err(format!(
            "Helm applied more or less than the CRD: {applied:?}"
        ));
    }
    let ours_applied = &ours.events[0].applied;
    if ours.outcome != Outcome::Succeeded
        || ours_applied.first().is_none_or(|key| !crd(key))
        || !ours_applied[1..].iter().all(widget)
        || ours_applied.len() < 2
    {
        return Err(format!(
            "we did not apply the CRD and then its custom resources: {ours:?}"
        ));
    }
    Ok(())
}

/// Checked by [`custom_resource_not_served`]: what we did.
fn custom_resources_applied(run: &Run, index: usize) -> ActionTrace {
    run.ours[index].clone()
}

fn failed_hook_logs_read(run: &Run, index: usize) -> Result<(), String> {
    let (helm, ours) = (&run.helm[index], &run.ours[index]);
    let failed = failed_hook(helm).ok_or("Helm's action did not fail at a hook")?;
    if helm.events.last().unwrap().logs.contains(&failed) {
        return Err(format!("Helm read the logs of {failed}"));
    }
    if !ours.events.last().unwrap().logs.contains(&failed) {
        return Err(format!("we did not read the logs of {failed}"));
    }
    Ok(())
}

/// The hook an action failed at: the last one its failing event applied.
fn failed_hook(trace: &ActionTrace) -> Option<String> {
    match trace.outcome {
        Outcome::Failed(_) => trace.events.last()?.applied.last().cloned(),
        Outcome::Succeeded => None,
    }
}

fn read_failed_hook_logs(trace: &mut ActionTrace) {
    if let Some(failed) = failed_hook(trace) {
        trace.events.last_mut().unwrap().logs.insert(0, failed);
    }
}

/// A divergence nobody runs is a claim nobody checks.
#[test]
fn every_divergence_is_checked_by_a_scenario() {
    for divergence in DIVERGENCES {
        let checked = crate::differential::SCENARIOS
            .iter()
            .any(|s| s.name == divergence.scenario && s.actions.contains(&divergence.action));
        assert!(
            checked,
            "no scenario `{}` runs {:?}",
            divergence.scenario, divergence.action
        );
    }
}
