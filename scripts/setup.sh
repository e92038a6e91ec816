#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, idempotently:
# - the `wasm32-wasip2` target, to build policies;
# - `kubectl` (Debian's `kubernetes-client`) when none is on PATH, for the emulator's
#   fidelity tests and the benchmark against kubectl.
set -euo pipefail

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

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "setup: cargo-nextest not found; tests will run with cargo test" >&2
fi
