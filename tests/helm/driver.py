"""Drives real Helm (helm-python-sdk: Helm 4's Go SDK behind a ctypes binding) for the
end-to-end tests, one request per line.

Each line on stdin is a JSON object naming an `op`; each answer is one JSON line on
stdout: `{"ok": true, "result": ...}` or `{"ok": false, "error": {"type", "message"}}`.
The tests read the emulator's request log between requests, so every action's requests
are known exactly. Helm is driven as its CLI drives it: `--wait=hookOnly` (the CLI's
default), release storage in Secrets, and a fresh client for every request, as every
`helm` command is a fresh process (its client-side rate limiter starts full).

ops:
  connect   {kubeconfig, namespace, storage}
  install   {chart, release, values?, timeout}
  upgrade   {chart, release, values?, timeout}
  rollback  {release, version?, timeout}
  test      {release, timeout, include?, exclude?}: `helm test --filter name=…,!name=…`
  uninstall {release, timeout}
  template  {release}: what `helm template` prints for the stored release: its manifest,
            then each hook as `---\\n# Source: PATH\\nMANIFEST\\n` (pkg/cmd/template.go)
  render    {chart, release, namespace}: the chart's templates rendered for the release,
            by template path (what `helm template --output-dir` writes)
  hooks     {release, revision?}: the stored release's hooks as Helm parsed them: kind,
            name, events, path, and the apiVersion and namespace of their manifests
"""

import json
import sys

import helm_python as helm

# The CLI's default wait mode: hooks are waited on, `before-hook-creation` deletions are not.
WAIT = "hookOnly"


def answer(payload):
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def template(config, release):
    stored = config.get_all(release)
    manifest = stored["summary"]["manifest"]
    out = manifest.strip() + "\n"
    for hook in stored["hooks"]:
        out += "---\n# Source: %s\n%s\n" % (hook["path"], hook["manifest"])
    return out


def hooks(config, release, revision=None):
    out = []
    for hook in config.get_all(release, revision=revision)["hooks"]:
        manifest = helm.values_from_yaml(hook["manifest"])
        out.append(
            {
                "kind": hook["kind"],
                "name": hook["name"],
                "path": hook["path"],
                "events": hook["events"],
                "api_version": manifest.get("apiVersion", ""),
                "namespace": (manifest.get("metadata") or {}).get("namespace"),
            }
        )
    return out


def main():
    settings = None
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "connect":
                settings = {
                    "kubeconfig_path": request["kubeconfig"],
                    "namespace": request["namespace"],
                    "storage_driver": request.get("storage", "secret"),
                }
                answer({"ok": True, "result": None})
                continue
            with helm.Config(**settings) as config:
                result = run(config, op, request)
            answer({"ok": True, "result": result})
        except helm.HelmError as error:
            answer(
                {
                    "ok": False,
                    "error": {"type": type(error).__name__, "message": str(error)},
                }
            )


def run(config, op, request):
    if op in ("install", "upgrade"):
        return getattr(config, op)(
            request["chart"],
            request["release"],
            request.get("values"),
            timeout=request["timeout"],
            wait=WAIT,
        )
    if op == "rollback":
        return config.rollback(
            request["release"],
            version=request.get("version"),
            timeout=request["timeout"],
            wait=WAIT,
        )
    if op == "test":
        return config.test(
            request["release"],
            timeout=request["timeout"],
            include_names=request.get("include"),
            exclude_names=request.get("exclude"),
        )
    if op == "uninstall":
        return config.uninstall(request["release"], timeout=request["timeout"], wait=WAIT)
    if op == "template":
        return template(config, request["release"])
    if op == "render":
        with helm.Chart.load(request["chart"]) as chart:
            return chart.render(None, name=request["release"], namespace=request["namespace"])
    if op == "hooks":
        return hooks(config, request["release"], request.get("revision"))
    raise ValueError("unknown op %r" % op)


if __name__ == "__main__":
    main()
