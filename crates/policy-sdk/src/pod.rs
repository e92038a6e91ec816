//! Finding the pod specs of workload manifests and the containers inside them.

use serde_json::Value;

use crate::{FieldPath, Hook};

/// Where a kind keeps its pod spec, or `None` for kinds that run no pods.
pub fn pod_spec_path(kind: &str) -> Option<FieldPath> {
    pod_spec_keys(kind).map(FieldPath::of)
}

fn pod_spec_keys(kind: &str) -> Option<&'static [&'static str]> {
    let keys: &[&str] = match kind {
        "Pod" => &["spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "Job"
        | "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController" => &["spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        _ => return None,
    };
    Some(keys)
}

/// Every pod spec of the hook's manifest, with its path (today at most one per object).
pub fn pod_specs(hook: &Hook) -> Vec<PodSpecRef<'_>> {
    pod_specs_in(&hook.manifest)
}

/// [`pod_specs`] for a bare manifest; the kind is read from the manifest.
pub fn pod_specs_in(manifest: &Value) -> Vec<PodSpecRef<'_>> {
    let Some(keys) = manifest_kind(manifest).and_then(pod_spec_keys) else {
        return Vec::new();
    };
    // Key by key rather than through a JSON pointer: guards call this for every hook,
    // and a pointer means building and re-splitting a string each time.
    match keys.iter().try_fold(manifest, |value, key| value.get(key)) {
        Some(spec @ Value::Object(_)) => vec![PodSpecRef {
            path: FieldPath::of(keys),
            spec,
        }],
        _ => Vec::new(),
    }
}

/// Mutable access to every pod spec of a manifest, for mutators.
pub fn pod_specs_mut(manifest: &mut Value) -> Vec<PodSpecMut<'_>> {
    let Some(keys) = manifest_kind(manifest).and_then(pod_spec_keys) else {
        return Vec::new();
    };
    match keys
        .iter()
        .try_fold(manifest, |value, key| value.get_mut(key))
    {
        Some(spec @ Value::Object(_)) => vec![PodSpecMut {
            path: FieldPath::of(keys),
            spec,
        }],
        _ => Vec::new(),
    }
}

fn manifest_kind(manifest: &Value) -> Option<&str> {
    manifest.get("kind")?.as_str()
}

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    Container,
    Init,
    Ephemeral,
}

impl ContainerKind {
    pub const ALL: [ContainerKind; 3] = [
        ContainerKind::Container,
        ContainerKind::Init,
        ContainerKind::Ephemeral,
    ];

    /// The pod spec field holding this list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::Init => "initContainers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// Security context fields a `PodSecurityContext` also has: for these the container's
/// value overrides the pod's. Every other field exists on containers only.
const POD_LEVEL_SECURITY_FIELDS: [&str; 7] = [
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
];

/// A pod spec inside a manifest.
#[derive(Debug, Clone)]
pub struct PodSpecRef<'a> {
    /// Where the pod spec is, e.g. `spec.template.spec`.
    pub path: FieldPath,
    pub spec: &'a Value,
}

impl<'a> PodSpecRef<'a> {
    /// A field of the pod spec.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.spec.get(field)
    }

    /// Containers, then init containers, then ephemeral containers.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'a>> + '_ {
        ContainerKind::ALL.into_iter().flat_map(move |kind| {
            let list = self.spec.get(kind.field()).and_then(Value::as_array);
            list.into_iter()
                .flatten()
                .enumerate()
                .map(move |(index, container)| ContainerRef {
                    kind,
                    index,
                    path: self.path.key(kind.field()).index(index),
                    container,
                    pod: self.clone(),
                })
        })
    }

    /// The pod's volumes with their paths.
    pub fn volumes(&self) -> impl Iterator<Item = (FieldPath, &'a Value)> + '_ {
        let list = self.spec.get("volumes").and_then(Value::as_array);
        list.into_iter()
            .flatten()
            .enumerate()
            .map(|(i, v)| (self.path.key("volumes").index(i), v))
    }
}

/// One container of a pod spec.
#[derive(Debug, Clone)]
pub struct ContainerRef<'a> {
    pub kind: ContainerKind,
    /// Position in its list.
    pub index: usize,
    /// Where the container is, e.g. `spec.template.spec.initContainers[1]`.
    pub path: FieldPath,
    pub container: &'a Value,
    /// The pod spec the container belongs to.
    pub pod: PodSpecRef<'a>,
}

/// A security setting and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<'a> {
    pub value: &'a Value,
    pub path: FieldPath,
}

impl<'a> ContainerRef<'a> {
    /// The container's name (empty when the manifest has none).
    pub fn name(&self) -> &'a str {
        self.container
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn image(&self) -> Option<&'a str> {
        self.container.get("image")?.as_str()
    }

    /// A field of the container.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.container.get(field)
    }

    /// The security setting Kubernetes applies to this container: the container's
    /// `securityContext.<field>`, else the pod's for fields a pod can set.
    pub fn effective_security(&self, field: &str) -> Option<Setting<'a>> {
        let own = self
            .container
            .get("securityContext")
            .and_then(|sc| sc.get(field));
        if let Some(value) = own.filter(|v| !v.is_null()) {
            let path = self.path.key("securityContext").key(field);
            return Some(Setting { value, path });
        }
        if !POD_LEVEL_SECURITY_FIELDS.contains(&field) {
            return None;
        }
        let value = self.pod.spec.get("securityContext")?.get(field)?;
        let path = self.pod.path.key("securityContext").key(field);
        (!value.is_null()).then_some(Setting { value, path })
    }
}

/// A mutable pod spec inside a manifest.
#[derive(Debug)]
pub struct PodSpecMut<'a> {
    pub path: FieldPath,
    pub spec: &'a mut Value,
}

impl PodSpecMut<'_> {
    /// Every container object, in the order of [`PodSpecRef::containers`].
    pub fn containers_mut(&mut self) -> Vec<(ContainerKind, usize, &mut Value)> {
        let Some(spec) = self.spec.as_object_mut() else {
            return Vec::new();
        };
        let mut lists: Vec<(ContainerKind, &mut Value)> = spec
            .iter_mut()
            .filter_map(|(k, v)| {
                let kind = ContainerKind::ALL.into_iter().find(|c| c.field() == k)?;
                Some((kind, v))
            })
            .collect();
        lists.sort_by_key(|(kind, _)| ContainerKind::ALL.iter().position(|c| c == kind));
        lists
            .into_iter()
            .filter_map(|(kind, v)| Some((kind, v.as_array_mut()?)))
            .flat_map(|(kind, list)| list.iter_mut().enumerate().map(move |(i, c)| (kind, i, c)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
