//! Denies hook pods that are privileged, share the node's namespaces or filesystem, run as
//! root, may escalate privileges, or add capabilities. See README.md.

use hooks_policy_sdk::pod::{ContainerRef, PodSpecRef};
use hooks_policy_sdk::{Context, Denial, Hook, Validator, pod_specs};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Hook ids (`Kind/name` or `Kind/namespace/name`) this policy does not check.
    pub exempt_hooks: Vec<String>,
    /// Capabilities containers may add (`NET_BIND_SERVICE` or `CAP_NET_BIND_SERVICE`).
    pub allowed_capabilities: Vec<String>,
}

#[derive(Debug)]
pub struct DenyPrivileged;

impl Validator for DenyPrivileged {
    fn validate(ctx: &Context, hooks: &[Hook]) -> Result<Vec<Denial>, String> {
        let settings: Settings = ctx.settings_as()?;
        let mut denials = Vec::new();
        for hook in hooks
            .iter()
            .filter(|h| !settings.exempt_hooks.contains(&h.id))
        {
            for pod in pod_specs(hook) {
                for reason in pod_violations(&pod) {
                    denials.push(Denial::hook(hook, reason));
                }
                for container in pod.containers() {
                    for reason in container_violations(&container, &settings) {
                        denials.push(Denial::hook(hook, reason));
                    }
                }
            }
        }
        Ok(denials)
    }
}

hooks_policy_sdk::export_validator!(DenyPrivileged);

fn pod_violations(pod: &PodSpecRef<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod.get(field) == Some(&Value::Bool(true)) {
            out.push(format!(
                "pod shares the node's namespaces ({}: true)",
                pod.path.key(field)
            ));
        }
    }
    for (path, volume) in pod.volumes() {
        if volume.get("hostPath").is_some() {
            let name = volume.get("name").and_then(Value::as_str).unwrap_or("");
            out.push(format!(
                "volume `{name}` mounts a directory of the node ({})",
                path.key("hostPath")
            ));
        }
    }
    out
}

fn container_violations(c: &ContainerRef<'_>, settings: &Settings) -> Vec<String> {
    let who = format!("container `{}`", c.name());
    let security = c.path.key("securityContext");
    let mut out = Vec::new();

    if let Some(s) = c
        .effective_security("privileged")
        .filter(|s| s.value == &Value::Bool(true))
    {
        out.push(format!("{who} is privileged ({}: true)", s.path));
    }
    match c.effective_security("runAsUser") {
        Some(s) if s.value.as_i64() == Some(0) => {
            out.push(format!("{who} runs as root ({}: 0)", s.path));
        }
        _ => {}
    }
    match c.effective_security("runAsNonRoot") {
        Some(s) if s.value == &Value::Bool(true) => {}
        Some(s) => out.push(format!("{who} may run as root ({}: {})", s.path, s.value)),
        None => out.push(format!(
            "{who} may run as root: set {} or the pod's securityContext.runAsNonRoot to true",
            security.key("runAsNonRoot")
        )),
    }
    // Kubernetes allows escalation unless told otherwise, so only an explicit `false`
    // passes (as in the Pod Security Standards' restricted profile).
    match c.effective_security("allowPrivilegeEscalation") {
        Some(s) if s.value == &Value::Bool(false) => {}
        Some(s) => out.push(format!(
            "{who} allows privilege escalation ({}: {})",
            s.path, s.value
        )),
        None => out.push(format!(
            "{who} allows privilege escalation: set {} to false",
            security.key("allowPrivilegeEscalation")
        )),
    }
    let added = c
        .get("securityContext")
        .and_then(|sc| sc.pointer("/capabilities/add"))
        .and_then(Value::as_array);
    for (i, cap) in added.into_iter().flatten().enumerate() {
        let name = cap.as_str().unwrap_or("");
        if !capability_allowed(name, &settings.allowed_capabilities) {
            let path = security.key("capabilities").key("add").index(i);
            out.push(format!("{who} adds capability {cap} ({path})"));
        }
    }
    out
}

fn capability_allowed(cap: &str, allowed: &[String]) -> bool {
    let norm = |s: &str| {
        let upper = s.trim().to_ascii_uppercase();
        upper
            .strip_prefix("CAP_")
            .map(str::to_owned)
            .unwrap_or(upper)
    };
    let cap = norm(cap);
    !cap.is_empty() && allowed.iter().any(|a| norm(a) == cap)
}

#[cfg(test)]
mod tests;
