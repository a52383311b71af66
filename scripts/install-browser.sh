#!/usr/bin/env bash
# Debian's Chromium, for the browser tests of the npm package (playwright-core
# drives it; its own browser download cannot work offline). Only the tests
# need it, so `make dev` does not install it.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  echo "==> apt-get install chromium"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends chromium >/dev/null; }
fi
