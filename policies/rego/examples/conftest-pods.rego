# The two rules every conftest tutorial starts with, "containers must not run as root"
# and "images must not use the latest tag", ported to kubectl-hooks.
#
# Differences from a conftest policy, which sees one manifest as `input`:
#   - `input.hooks` holds every hook of the event, each with its manifest, so a rule
#     iterates over them and names the hook it denies;
#   - the rules look into every kind that carries a pod (Pod, Job, CronJob, Deployment,
#     StatefulSet, DaemonSet, ReplicaSet), containers and init containers alike;
#   - runAsNonRoot is the effective one: the container's, else the pod's.
package kubectl_hooks

import rego.v1

templated := {"Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

pod_spec(manifest) := manifest.spec if manifest.kind == "Pod"

pod_spec(manifest) := manifest.spec.template.spec if manifest.kind in templated

pod_spec(manifest) := manifest.spec.jobTemplate.spec.template.spec if manifest.kind == "CronJob"

containers(pod) := array.concat(object.get(pod, "initContainers", []), object.get(pod, "containers", []))

pod_non_root(pod) := object.get(object.get(pod, "securityContext", {}), "runAsNonRoot", false)

non_root(pod, container) := object.get(object.get(container, "securityContext", {}), "runAsNonRoot", pod_non_root(pod))

deny contains {"hook": hook.id, "msg": msg} if {
	some hook in input.hooks
	pod := pod_spec(hook.manifest)
	some container in containers(pod)
	non_root(pod, container) != true
	msg := sprintf("container `%s` may run as root: set securityContext.runAsNonRoot: true", [container.name])
}

# The tag of an image reference: after the last `:` of its last path segment (a `:` in
# the registry is a port).
tag(image) := t if {
	segments := split(image, "/")
	last := segments[count(segments) - 1]
	contains(last, ":")
	parts := split(last, ":")
	t := parts[count(parts) - 1]
}

pinned(image) if contains(image, "@sha256:")

pinned(image) if {
	not contains(image, "@")
	t := tag(image)
	t != "latest"
}

deny contains {"hook": hook.id, "msg": msg} if {
	some hook in input.hooks
	some container in containers(pod_spec(hook.manifest))
	not pinned(container.image)
	msg := sprintf("container `%s` uses `%s`: pin a tag other than latest, or a digest", [container.name, container.image])
}
