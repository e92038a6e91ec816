//! Simulated controllers: pod lifecycle, the Job controller (backoff, deadline, TTL), the
//! garbage collector and the finishing of deletions. `reconcile` runs after every write and on
//! a short ticker, always under the store lock, and only writes when something changed so
//! watchers see real transitions, not noise.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::obj;
use crate::podsim::{self, ContainerRun, DURATION_ANNOTATION, OUTCOME_ANNOTATION};
use crate::resources::{CRD_GROUP, CRD_PLURAL};
use crate::store::{ObjKey, Propagation, State};
use crate::time::{now_rfc3339, parse_duration};

#[derive(Debug)]
struct PodPlan {
    running_at: Instant,
    done_at: Instant,
    runs: Vec<ContainerRun>,
}

#[derive(Debug)]
struct JobClock {
    started: Instant,
    finished: Option<Instant>,
    /// Pods already counted, so deleting a finished pod does not change the Job's counts.
    succeeded: HashSet<String>,
    failed: HashSet<String>,
    base_succeeded: u64,
    base_failed: u64,
}

/// Controller memory that is not part of any object (timers, counted pods).
#[derive(Debug, Default)]
pub(crate) struct Sims {
    pods: HashMap<String, PodPlan>,
    jobs: HashMap<String, JobClock>,
    /// CRDs not yet Established, by uid: when they will be.
    crds: HashMap<String, Instant>,
}

impl Sims {
    pub(crate) fn forget(&mut self, uid: &str) {
        self.pods.remove(uid);
        self.jobs.remove(uid);
        self.crds.remove(uid);
    }

    pub(crate) fn establish_crd_at(&mut self, uid: &str, at: Instant) {
        self.crds.insert(uid.to_owned(), at);
    }
}

pub(crate) fn reconcile(st: &mut State, now: Instant) {
    finish_deletions(st, now);
    collect_garbage(st, now);
    establish_crds(st, now);
    run_pods(st, now);
    run_jobs(st, now);
}

/// Marks due CRDs Established, which also starts serving their resource.
fn establish_crds(st: &mut State, now: Instant) {
    if st.sims.crds.is_empty() {
        return;
    }
    let crds = &st.sims.crds;
    let due = st.keys_where(|k, v| {
        k.is(CRD_GROUP, CRD_PLURAL) && crds.get(obj::uid(v)).is_some_and(|at| now >= *at)
    });
    for key in due {
        let Some(mut crd) = st.get(&key).cloned() else {
            continue;
        };
        st.sims.crds.remove(obj::uid(&crd));
        crate::admission::crd_status(&mut crd);
        st.replace(&key, crd);
    }
}

fn finish_deletions(st: &mut State, now: Instant) {
    for key in st.keys_where(|_, v| obj::is_deleting(v)) {
        let due = st.vanish_at.get(&key).is_none_or(|t| now >= *t);
        if key.is("", "namespaces") {
            let ns = key.name.clone();
            let contents = st.keys_where(|k, _| k.namespace == ns);
            for k in &contents {
                if st.get(k).is_some_and(|v| !obj::is_deleting(v)) {
                    st.delete(k, Propagation::Background, false, now);
                }
            }
            if due && st.keys_where(|k, _| k.namespace == ns).is_empty() {
                st.remove(&key);
            }
            continue;
        }
        st.settle_foreground(&key);
        if due && st.get(&key).is_some_and(|v| obj::finalizers(v).is_empty()) {
            st.remove(&key);
        }
    }
}

fn collect_garbage(st: &mut State, now: Instant) {
    let uids: HashSet<String> = st.iter().map(|(_, v)| obj::uid(v).to_string()).collect();
    let orphans = st.keys_where(|_, v| {
        let owners = obj::owner_uids(v);
        !owners.is_empty() && !obj::is_deleting(v) && owners.iter().all(|u| !uids.contains(u))
    });
    for k in orphans {
        st.delete(&k, Propagation::Background, false, now);
    }
}

fn phase(pod: &Value) -> &str {
    obj::str_at(pod, "/status/phase").unwrap_or("")
}

