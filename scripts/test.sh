#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, formatting, lints, the WebAssembly
# policies and fixtures, then every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Hermetic: compiled-policy caches, the key that authenticates them, and kubectl's
# discovery cache go to a temp dir.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export XDG_CACHE_HOME="$scratch/cache"
export XDG_STATE_HOME="$scratch/state"
export KUBECONFIG="$scratch/no-such-kubeconfig"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Also installs the pinned Python and JavaScript tools into target/tools (scripts/tools.sh),
# which build those policies and validate the JUnit and SARIF reports in the CLI tests.
scripts/build-policies.sh $(cat scripts/wasm-packages.txt 2>/dev/null || true)

# The fixture guests are WebAssembly-only (their export names do not link natively) and
# have no tests of their own: the sandbox's tests run them as components.
exclude=()
for package in $(cat scripts/wasm-packages.txt 2>/dev/null || true); do
    exclude+=(--exclude "$package")
done

if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace "${exclude[@]}" --locked --no-fail-fast
else
    cargo test --workspace "${exclude[@]}" --locked --no-fail-fast
fi

# The fuzz targets, briefly, from their seed corpora: the manifest loader, the policy
# configuration parser, and the checks on policies' answers. A fixed seed, so the suite is
# reproducible; `scripts/fuzz.sh SECONDS` explores with a random one.
FUZZ_SEED=1 FUZZ_RUNS=100000 scripts/fuzz.sh
