#!/usr/bin/env bash
# The Langfuse-compatible API against the official Langfuse clients, unmodified:
# @langfuse/client 5 and the legacy langfuse 3 (npm, pinned in package.json)
# and the Python langfuse 5 (PyPI, pinned here, in target/compat-venv, created
# or reinstalled only when missing or of another version). The tests start the
# built worker (make build) in workerd. Works unattended (CI=true, no stdin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/target/compat-venv"
LANGFUSE_PY_VERSION=5.0.4
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

python3 -c 'import sys; assert sys.version_info >= (3, 11), "the Python langfuse client needs Python 3.11+"'
installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("langfuse"))' 2>/dev/null || true)"
if [ "$installed" != "$LANGFUSE_PY_VERSION" ]; then
  echo "==> pip install langfuse==$LANGFUSE_PY_VERSION into target/compat-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "langfuse==$LANGFUSE_PY_VERSION"
fi

cd "$root"
exec node --test --test-concurrency=1 tests/compat/ "$@"
