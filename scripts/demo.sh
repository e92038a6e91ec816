#!/usr/bin/env bash
# The main job without a cluster: builds everything, starts the local Kubernetes API
# emulator, and runs the example chart's lifecycle with the example policies, showing
# each event's plan and policy decisions, the hooks' progress, and a JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "==> building kubectl-hooks, the emulator and the example policies" >&2
cargo build --release --locked -p kubectl-hooks -p hooks-emulator
scripts/build-policies.sh >/dev/null

bin="$PWD/target/release"
work="$(mktemp -d)"
emulator_pid=""
cleanup() {
    if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting the API emulator on a random loopback port" >&2
"$bin/kube-emulator" --kubeconfig "$work/kubeconfig" >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 100); do
    [ -s "$work/kubeconfig" ] && break
    sleep 0.1
done
[ -s "$work/kubeconfig" ] || { cat "$work/emulator.log" >&2; echo "the emulator did not start" >&2; exit 1; }
head -n 1 "$work/emulator.log" >&2

manifests=examples/ledger/rendered.yaml
policies=examples/ledger/policies.yaml
export KUBECONFIG="$work/kubeconfig"

for event in pre-install post-install test pre-delete post-delete; do
    echo
    echo "==================== $event ===================="
    "$bin/kubectl-hooks" plan "$event" -f "$manifests" --policy-config "$policies"
    echo
    "$bin/kubectl-hooks" run "$event" -f "$manifests" --policy-config "$policies" \
        -n default --timeout 2m --report "$work/report-$event.json"
done

echo
echo "==> the post-install report (kubectl hooks run … --report FILE):"
cat "$work/report-post-install.json"
echo
echo "All five events ran against the emulator. Against a real cluster, drop the emulator:"
echo "  kubectl hooks run pre-install -f $manifests --policy-config $policies -n my-namespace"