fn is_terminal(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// The pod's Job, whose annotations steer its pods too.
fn owner_job<'a>(st: &'a State, pod_key: &'a ObjKey, pod: &Value) -> Option<&'a Value> {
    let uid = obj::controller_uid(pod)?;
    st.list("batch", "jobs", Some(&pod_key.namespace))
        .find(|j| obj::uid(j) == uid)
}

/// An annotation from the pod, else from its Job.
fn steering<'a>(st: &'a State, key: &'a ObjKey, pod: &'a Value, name: &str) -> Option<&'a str> {
    obj::annotation(pod, name)
        .or_else(|| owner_job(st, key, pod).and_then(|j| obj::annotation(j, name)))
}

fn plan_pod(st: &State, key: &ObjKey, pod: &Value, now: Instant) -> PodPlan {
    let duration = steering(st, key, pod, DURATION_ANNOTATION)
        .and_then(parse_duration)
        .unwrap_or(st.pod_duration);
    let outcome = steering(st, key, pod, OUTCOME_ANNOTATION);
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let pending = (duration / 4).min(Duration::from_millis(50));
    PodPlan {
        running_at: now + pending,
        done_at: now + pending + duration,
        runs: podsim::simulate_pod(&spec, outcome),
    }
}

fn container_names(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    (s("name"), s("image"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn conditions(ready: bool, ready_reason: Option<&str>, at: &str) -> Value {
    let c = |t: &str, ok: bool| {
        let mut v = json!({"type": t, "status": if ok { "True" } else { "False" },
            "lastProbeTime": null, "lastTransitionTime": at});
        if let (false, Some(r)) = (ok, ready_reason) {
            v["reason"] = json!(r);
        }
        v
    };
    json!([
        c("PodReadyToStartContainers", true),
        c("Initialized", true),
        c("Ready", ready),
        c("ContainersReady", ready),
        c("PodScheduled", true)
    ])
}

fn set_running(st: &mut State, key: &ObjKey, mut pod: Value) {
    let at = now_rfc3339();
    let ip = st.next_pod_ip();
    let uid = obj::uid(&pod).to_string();
    let statuses: Vec<Value> = container_names(&pod)
        .into_iter()
        .map(|(name, image)| {
            json!({
                "name": name, "image": image, "imageID": format!("emulator://{image}"),
                "containerID": format!("emulator://{uid}/{name}"),
                "ready": true, "started": true, "restartCount": 0,
                "state": {"running": {"startedAt": at}},
            })
        })
        .collect();
    obj::child(&mut pod, "spec").insert("nodeName".into(), json!("emulator-node"));
    let status = obj::child(&mut pod, "status");
    status.insert("phase".into(), json!("Running"));
    status.insert("conditions".into(), conditions(true, None, &at));
    status.insert("hostIP".into(), json!("10.0.0.1"));
    status.insert("hostIPs".into(), json!([{"ip": "10.0.0.1"}]));
    status.insert("podIP".into(), json!(ip));
    status.insert("podIPs".into(), json!([{"ip": ip}]));
    status.insert("startTime".into(), json!(at));
    status.insert("containerStatuses".into(), json!(statuses));
    st.replace(key, pod);
}

fn set_terminated(st: &mut State, key: &ObjKey, mut pod: Value, runs: &[ContainerRun]) {
    let at = now_rfc3339();
    let uid = obj::uid(&pod).to_string();
    let started = obj::str_at(&pod, "/status/startTime")
        .unwrap_or(&at)
        .to_string();
    let failed = runs.iter().any(|r| r.exit_code != 0);
    let statuses: Vec<Value> = container_names(&pod)
        .into_iter()
        .map(|(name, image)| {
            let code = runs
                .iter()
                .find(|r| r.name == name)
                .map_or(0, |r| r.exit_code);
            json!({
                "name": name, "image": image, "imageID": format!("emulator://{image}"),
                "containerID": format!("emulator://{uid}/{name}"),
                "ready": false, "started": false, "restartCount": 0,
                "state": {"terminated": {
                    "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                    "startedAt": started, "finishedAt": at,
                    "containerID": format!("emulator://{uid}/{name}")}},
            })
        })
        .collect();
    let reason = if failed { "PodFailed" } else { "PodCompleted" };
    let status = obj::child(&mut pod, "status");
    status.insert(
        "phase".into(),
        json!(if failed { "Failed" } else { "Succeeded" }),
    );
    status.insert("conditions".into(), conditions(false, Some(reason), &at));
    status.insert("containerStatuses".into(), json!(statuses));
    st.replace(key, pod);
}

fn run_pods(st: &mut State, now: Instant) {
    let pods = st.keys_where(|k, v| k.is("", "pods") && !obj::is_deleting(v) && !is_terminal(v));
    for key in pods {
        let Some(pod) = st.get(&key).cloned() else {
            continue;
        };
        let uid = obj::uid(&pod).to_string();
        if !st.sims.pods.contains_key(&uid) {
            let plan = plan_pod(st, &key, &pod, now);
            st.sims.pods.insert(uid.clone(), plan);
        }
        let Some(plan) = st.sims.pods.get(&uid) else {
            continue;
        };
        let (running_at, done_at, runs) = (plan.running_at, plan.done_at, plan.runs.clone());
        let mut pod = pod;
        if now >= running_at && phase(&pod) != "Running" {
            set_running(st, &key, pod);
            match st.get(&key).cloned() {
                Some(p) => pod = p,
                None => continue,
            }
        }
        if now >= done_at {
            set_terminated(st, &key, pod, &runs);
        }
    }
}

fn job_num(job: &Value, field: &str, default: u64) -> u64 {
    job.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_u64)
        .unwrap_or(default)
}

fn has_condition(job: &Value, kind: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(kind)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn job_condition(kind: &str, reason: &str, message: &str, at: &str) -> Value {
    json!({"type": kind, "status": "True", "reason": reason, "message": message,
           "lastProbeTime": at, "lastTransitionTime": at})
}

fn create_job_pod(st: &mut State, job_key: &ObjKey, job: &Value) {
    let job_name = obj::name(job).to_string();
    let mut name = format!("{job_name}-{}", st.suffix());
    let mut pod_key = ObjKey {
        group: String::new(),
        plural: "pods".into(),
        namespace: job_key.namespace.clone(),
        name: name.clone(),
    };
    while st.contains(&pod_key) {
        name = format!("{job_name}-{}", st.suffix());
        pod_key.name = name.clone();
    }
    let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "generateName": format!("{job_name}-"), "namespace": job_key.namespace,
            "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                "uid": obj::uid(job), "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        obj::meta(&mut pod).insert("annotations".into(), a.clone());
    }
    st.stamp_new(&mut pod);
    crate::admission::default_pod(&mut pod);
    st.insert(pod_key, pod);
}

fn run_jobs(st: &mut State, now: Instant) {
    let jobs = st.keys_where(|k, v| k.is("batch", "jobs") && !obj::is_deleting(v));
    for key in jobs {
        let Some(job) = st.get(&key).cloned() else {
            continue;
        };
        if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let uid = obj::uid(&job).to_string();
        let clock = st.sims.jobs.entry(uid.clone()).or_insert_with(|| JobClock {
            started: now,
            finished: None,
            succeeded: HashSet::new(),
            failed: HashSet::new(),
            base_succeeded: job
                .pointer("/status/succeeded")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            base_failed: job
                .pointer("/status/failed")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        });
        if has_condition(&job, "Complete") || has_condition(&job, "Failed") {
            let finished = *clock.finished.get_or_insert(now);
            if let Some(ttl) = job
                .pointer("/spec/ttlSecondsAfterFinished")
                .and_then(Value::as_u64)
                && now >= finished + Duration::from_secs(ttl)
            {
                st.delete(&key, Propagation::Background, false, now);
            }
            continue;
        }
        let started = clock.started;
        let pods: Vec<(ObjKey, Value)> = st
            .keys_where(|k, v| {
                k.is("", "pods")
                    && k.namespace == key.namespace
                    && obj::controller_uid(v) == Some(&uid)
            })
            .into_iter()
            .filter_map(|k| st.get(&k).cloned().map(|v| (k, v)))
            .collect();
        let Some(clock) = st.sims.jobs.get_mut(&uid) else {
            continue;
        };
        let mut active = Vec::new();
        let mut ready = 0u64;
        for (k, p) in &pods {
            match phase(p) {
                "Succeeded" => {
                    clock.succeeded.insert(obj::uid(p).to_string());
                }
                "Failed" => {
                    clock.failed.insert(obj::uid(p).to_string());
                }
                _ if !obj::is_deleting(p) => {
                    if phase(p) == "Running" {
                        ready += 1;
                    }
                    active.push(k.clone());
                }
                _ => {}
            }
        }
        let succeeded = clock.base_succeeded + clock.succeeded.len() as u64;
        let failed = clock.base_failed + clock.failed.len() as u64;
        let completions = job_num(&job, "completions", 1);
        let parallelism = job_num(&job, "parallelism", 1);
        let deadline = job
            .pointer("/spec/activeDeadlineSeconds")
            .and_then(Value::as_u64);
        let at = now_rfc3339();

        let mut status = job
            .get("status")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or(json!({}));
        if status.get("startTime").is_none() {
            status["startTime"] = json!(at);
        }
        let failure = if deadline.is_some_and(|d| now >= started + Duration::from_secs(d)) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else if failed > job_num(&job, "backoffLimit", 6) {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else {
            None
        };
        let mut active_count = active.len() as u64;
        if let Some((reason, message)) = failure {
            for k in &active {
                st.delete(k, Propagation::Background, true, now);
            }
            active_count = 0;
            ready = 0;
            status["conditions"] = json!([
                job_condition("FailureTarget", reason, message, &at),
                job_condition("Failed", reason, message, &at),
            ]);
        } else if succeeded >= completions {
            status["conditions"] = json!([
                job_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &at
                ),
                job_condition(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    &at
                ),
            ]);
            status["completionTime"] = json!(at);
        } else {
            let want = parallelism.min(completions - succeeded);
            let missing = want.saturating_sub(active_count);
            for _ in 0..missing {
                create_job_pod(st, &key, &job);
            }
            active_count += missing;
        }
        let Some(map) = status.as_object_mut() else {
            continue;
        };
        for (field, n) in [
            ("active", active_count),
            ("succeeded", succeeded),
            ("failed", failed),
        ] {
            if n == 0 {
                map.remove(field);
            } else {
                map.insert(field.into(), json!(n));
            }
        }
        map.insert("ready".into(), json!(ready));
        map.insert("terminating".into(), json!(0));
        map.insert("uncountedTerminatedPods".into(), json!({}));
        if (failure.is_some() || succeeded >= completions)
            && let Some(c) = st.sims.jobs.get_mut(&uid)
        {
            c.finished = Some(now);
        }
        // Only write on change, so an idle Job does not churn resourceVersions.
        if job.get("status") != Some(&status) {
            let mut job = job;
            job["status"] = status;
            st.replace(&key, job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(st: &mut State, name: &str, spec: Value, annotations: Value) -> ObjKey {
        let key = ObjKey {
            group: "batch".into(),
            plural: "jobs".into(),
            namespace: "default".into(),
            name: name.into(),
        };
        let mut j = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations},
            "spec": spec});
        if j["spec"].get("template").is_none() {
            j["spec"]["template"] = json!({"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["echo", "hi"]}]}});
        }
        st.stamp_new(&mut j);
        crate::admission::default_job(&mut j);
        st.insert(key.clone(), j);
        key
    }

    fn settle(st: &mut State, until: Instant) {
        let mut t = Instant::now();
        while t <= until {
            reconcile(st, t);
            t += Duration::from_millis(5);
        }
    }

    #[test]
    fn job_completes_after_pod_succeeds() {
        let mut st = State::new(1, Duration::from_millis(20), Duration::ZERO);
        let key = job(&mut st, "ok", json!({}), json!({}));
        reconcile(&mut st, Instant::now());
        assert_eq!(st.list("", "pods", Some("default")).count(), 1);
        settle(&mut st, Instant::now() + Duration::from_millis(100));
        let j = st.get(&key).unwrap();
        assert!(has_condition(j, "Complete"), "{j}");
        assert_eq!(j["status"]["succeeded"], 1);
    }

    #[test]
    fn failing_job_retries_until_backoff_limit() {
        let mut st = State::new(1, Duration::from_millis(10), Duration::ZERO);
        let key = job(
            &mut st,
            "bad",
            json!({"backoffLimit": 1}),
            json!({OUTCOME_ANNOTATION: "fail"}),
        );
        settle(&mut st, Instant::now() + Duration::from_millis(200));
        let j = st.get(&key).unwrap();
        assert!(has_condition(j, "Failed"), "{j}");
        assert_eq!(j["status"]["failed"], 2);
        assert_eq!(st.list("", "pods", Some("default")).count(), 2);
    }

    #[test]
    fn deleting_a_job_collects_its_pods() {
        let mut st = State::new(1, Duration::from_millis(10), Duration::ZERO);
        let key = job(&mut st, "gone", json!({}), json!({}));
        reconcile(&mut st, Instant::now());
        st.delete(&key, Propagation::Background, false, Instant::now());
        reconcile(&mut st, Instant::now());
        assert_eq!(st.list("", "pods", Some("default")).count(), 0);
    }
}
