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
npx --no-install wrangler d1 execute DB --local "${persist[@]}" --file schema.sql >/dev/null
# Local databases made before prompt_versions.resolved_content existed.
if ! npx --no-install wrangler d1 execute DB --local "${persist[@]}" \
  --command "SELECT resolved_content FROM prompt_versions LIMIT 0" >/dev/null 2>&1; then
  npx --no-install wrangler d1 execute DB --local "${persist[@]}" \
    --command "ALTER TABLE prompt_versions ADD COLUMN resolved_content TEXT" >/dev/null
fi
# Local databases made before approvals recorded what they ask for (a
# promotion or a split) and the state they were asked on: rebuild the table.
if ! npx --no-install wrangler d1 execute DB --local "${persist[@]}" \
  --command "SELECT change FROM approvals LIMIT 0" >/dev/null 2>&1; then
  npx --no-install wrangler d1 execute DB --local "${persist[@]}" \
    --command "DROP INDEX IF EXISTS approvals_workspace; DROP INDEX IF EXISTS approvals_pending; ALTER TABLE approvals RENAME TO approvals_v1" >/dev/null
  npx --no-install wrangler d1 execute DB --local "${persist[@]}" --file schema.sql >/dev/null
  npx --no-install wrangler d1 execute DB --local "${persist[@]}" --command "INSERT INTO approvals \
    (id, workspace_id, prompt_id, environment_id, change, base_seq, reason, status, requested_by, requested_by_key, \
     decided_by, decision_note, created_at, decided_at) \
    SELECT a.id, a.workspace_id, a.prompt_id, a.environment_id, json_object('kind', 'promote', 'version', v.number), 0, \
     a.reason, a.status, a.requested_by, a.requested_by_key, a.decided_by, a.decision_note, a.created_at, a.decided_at \
    FROM approvals_v1 a JOIN prompt_versions v ON v.id = a.version_id; DROP TABLE approvals_v1" >/dev/null
fi
npx --no-install wrangler d1 execute DB --local "${persist[@]}" --file "$seed" >/dev/null
