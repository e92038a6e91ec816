"""pod-limits: a kubectl-hooks validator written in Python.

Denies hook pods whose containers (init containers too) have no CPU or memory limit, or
may run as root. Built into a component with componentize-py by
`scripts/build-policies.sh`; the `wit_world` package is generated from `wit/policy.wit`
at build time.

Settings (all optional):
  require:     the limits every container must set (default ["cpu", "memory"])
  exemptHooks: hook ids this policy leaves alone, e.g. ["Job/legacy-migrate"]
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

# Where each kind keeps its pod spec.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Job": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

SETTINGS = {"require", "exemptHooks"}


def settings_from(text):
    settings = json.loads(text) if text.strip() else {}
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise Err("invalid settings: expected a mapping")
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise Err(f"invalid settings: unknown field `{unknown[0]}`, expected one of `require`, `exemptHooks`")
    require = settings.get("require", ["cpu", "memory"])
    exempt = settings.get("exemptHooks", [])
    if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
        raise Err("invalid settings: `require` must be a list of resource names")
    if not isinstance(exempt, list) or not all(isinstance(e, str) for e in exempt):
        raise Err("invalid settings: `exemptHooks` must be a list of hook ids")
    return require, set(exempt)


def pod_spec(manifest):
    path = POD_SPEC_PATHS.get(manifest.get("kind"))
    if path is None:
        return None, None
    node = manifest
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None, ".".join(path)


def non_root(pod, container):
    """The effective runAsNonRoot/runAsUser: the container's, else the pod's."""
    pod_ctx = pod.get("securityContext") or {}
    ctx = container.get("securityContext") or {}
    user = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
    if user == 0:
        return False
    if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True:
        return True
    return isinstance(user, int) and user > 0


class Validate(exports.Validate):
    def validate(self, ctx, hooks):
        require, exempt = settings_from(ctx.settings)
        denials = []
        checked = 0
        for hook in hooks:
            if hook.id in exempt:
                continue
            manifest = json.loads(hook.manifest)
            pod, at = pod_spec(manifest)
            if pod is None:
                continue
            checked += 1
            for field in ("initContainers", "containers"):
                for index, container in enumerate(pod.get(field) or []):
                    name = container.get("name", f"#{index}")
                    where = f"{at}.{field}[{index}]"
                    limits = (container.get("resources") or {}).get("limits") or {}
                    missing = [r for r in require if r not in limits]
                    if missing:
                        denials.append(types.Denial(
                            hook_id=hook.id,
                            reason=f"container `{name}` has no {' or '.join(missing)} limit ({where}.resources.limits)",
                        ))
                    if not non_root(pod, container):
                        denials.append(types.Denial(
                            hook_id=hook.id,
                            reason=f"container `{name}` may run as root: set runAsNonRoot: true or a non-zero runAsUser ({where}.securityContext)",
                        ))
        host.log(host.Level.DEBUG, f"checked {checked} pod spec(s), {len(denials)} denial(s)")
        return denials
