#!/usr/bin/env bash
# Applies schema.sql to a local D1 and seeds the demo workspace.
# Usage: local-db.sh <admin key> [persist dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
key="$1"
persist=()
[ -n "${2:-}" ] && persist=(--persist-to "$2")
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=1
seed="$(mktemp --suffix=.sql)"
trap 'rm -f "$seed"' EXIT
"$root/scripts/seed-sql.sh" "$key" >"$seed"
"$root/scripts/migrate-db.sh" --local "${persist[@]}"
npx --no-install wrangler d1 execute DB --local "${persist[@]}" --file "$seed" >/dev/null
