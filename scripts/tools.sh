#!/usr/bin/env bash
# Installs the pinned tools that build policies written in Python and JavaScript (and
# that the tests use to validate JUnit and SARIF reports) into target/tools/ of the
# checkout. Nothing goes anywhere else, and nothing is installed twice: a stamp records
# which pins each directory holds (delete target/tools to start over).
#
#   target/tools/python  a venv with scripts/tools/requirements.txt: componentize-py,
#                        xmlschema, jsonschema (from PyPI)
#   target/tools/node    `npm ci` of scripts/tools/package.json and its lock:
#                        @bytecodealliance/componentize-js with the StarlingMonkey engine
#                        it ships (from the npm registry; its install downloads nothing
#                        else, and the weval binary it could fetch is only used by
#                        `--aot`, which we do not pass)
#
#   scripts/tools.sh [python] [node]      (both when none is named)
#
# When a tool cannot be installed it says what is missing and how to get it, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/target/tools"
pins="$PWD/scripts/tools"
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(python node)

fail() {
    echo "tools: $*" >&2
    exit 1
}

digest() {
    cat "$@" | sha256sum | cut -d' ' -f1
}

install_python() {
    local dir="$tools/python" stamp
    stamp="$(digest "$pins/requirements.txt")"
    if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$stamp" ]; then
        return
    fi
    command -v python3 >/dev/null 2>&1 ||
        fail "python3 is missing: componentize-py (Python policies) and the report schema checks need Python 3.9 or newer (Debian: apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
        fail "python3 is $(python3 --version 2>&1); componentize-py needs 3.9 or newer"
    echo "tools: installing $(grep -c '==' "$pins/requirements.txt") pinned Python packages into $dir" >&2
    rm -rf "$dir"
    python3 -m venv "$dir" ||
        fail "python3 cannot create a virtual environment (Debian: apt-get install python3-venv)"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        --require-virtualenv -r "$pins/requirements.txt" ||
        fail "pip could not install scripts/tools/requirements.txt from PyPI into $dir: is PyPI reachable (a proxy, PIP_INDEX_URL)? componentize-py ships wheels for Linux x86_64/aarch64, macOS and Windows only"
    "$dir/bin/componentize-py" --version >/dev/null ||
        fail "componentize-py was installed into $dir but does not run on this machine"
    echo "$stamp" >"$dir/.installed"
}

install_node() {
    local dir="$tools/node" stamp
    stamp="$(digest "$pins/package.json" "$pins/package-lock.json")"
    if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$stamp" ]; then
        return
    fi
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
        fail "node and npm are missing: componentize-js (JavaScript policies) needs Node.js 18 or newer (Debian: apt-get install nodejs npm)"
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)' ||
        fail "node is $(node --version); componentize-js needs Node.js 18 or newer"
    echo "tools: installing @bytecodealliance/componentize-js (scripts/tools/package-lock.json) into $dir" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$pins/package.json" "$pins/package-lock.json" "$dir/"
    # No package of the lock has an install script; refusing them keeps it that way.
    npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error ||
        fail "npm could not install scripts/tools/package-lock.json into $dir: is the npm registry reachable (a proxy, npm config get registry)?"
    [ -f "$dir/node_modules/@bytecodealliance/componentize-js/lib/starlingmonkey_embedding.wasm" ] ||
        fail "componentize-js was installed into $dir without its StarlingMonkey engine"
    echo "$stamp" >"$dir/.installed"
}

mkdir -p "$tools"
for tool in "${wanted[@]}"; do
    case "$tool" in
        python) install_python ;;
        node) install_node ;;
        *) fail "unknown tool \`$tool\`; use python or node" ;;
    esac
done
