#!/usr/bin/env bash
# Applies schema.sql to a D1 database and brings databases made by earlier
# versions up to it (schema.sql only creates what is missing). Idempotent.
# Usage: migrate-db.sh <wrangler d1 target flags>, e.g. --local --persist-to DIR
#        or --remote --env production.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=1
d1() { npx --no-install wrangler d1 execute DB "$@" >/dev/null; }
has() { npx --no-install wrangler d1 execute DB "$@" >/dev/null 2>&1; }
# add <target flags…> -- <probe query> <ALTER statements>: runs the ALTERs
# when the probe fails. A probe can fail for another reason than a missing
# column (wrangler itself failing on a loaded machine); then the ALTERs fail
# on the existing column, and the probe is asked again before giving up.
add() {
  local args=() probe alter
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  probe="$1" alter="$2"
  has "${args[@]}" --command "$probe" && return 0
  d1 "${args[@]}" --command "$alter" 2>/dev/null || has "${args[@]}" --command "$probe"
}

d1 "$@" --file schema.sql
# Databases made before prompt_versions.resolved_content existed.
add "$@" -- "SELECT resolved_content FROM prompt_versions LIMIT 0" \
  "ALTER TABLE prompt_versions ADD COLUMN resolved_content TEXT"
# Databases made before approvals recorded what they ask for (a promotion or
# a split) and the state they were asked on: the table is rebuilt, every old
# request becomes a promotion asked against sequence 0.
# Probed by the old shape's column, so a failing probe skips the rebuild.
if has "$@" --command "SELECT version_id FROM approvals LIMIT 0"; then
  d1 "$@" --command "DROP INDEX IF EXISTS approvals_workspace; DROP INDEX IF EXISTS approvals_pending; \
    ALTER TABLE approvals RENAME TO approvals_v1"
  d1 "$@" --file schema.sql
  d1 "$@" --command "INSERT INTO approvals \
    (id, workspace_id, prompt_id, environment_id, change, base_seq, reason, status, requested_by, requested_by_key, \
     decided_by, decision_note, created_at, decided_at) \
    SELECT a.id, a.workspace_id, a.prompt_id, a.environment_id, json_object('kind', 'promote', 'version', v.number), 0, \
     a.reason, a.status, a.requested_by, a.requested_by_key, a.decided_by, a.decision_note, a.created_at, a.decided_at \
    FROM approvals_v1 a JOIN prompt_versions v ON v.id = a.version_id; DROP TABLE approvals_v1"
fi
# Databases made before deliveries had a due time (the outbox sweeper).
add "$@" -- "SELECT due_at FROM webhook_deliveries LIMIT 0" "ALTER TABLE webhook_deliveries ADD COLUMN due_at TEXT"
d1 "$@" --command "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, due_at)"
# Databases made before the raw telemetry moved to R2: latency histograms
# move into version_rollups.latency (summed from latency_buckets once). The
# old raw tables (executions, feedback, execution_scores, latency_buckets)
# are no longer written or read; drop them once their rows are not needed.
if ! has "$@" --command "SELECT latency FROM version_rollups LIMIT 0"; then
  if d1 "$@" --command "ALTER TABLE version_rollups ADD COLUMN latency TEXT NOT NULL DEFAULT '{}'" 2>/dev/null; then
    if has "$@" --command "SELECT bucket FROM latency_buckets LIMIT 0"; then
      d1 "$@" --command "UPDATE version_rollups SET latency = (SELECT json_group_object(b.bucket, b.count) \
        FROM latency_buckets b WHERE b.version_id = version_rollups.version_id \
        AND b.environment = version_rollups.environment AND b.hour = version_rollups.hour) \
        WHERE EXISTS (SELECT 1 FROM latency_buckets b WHERE b.version_id = version_rollups.version_id \
        AND b.environment = version_rollups.environment AND b.hour = version_rollups.hour)"
    fi
  else
    # The column is there: the probe failed for another reason.
    has "$@" --command "SELECT latency FROM version_rollups LIMIT 0"
  fi
fi
# Databases made before test suites could run on the workspace's provider.
add "$@" -- "SELECT provider_url FROM workspace_settings LIMIT 0" \
  "ALTER TABLE workspace_settings ADD COLUMN provider_url TEXT; \
    ALTER TABLE workspace_settings ADD COLUMN provider_model TEXT; \
    ALTER TABLE workspace_settings ADD COLUMN provider_api_key TEXT"
# Databases made before people signed in (members, Access, notifications)
# or before deployments recorded their bytes: each column added on its own
# (some may be there already), then the probe must hold.
probe="SELECT a.person_email, d.bytes FROM audit_log a, deployments d LIMIT 0"
if ! has "$@" --command "$probe"; then
  for alter in "ALTER TABLE audit_log ADD COLUMN person_email TEXT" \
    "ALTER TABLE audit_log ADD COLUMN person_name TEXT" \
    "ALTER TABLE api_keys ADD COLUMN created_by_person TEXT" \
    "ALTER TABLE approvals ADD COLUMN requested_by_person TEXT" \
    "ALTER TABLE workspace_settings ADD COLUMN default_role TEXT" \
    "ALTER TABLE webhooks ADD COLUMN channel TEXT NOT NULL DEFAULT 'webhook'" \
    "ALTER TABLE webhooks ADD COLUMN sender TEXT" \
    "ALTER TABLE deployments ADD COLUMN bytes INTEGER"; do
    d1 "$@" --command "$alter" 2>/dev/null || true
  done
  has "$@" --command "$probe"
fi
