#!/usr/bin/env bash
# Builds the example policies (and any extra packages named as arguments, e.g. test
# fixture guests) as WebAssembly components for `wasm32-wasip2`, checks that each
# artifact is a component rather than a core module, and prints the artifact paths.
#
#   scripts/build-policies.sh [PACKAGE...]
set -euo pipefail
cd "$(dirname "$0")/.."

target=wasm32-wasip2
packages=(deny-privileged allowed-registries backups-first job-defaults "$@")

if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "build-policies: installing the $target target" >&2
    rustup target add "$target"
fi

# Fast, lean artifacts without touching the workspace's release profile, which the host
# binaries share: these settings apply to this invocation only, and the wasm target has
# its own build directory, so native release builds are not invalidated. opt-level 3
# rather than "s": guards spend their time parsing manifests, and the size-optimised
# build was a fifth slower for 5 % smaller components.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-3}"
export CARGO_PROFILE_RELEASE_LTO="${CARGO_PROFILE_RELEASE_LTO:-true}"
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS="${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-1}"
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-false}"
export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-debuginfo}"

args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
cargo build --release --target "$target" "${args[@]}"

out="${CARGO_TARGET_DIR:-target}/$target/release"
# Policy configs, test suites and the tests name the components by a path in the
# checkout (`target/wasm32-wasip2/release/…`); with the target dir elsewhere, copy them
# there so those paths hold wherever cargo builds.
stable="target/$target/release"
if [ "$(realpath -m "$out")" != "$(realpath -m "$stable")" ]; then
    mkdir -p "$stable"
    for p in "${packages[@]}"; do
        artifact="$out/${p//-/_}.wasm"
        # Not through cargo's hard link: replace the file, leave its build output alone.
        if [ -f "$artifact" ]; then cp --remove-destination "$artifact" "$stable/"; fi
    done
    out="$stable"
fi
status=0
for p in "${packages[@]}"; do
    artifact="$out/${p//-/_}.wasm"
    if [ ! -f "$artifact" ]; then
        echo "build-policies: $p produced no $artifact (is its crate-type cdylib?)" >&2
        status=1
        continue
    fi
    # `\0asm` then the version/layer: 0d 00 01 00 for a component, 01 00 00 00 for a
    # core module (which the host cannot load as a policy).
    header="$(od -An -tx1 -N8 "$artifact" | tr -d ' \n')"
    if [ "$header" != "0061736d0d000100" ]; then
        echo "build-policies: $artifact is not a WebAssembly component (header $header)" >&2
        status=1
        continue
    fi
    echo "$artifact"
done
exit "$status"
