#!/usr/bin/env bash
# Installs real Helm for the end-to-end tests and the run benchmark, idempotently: PyPI's
# helm-python-sdk (Helm 4's Go SDK as a C library with a Python binding, no helm binary),
# pinned, in a venv under target/tools/helm-venv of this checkout. The tests and the
# benchmark run `target/tools/helm-venv/bin/python tests/helm/driver.py`.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.2.2
venv=target/tools/helm-venv
python="$venv/bin/python"

installed() {
    [ -x "$python" ] && "$python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('helm-python-sdk') != '$version')" 2>/dev/null
}

if installed; then
    exit 0
fi
echo "setup: installing helm-python-sdk $version (Helm 4's SDK) into $venv" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
"$python" -m pip install --quiet --disable-pip-version-check "helm-python-sdk==$version"
installed || { echo "setup: helm-python-sdk $version did not install" >&2; exit 1; }
"$python" -c 'import helm_python as h; print("setup: Helm SDK", h.helm_sdk_version(), file=__import__("sys").stderr)'
