#!/usr/bin/env bash
# Deploys PromptVault to Cloudflare as its own service per environment:
#   scripts/deploy.sh staging|production        (make deploy ENV=...)
# Creates the D1 database, KV namespace and queues the first time (writing
# their ids into wrangler.toml's [env.<ENV>] section), applies schema.sql to
# the remote database (idempotent), sets the bootstrap admin secret once
# (printing it), builds and runs `wrangler deploy --env <ENV>`.
# Needs `npx wrangler login` (or CLOUDFLARE_API_TOKEN) first.
#   scripts/deploy.sh --check [staging|production]   dry run, no account:
# bundles exactly what would be uploaded and reports its size against
# Cloudflare's limits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export WRANGLER_SEND_METRICS=false
wrangler() { npx --no-install wrangler "$@"; }

if [ "${1:-}" = "--check" ]; then
  env="${2:-production}"
  out="$(mktemp -d)"
  log="$(wrangler deploy --dry-run --outdir "$out" --env "$env" 2>&1)" || { echo "$log"; exit 1; }
  gz_kib="$(echo "$log" | sed -n 's/.*gzip: \([0-9.]*\) KiB.*/\1/p')"
  total_kib="$(echo "$log" | sed -n 's/.*Total Upload: \([0-9.]*\) KiB.*/\1/p')"
  test -n "$gz_kib" || { echo "$log"; echo "no size in wrangler's output"; exit 1; }
  # Cloudflare: 3 MB compressed on the free plan, 10 MB on paid plans.
  awk -v gz="$gz_kib" -v total="$total_kib" -v env="$env" 'BEGIN {
    printf "deploy check (%s): bundle %.0f KiB, %.0f KiB gzipped = %.1f%% of the 3 MiB free-plan limit (10 MiB paid)\n", env, total, gz, gz * 100 / 3072;
    exit (gz < 3072) ? 0 : 1 }'
  ls "$out" | grep -q '\.wasm$' || { echo "the bundle has no wasm module"; exit 1; }
  rm -rf "$out"
  exit 0
fi

env="${1:?usage: scripts/deploy.sh staging|production | --check [env]}"
case "$env" in staging|production) ;; *) echo "ENV must be staging or production"; exit 2 ;; esac

# The id wrangler.toml holds for a binding of [env.<env>] (placeholders are all zeros but the last digit).
current_id() { awk -v sect="[[env.$env.$1]]" '$0 == sect {on=1; next} /^\[/ {on=0} on && /(database_id|id) =/ {gsub(/"/, "", $3); print $3; exit}' wrangler.toml; }
set_id() { # $1 section, $2 new id
  awk -v sect="[[env.$env.$1]]" -v id="$2" '$0 == sect {on=1} /^\[/ && $0 != sect {on=0} on && /(database_id|id) =/ {sub(/"[^"]*"/, "\"" id "\"")} {print}' wrangler.toml > wrangler.toml.new
  mv wrangler.toml.new wrangler.toml
}
is_placeholder() { [[ "$1" =~ ^0000000 ]]; }

db="pvct-$env"
if is_placeholder "$(current_id d1_databases)"; then
  echo "==> creating D1 database $db"
  id="$(wrangler d1 create "$db" 2>&1 | sed -n 's/.*"\{0,1\}database_id"\{0,1\}[ =:]*"\([0-9a-f-]*\)".*/\1/p' | head -1)"
  test -n "$id" || { echo "could not read the new database id"; exit 1; }
  set_id d1_databases "$id"
fi
if is_placeholder "$(current_id kv_namespaces)"; then
  echo "==> creating KV namespace"
  id="$(wrangler kv namespace create KV --env "$env" 2>&1 | sed -n 's/.*id[" =:]*"\([0-9a-f]\{32\}\)".*/\1/p' | head -1)"
  test -n "$id" || { echo "could not read the new KV namespace id"; exit 1; }
  set_id kv_namespaces "$id"
fi
# One queue per kind of work and one dead-letter queue (wrangler.toml).
queues="$(wrangler queues list 2>/dev/null || true)"
for kind in telemetry evaluations deliveries publish dead-letters; do
  q="pvct-$kind-$env"
  grep -qE "(^|[^a-z-])$q([^a-z-]|$)" <<<"$queues" || { echo "==> creating queue $q"; wrangler queues create "$q"; }
done

# The raw telemetry log (R2).
bucket="pvct-telemetry-$env"
wrangler r2 bucket list 2>/dev/null | grep -qE "(^|[^a-z-])$bucket([^a-z-]|$)" || { echo "==> creating R2 bucket $bucket"; wrangler r2 bucket create "$bucket"; }

echo "==> applying schema.sql to $db (and migrating a database made by an earlier version)"
"$root/scripts/migrate-db.sh" --remote --env "$env"

if ! wrangler secret list --env "$env" 2>/dev/null | grep -q PVCT_ADMIN_KEY; then
  key="pvct_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
  printf '%s' "$key" | wrangler secret put PVCT_ADMIN_KEY --env "$env"
  echo "==> bootstrap admin key for $env (shown once; keep it in your secret store): $key"
fi

# The key that seals secrets at rest (AES-256-GCM). Set once; rotating it
# is README "Secrets at rest". Losing it loses the stored judge keys and
# webhook secrets (they must be set again), nothing else.
if ! wrangler secret list --env "$env" 2>/dev/null | grep -q '"PVCT_ENCRYPTION_KEY"'; then
  head -c 32 /dev/urandom | base64 | tr -d '\n' | wrangler secret put PVCT_ENCRYPTION_KEY --env "$env"
  echo "==> PVCT_ENCRYPTION_KEY set for $env (keep a copy in your secret store: secrets sealed with it need it)"
fi

make build
wrangler deploy --env "$env"
scripts/deploy.sh --check "$env"
