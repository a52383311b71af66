#!/usr/bin/env bash
# The Python SDK's tests: a venv (target/py-venv) with pinned pytest, the
# package installed from ./sdk-python as a user installs it (pip, not
# editable; built from a clean copy so no stale build/ leaks in), then
# pytest over tests/python, which starts the built worker (make build) in
# workerd for the live tests. Works unattended (CI=true, no stdin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/py-venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

python3 -c 'import sys; assert sys.version_info >= (3, 9), "Python 3.9+ is needed"'
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q "pytest==9.0.3"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -C "$root" --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ -cf - sdk-python | tar -C "$tmp" -xf -
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$tmp/sdk-python"

cd "$root/tests/python"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
