//! Runs all of a `test` event's Pods in one wave, so that `kubectl hooks run test
//! --parallel` starts every test Pod at once, whatever their weights. An orderer of
//! contract 0.2.0: it answers waves. See README.md.

use hooks_policy_sdk::{Context, Event, Hook, Schedule, Scheduler, log};

#[derive(Debug)]
pub struct TestsTogether;

impl Scheduler for TestsTogether {
    fn schedule(ctx: &Context, hooks: &[Hook]) -> Result<Schedule, String> {
        if ctx.event != Event::Test {
            return Ok(Schedule::current(hooks));
        }
        let pods = hooks.iter().filter(|h| is_pod(h)).count();
        if pods > 1 {
            log::info(&format!("running the event's {pods} test Pods in one wave"));
        }
        Ok(Schedule::together(hooks, is_pod))
    }
}

fn is_pod(hook: &Hook) -> bool {
    hook.kind == "Pod" && hook.api_version == "v1"
}

hooks_policy_sdk::export_scheduler!(TestsTogether);

#[cfg(test)]
mod tests {
    use super::*;
    use hooks_policy_sdk::serde_json::json;

    fn hook(kind: &str, name: &str, weight: i64, wave: u32) -> Hook {
        let mut hook = Hook::from_manifest(json!({"apiVersion": "v1", "kind": kind,
            "metadata": {"name": name, "annotations": {
                "helm.sh/hook": "test", "helm.sh/hook-weight": weight.to_string()}}}))
        .unwrap();
        hook.wave = wave;
        hook
    }

    #[test]
    fn test_pods_of_every_weight_share_the_first_ones_wave() {
        let hooks = [
            hook("ConfigMap", "fixtures", -1, 1),
            hook("Pod", "smoke", 0, 2),
            hook("Pod", "api", 5, 3),
            hook("Pod", "ui", 10, 4),
        ];
        let schedule = TestsTogether::schedule(&Context::new(Event::Test), &hooks).unwrap();
        assert_eq!(
            schedule,
            Schedule::Waves(vec![
                vec!["ConfigMap/fixtures".into()],
                vec!["Pod/smoke".into(), "Pod/api".into(), "Pod/ui".into()],
            ])
        );
    }

    #[test]
    fn other_events_keep_their_waves() {
        let hooks = [hook("Pod", "a", 0, 1), hook("Pod", "b", 1, 2)];
        let schedule = TestsTogether::schedule(&Context::new(Event::PreInstall), &hooks).unwrap();
        assert_eq!(
            schedule,
            Schedule::Waves(vec![vec!["Pod/a".into()], vec!["Pod/b".into()]])
        );
    }
}
