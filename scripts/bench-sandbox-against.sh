#!/usr/bin/env bash
# The sandbox benchmark of this checkout next to the same benchmark at REV, in one run:
# each is built in release, then they run in turns (this, REV, this, REV), all on the
# same guest components (this checkout's `target/wasm32-wasip2/release`), and the
# deny-privileged rows are printed side by side with the sandbox/native ratio of each.
# It answers "did this change cost the fast path?" on whatever machine it runs on.
#
#   scripts/bench-sandbox-against.sh REV        e.g. scripts/bench-sandbox-against.sh e80bded
#
# Runs `scripts/build-policies.sh` first if the guards are not built. REV is checked out
# in a temporary worktree and built into `target/against` (kept, so a second run against
# the same REV is quick): two checkouts of one workspace cannot share a target directory,
# since cargo would take one's workspace crates for the other's.
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:?usage: scripts/bench-sandbox-against.sh REV}"
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target"

if [ ! -f "$target/wasm32-wasip2/release/deny_privileged.wasm" ]; then
    scripts/build-policies.sh
fi

work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/rev" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/rev" "$rev" >/dev/null

bench_binary() {
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo bench -p hooks-sandbox --bench sandbox --no-run --message-format=json 2>/dev/null) |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "sandbox" and m.get("executable"):
        print(m["executable"])'
}
echo "building the benchmark of this checkout and of $rev" >&2
this="$(bench_binary "$root" "$target")"
that="$(bench_binary "$work/rev" "$target/against")"
[ -n "$this" ] && [ -n "$that" ] || { echo "could not build both benchmarks" >&2; exit 1; }

rows() {
    # Only the deny-privileged rows; the binary runs from its crate's directory, as
    # `cargo bench` runs it.
    (cd "$2/crates/sandbox" && BENCH_LANGUAGES=0 "$1" --bench) |
        grep -E '^(sandboxed: deny-privileged|native: parse JSON)' |
        sed -E 's/  +/\t/g'
}
for round in 1 2; do
    rows "$this" "$root" >"$work/this.$round"
    rows "$that" "$work/rev" >"$work/that.$round"
done
python3 - "$work" "$rev" <<'PY'
import re, sys, statistics
work, rev = sys.argv[1], sys.argv[2]
def parse(path):
    out = {}
    for line in open(path):
        what, time = line.rstrip("\n").split("\t")[:2]
        value, unit = re.match(r"([\d.]+)\s*(\S+)", time).groups()
        scale = {"µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
        out[what] = float(value) * scale
    return out
def best(name):
    runs = [parse(f"{work}/{name}.{r}") for r in (1, 2)]
    return {k: min(r[k] for r in runs) for k in runs[0]}
this, that = best("this"), best("that")
print(f"{'hooks':>6}  {'this: sandbox':>14}  {'native':>9}  {'ratio':>6}  {rev + ': sandbox':>14}  {'native':>9}  {'ratio':>6}  {'this/' + rev:>10}")
for n in (1, 100, 1000):
    s, nat = this[f"sandboxed: deny-privileged, {n} hooks"], this[f"native: parse JSON + validate, {n} hooks"]
    s2, nat2 = that[f"sandboxed: deny-privileged, {n} hooks"], that[f"native: parse JSON + validate, {n} hooks"]
    print(f"{n:>6}  {s:>11.3f} ms  {nat:>6.3f} ms  {s/nat:>5.2f}x  {s2:>11.3f} ms  {nat2:>6.3f} ms  {s2/nat2:>5.2f}x  {(s/nat)/(s2/nat2):>9.2f}x")
PY
