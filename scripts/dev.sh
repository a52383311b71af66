#!/usr/bin/env bash
# make dev: install, build, set up local D1, seed the demo workspace, print its
# admin key and serve the worker in workerd with local D1, KV and Queue.
# Data persists in .wrangler/state between runs; Ctrl-C stops every process.
# PVCT_STATE=<dir> keeps the data (and the key file) there instead, and
# PVCT_NO_BUILD=1 serves what was built: the console's browser tests run
# this very script that way, on state of their own.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${PORT:-8787}"

if [ "${PVCT_NO_BUILD:-}" != 1 ]; then
  scripts/install.sh
  scripts/build-worker.sh
  scripts/build-console.sh
fi

# The admin key: PVCT_ADMIN_KEY if set, else the one this checkout generated
# before (so running twice keeps working keys), else a new one.
keep="${PVCT_STATE:-.pvct}"
mkdir -p "$keep"
if [ -n "${PVCT_ADMIN_KEY:-}" ]; then
  key="$PVCT_ADMIN_KEY"
elif [ -f "$keep/dev-admin-key" ]; then
  key="$(cat "$keep/dev-admin-key")"
else
  key="pvct_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
  printf '%s' "$key" >"$keep/dev-admin-key"
fi
if ! [[ "$key" =~ ^pvct_[0-9a-f]{48}$ ]]; then
  echo "PVCT_ADMIN_KEY must be pvct_ followed by 48 lowercase hex characters" >&2
  exit 2
fi
state=()
vars=.dev.vars
if [ -n "${PVCT_STATE:-}" ]; then
  state=(--persist-to "$PVCT_STATE")
  vars="$PVCT_STATE/.dev.vars"
fi
# The key that seals secrets at rest (judge keys, webhook secrets): kept
# beside the admin key, so secrets stored by an earlier run still open.
if [ ! -f "$keep/dev-encryption-key" ]; then
  head -c 32 /dev/urandom | base64 >"$keep/dev-encryption-key"
fi
printf 'PVCT_ADMIN_KEY=%s\nPVCT_ENCRYPTION_KEY=%s\n' "$key" "$(cat "$keep/dev-encryption-key")" >"$vars"
# PVCT_DEV_VARS: more KEY=value lines for the worker (e.g. ACCESS_TEAM_DOMAIN
# and ACCESS_AUD to try Cloudflare Access sign-in locally; the console's
# browser tests point them at a stub JWKS).
if [ -n "${PVCT_DEV_VARS:-}" ]; then
  printf '%s\n' "$PVCT_DEV_VARS" >>"$vars"
fi

scripts/local-db.sh "$key" ${PVCT_STATE:+"$PVCT_STATE"}

cat <<MSG

  PromptVault is starting on http://127.0.0.1:$port
  web console:  http://127.0.0.1:$port/   (sign in with the admin key)
  workspace: demo   (environments: dev, staging, production)
  admin key: $key

  try:  curl -H "Authorization: Bearer $key" http://127.0.0.1:$port/v1/prompts

MSG

export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
# wrangler runs in its own process group so Ctrl-C can take workerd with it.
setsid npx --no-install wrangler dev --ip 127.0.0.1 --port "$port" --env-file "$vars" "${state[@]}" \
  --show-interactive-dev-session=false &
pid=$!
stop() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap stop INT TERM EXIT
wait "$pid"
