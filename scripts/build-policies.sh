#!/usr/bin/env bash
# Builds the example policies as WebAssembly components, checks that each artifact is a
# component rather than a core module, and prints the artifact paths:
# - Rust (deny-privileged, allowed-registries, backups-first, job-defaults,
#   tests-together (contract 0.2.0), and rego,
#   which embeds the regorus interpreter), plus any extra packages named as arguments,
#   e.g. test fixture guests: `cargo build --target wasm32-wasip2`;
# - Python (pod-limits) with componentize-py, JavaScript (depends-on) with
#   componentize-js: pinned versions installed by scripts/tools.sh into target/tools/.
#
#   scripts/build-policies.sh [PACKAGE...]
set -euo pipefail
cd "$(dirname "$0")/.."

target=wasm32-wasip2
packages=(deny-privileged allowed-registries backups-first job-defaults tests-together rego "$@")

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
mkdir -p "$stable"
if [ "$(realpath -m "$out")" != "$(realpath -m "$stable")" ]; then
    for p in "${packages[@]}"; do
        artifact="$out/${p//-/_}.wasm"
        # Not through cargo's hard link: replace the file, leave its build output alone.
        if [ -f "$artifact" ]; then cp --remove-destination "$artifact" "$stable/"; fi
    done
fi

# Policies in other languages: rebuilt only when their sources, the contract or the
# tools changed (componentizing takes tens of seconds each).
scripts/tools.sh python node
tools=target/tools
stale() {
    local artifact="$1"
    shift
    [ ! -f "$artifact" ] || [ -n "$(find "$@" -newer "$artifact" -print -quit)" ]
}

artifact="$stable/pod_limits.wasm"
if stale "$artifact" policies/pod-limits/app.py wit "$tools/python/.installed"; then
    echo "build-policies: componentize-py policies/pod-limits" >&2
    "$tools/python/bin/componentize-py" --quiet -d wit/policy.wit -w validator \
        componentize app -p policies/pod-limits -o "$artifact.tmp"
    mv "$artifact.tmp" "$artifact"
fi

artifact="$stable/depends_on.wasm"
if stale "$artifact" policies/depends-on/policy.js wit "$tools/node/.installed"; then
    echo "build-policies: componentize-js policies/depends-on" >&2
    # No wasi:http: a policy has no network, and the host does not link it.
    node "$tools/node/node_modules/@bytecodealliance/componentize-js/src/cli.js" \
        policies/depends-on/policy.js --wit wit/policy.wit --world-name orderer \
        --disable http fetch-event --out "$artifact.tmp" >/dev/null
    mv "$artifact.tmp" "$artifact"
fi

status=0
artifacts=("$stable/pod_limits.wasm" "$stable/depends_on.wasm")
for p in "${packages[@]}"; do artifacts+=("$stable/${p//-/_}.wasm"); done
for artifact in "${artifacts[@]}"; do
    if [ ! -f "$artifact" ]; then
        echo "build-policies: no $artifact was produced (is the crate-type cdylib?)" >&2
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
