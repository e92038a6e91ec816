#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 20), starting from the
# seed corpora in fuzz/corpus/. New inputs go to a scratch directory, so the committed
# seeds only change by hand; a crash is saved under fuzz/artifacts/ and fails the run.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 3600 answers
#
# With FUZZ_SEED set, each target runs with that seed for FUZZ_RUNS inputs (default
# 200000) instead of for SECONDS: the same inputs on every machine, so the test suite's
# short run fails only on a change, never on luck. Long runs explore with a random seed.
#
# cargo-fuzz is installed (pinned) into target/tools. Targets are built without a
# sanitizer (`-s none`): the code fuzzed is safe Rust, and this works on stable Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=(manifests policy_config answers); fi

version=0.13.2
tools="$PWD/target/tools"
if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qF "$version"; then
    echo "fuzz: installing cargo-fuzz $version into $tools" >&2
    cargo install cargo-fuzz --locked --version "$version" --root "$tools" >&2
fi

budget=(-max_total_time="$seconds")
if [ -n "${FUZZ_SEED:-}" ]; then budget=(-seed="$FUZZ_SEED" -runs="${FUZZ_RUNS:-200000}"); fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    echo "fuzz: $target (${budget[*]})" >&2
    mkdir -p "$scratch/$target"
    # -rss_limit_mb: a target that needs more than this for one input has a bug to show.
    "$tools/bin/cargo-fuzz" run --sanitizer none "$target" \
        "$scratch/$target" "fuzz/corpus/$target" \
        -- "${budget[@]}" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1
done
