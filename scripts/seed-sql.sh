#!/usr/bin/env bash
# Prints the SQL that seeds the demo workspace: environments dev, staging and
# production and an admin key (its SHA-256 only). Idempotent (INSERT OR IGNORE).
# Usage: seed-sql.sh <admin key>
set -euo pipefail
key="$1"
hash="$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)"
prefix="${key:0:13}"
now="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
cat <<SQL
INSERT OR IGNORE INTO workspaces (id, name, display_name, created_at) VALUES ('ws_demo', 'demo', 'Demo workspace', '$now');
INSERT OR IGNORE INTO environments (id, workspace_id, name, position, policy, created_at, updated_at) VALUES
  ('env_demo_dev', 'ws_demo', 'dev', 0, '{}', '$now', '$now'),
  ('env_demo_staging', 'ws_demo', 'staging', 1, '{}', '$now', '$now'),
  ('env_demo_production', 'ws_demo', 'production', 2, '{}', '$now', '$now');
INSERT OR IGNORE INTO api_keys (id, workspace_id, name, role, key_hash, key_prefix, created_by, created_at)
  VALUES ('key_$hash', 'ws_demo', 'bootstrap admin', 'admin', '$hash', '$prefix', 'make dev', '$now');
SQL
