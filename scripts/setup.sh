#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, idempotently:
# - the `wasm32-wasip2` target, to build policies;
# - `kubectl` (Debian's `kubernetes-client`) when none is on PATH, for the emulator's
#   fidelity tests and the benchmark against kubectl;
# - real Helm 4 (PyPI's helm-python-sdk, pinned) in a venv under target/tools, for the
#   differential suite and the run benchmark (scripts/setup-helm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "setup: installing the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi

if ! command -v kubectl >/dev/null 2>&1; then
    echo "setup: kubectl not found; installing Debian's kubernetes-client" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kubernetes-client
fi

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "setup: python3 cannot make venvs; installing Debian's python3-venv" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
fi
scripts/setup-helm.sh

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "setup: cargo-nextest not found; tests will run with cargo test" >&2
fi
