-- PromptVault D1 schema (SQLite dialect).
-- Ids are TEXT (random 128-bit hex), JSON is TEXT checked with json_valid,
-- times are ISO-8601 UTC text. History tables are append-only: triggers
-- refuse UPDATE and DELETE in the database itself, whatever the code does.
-- Every statement is idempotent so the schema can be re-applied safely.

PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS workspaces (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'approver', 'admin')),
  key_hash     TEXT NOT NULL UNIQUE,
  key_prefix   TEXT NOT NULL,
  created_by   TEXT,
  -- The email of the person who created the key: the key acts for them
  -- (four-eyes approval treats it as that person).
  created_by_person TEXT,
  created_at   TEXT NOT NULL,
  revoked_at   TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_workspace ON api_keys (workspace_id, created_at);

-- People: an email, or a group of the identity provider (Access passes
-- group names in the token), with a role in the workspace. People sign in
-- through Cloudflare Access; API keys are for machines.
CREATE TABLE IF NOT EXISTS members (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  email        TEXT,
  group_name   TEXT,
  display_name TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('reader', 'editor', 'approver', 'admin')),
  subscribed   INTEGER NOT NULL DEFAULT 0,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  CHECK ((email IS NULL) <> (group_name IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS members_email ON members (workspace_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS members_group ON members (workspace_id, group_name) WHERE group_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS members_by_email ON members (email);

CREATE TABLE IF NOT EXISTS environments (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  position     INTEGER NOT NULL,
  policy       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(policy)),
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  UNIQUE (workspace_id, name)
);

CREATE TABLE IF NOT EXISTS prompts (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  slug         TEXT NOT NULL,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  kind         TEXT NOT NULL CHECK (kind IN ('text', 'chat', 'snippet')),
  created_by   TEXT,
  created_at   TEXT NOT NULL,
  UNIQUE (workspace_id, slug)
);

CREATE TABLE IF NOT EXISTS prompt_versions (
  id            TEXT PRIMARY KEY,
  prompt_id     TEXT NOT NULL REFERENCES prompts(id),
  number        INTEGER NOT NULL CHECK (number >= 1),
  parent_id     TEXT REFERENCES prompt_versions(id),
  content       TEXT NOT NULL CHECK (json_valid(content)),
  model_params  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(model_params)),
  content_hash  TEXT NOT NULL,
  -- content with every {{> snippet}} replaced by its pinned version's text:
  -- what resolve serves and render renders, fixed at commit.
  resolved_content TEXT CHECK (resolved_content IS NULL OR json_valid(resolved_content)),
  -- {"uses": [...], "declares": [{name, required, default, description}]}
  variables     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(variables)),
  -- {"pins": {slug: version}, "closure": [slugs], "depth": n}
  snippet_pins  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(snippet_pins)),
  author        TEXT NOT NULL,
  commit_msg    TEXT NOT NULL DEFAULT '',
  created_at    TEXT NOT NULL,
  -- Gapless numbering and no lost updates: two commits on the same head
  -- compute the same number and only one of them can insert it.
  UNIQUE (prompt_id, number)
);

CREATE TABLE IF NOT EXISTS deployments (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  id             TEXT NOT NULL UNIQUE,
  workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
  prompt_id      TEXT NOT NULL REFERENCES prompts(id),
  environment_id TEXT NOT NULL REFERENCES environments(id),
  version_id     TEXT NOT NULL REFERENCES prompt_versions(id),
  action         TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
  reason         TEXT NOT NULL DEFAULT '',
  actor          TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  -- What the deployed version adds to its environment's bundle (its
  -- expanded content, model parameters and variables, in bytes), recorded
  -- once so the bundle's size is summed without reading every content.
  bytes          INTEGER
);
CREATE INDEX IF NOT EXISTS deployments_current ON deployments (prompt_id, environment_id, seq);
CREATE INDEX IF NOT EXISTS deployments_environment ON deployments (environment_id, seq);

CREATE TABLE IF NOT EXISTS audit_log (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  id           TEXT NOT NULL UNIQUE,
  workspace_id TEXT NOT NULL,
  actor        TEXT NOT NULL,
  -- The person behind the change (signed in, or who created the key).
  person_email TEXT,
  person_name  TEXT,
  action       TEXT NOT NULL,
  prompt_slug  TEXT,
  target       TEXT NOT NULL DEFAULT '',
  details      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
  created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_workspace ON audit_log (workspace_id, seq);

-- Append-only history.
CREATE TRIGGER IF NOT EXISTS prompt_versions_no_update BEFORE UPDATE ON prompt_versions
BEGIN SELECT RAISE(ABORT, 'prompt_versions is append-only'); END;
CREATE TRIGGER IF NOT EXISTS prompt_versions_no_delete BEFORE DELETE ON prompt_versions
BEGIN SELECT RAISE(ABORT, 'prompt_versions is append-only'); END;
CREATE TRIGGER IF NOT EXISTS deployments_no_update BEFORE UPDATE ON deployments
BEGIN SELECT RAISE(ABORT, 'deployments is append-only'); END;
CREATE TRIGGER IF NOT EXISTS deployments_no_delete BEFORE DELETE ON deployments
BEGIN SELECT RAISE(ABORT, 'deployments is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The release log: one row per change to what an environment serves
-- (promote, rollback, experiment set or end, approval that deploys). seq
-- counts per environment without gaps; the edge documents carry it, so a
-- publish never replaces a newer document with an older one. The primary
-- key is the concurrency guard: two changes planned on the same seq cannot
-- both commit.
CREATE TABLE IF NOT EXISTS releases (
  environment_id TEXT NOT NULL REFERENCES environments(id),
  seq            INTEGER NOT NULL CHECK (seq >= 1),
  workspace_id   TEXT NOT NULL,
  prompt_id      TEXT NOT NULL REFERENCES prompts(id),
  created_at     TEXT NOT NULL,
  PRIMARY KEY (environment_id, seq)
);
CREATE INDEX IF NOT EXISTS releases_prompt ON releases (environment_id, prompt_id, seq);
CREATE TRIGGER IF NOT EXISTS releases_no_update BEFORE UPDATE ON releases
BEGIN SELECT RAISE(ABORT, 'releases is append-only'); END;
CREATE TRIGGER IF NOT EXISTS releases_no_delete BEFORE DELETE ON releases
BEGIN SELECT RAISE(ABORT, 'releases is append-only'); END;

-- A/B splits. At most one running experiment per prompt and environment;
-- ended experiments stay readable as history.
CREATE TABLE IF NOT EXISTS experiments (
  id             TEXT PRIMARY KEY,
  workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
  prompt_id      TEXT NOT NULL REFERENCES prompts(id),
  environment_id TEXT NOT NULL REFERENCES environments(id),
  name           TEXT NOT NULL DEFAULT '',
  salt           TEXT NOT NULL,
  -- [{"version": N, "weight": percent}, ...] in routing order
  variants       TEXT NOT NULL CHECK (json_valid(variants)),
  status         TEXT NOT NULL CHECK (status IN ('running', 'ended')),
  started_by     TEXT NOT NULL,
  started_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  ended_by       TEXT,
  ended_at       TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS experiments_one_running
  ON experiments (prompt_id, environment_id) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS experiments_prompt ON experiments (prompt_id, started_at);

-- Telemetry. Raw executions, feedback and scores are NDJSON objects in R2
-- (the TELEMETRY_LOG bucket), never rows here: D1 holds the hourly rollups
-- per version, one row per (version, environment, hour), and a ledger of
-- the queue messages already counted (one row per message, not per
-- execution). See core/src/rollup.rs and core/src/raw_log.rs.
CREATE TABLE IF NOT EXISTS version_rollups (
  workspace_id  TEXT NOT NULL,
  version_id    TEXT NOT NULL,
  environment   TEXT NOT NULL,
  hour          TEXT NOT NULL,
  calls         INTEGER NOT NULL DEFAULT 0,
  errors        INTEGER NOT NULL DEFAULT 0,
  cost_sum      REAL NOT NULL DEFAULT 0,
  tokens_in     INTEGER NOT NULL DEFAULT 0,
  tokens_out    INTEGER NOT NULL DEFAULT 0,
  score_sum     REAL NOT NULL DEFAULT 0,
  score_sq_sum  REAL NOT NULL DEFAULT 0,
  score_count   INTEGER NOT NULL DEFAULT 0,
  feedback_up   INTEGER NOT NULL DEFAULT 0,
  feedback_down INTEGER NOT NULL DEFAULT 0,
  -- Latency counts by histogram bucket, {"12": 3} (core/src/histogram.rs).
  latency       TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (version_id, environment, hour)
);

-- Queue messages counted into the rollups, by content key: a message
-- counts only if this run's nonce is the one stored (Store::count_once).
-- Kept 7 days (core rollup::LEDGER_DAYS): longer than any retry.
CREATE TABLE IF NOT EXISTS telemetry_ledger (
  workspace_id TEXT NOT NULL,
  key          TEXT NOT NULL,
  nonce        TEXT NOT NULL,
  day          TEXT NOT NULL,
  PRIMARY KEY (workspace_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS telemetry_ledger_day ON telemetry_ledger (workspace_id, day);

-- Changes into environments that require approval (a promotion or a
-- traffic split) wait here until an approver other than the requester
-- decides. base_seq is the prompt's release sequence in the environment when
-- the request was made: deciding it after that moved is refused as stale
-- (status superseded), and a newer request supersedes older pending ones.
CREATE TABLE IF NOT EXISTS approvals (
  id               TEXT PRIMARY KEY,
  workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
  prompt_id        TEXT NOT NULL REFERENCES prompts(id),
  environment_id   TEXT NOT NULL REFERENCES environments(id),
  -- what is asked: {"kind":"promote","version":N,...} or {"kind":"experiment","variants":[...],...}
  change           TEXT NOT NULL CHECK (json_valid(change)),
  base_seq         INTEGER NOT NULL DEFAULT 0,
  reason           TEXT NOT NULL DEFAULT '',
  status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'superseded')),
  requested_by     TEXT NOT NULL,
  requested_by_key TEXT NOT NULL,
  -- The requester's email when a person is known: four eyes compares it.
  requested_by_person TEXT,
  decided_by       TEXT,
  decision_note    TEXT,
  created_at       TEXT NOT NULL,
  decided_at       TEXT
);
CREATE INDEX IF NOT EXISTS approvals_workspace ON approvals (workspace_id, status, created_at);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (prompt_id, environment_id, status);

-- Langfuse-compatible API: a prompt's Langfuse name (any string, folders
-- with '/') and tags. Prompts created natively have no row until the
-- compatibility API names or tags them; their slug is their name.
CREATE TABLE IF NOT EXISTS prompt_names (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name         TEXT NOT NULL,
  prompt_id    TEXT NOT NULL UNIQUE REFERENCES prompts(id),
  tags         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
  PRIMARY KEY (workspace_id, name)
);

-- Per-workspace model prices that override the seeded table (core pricing.rs).
CREATE TABLE IF NOT EXISTS model_prices (
  workspace_id       TEXT NOT NULL REFERENCES workspaces(id),
  model              TEXT NOT NULL,
  input_per_million  REAL NOT NULL,
  output_per_million REAL NOT NULL,
  updated_at         TEXT NOT NULL,
  PRIMARY KEY (workspace_id, model)
);

-- Workspace settings: raw-execution retention and the LLM judge endpoint.
-- judge_api_key is write-only: no query of the API ever selects it for a
-- response; only the queue consumer reads it to call the judge.
CREATE TABLE IF NOT EXISTS workspace_settings (
  workspace_id   TEXT PRIMARY KEY REFERENCES workspaces(id),
  retention_days INTEGER NOT NULL DEFAULT 30,
  judge_url      TEXT,
  judge_model    TEXT,
  judge_api_key  TEXT,
  -- The OpenAI-compatible endpoint server-side test runs call; the key is
  -- write-only and sealed like the judge's.
  provider_url     TEXT,
  provider_model   TEXT,
  provider_api_key TEXT,
  -- The role of people signed in through Access who are not members
  -- (NULL: they are refused).
  default_role   TEXT CHECK (default_role IS NULL OR default_role IN ('reader', 'editor', 'approver', 'admin')),
  updated_at     TEXT NOT NULL
);

-- Per-prompt evaluators (a JSON array, validated by core evaluator.rs).
CREATE TABLE IF NOT EXISTS prompt_evaluators (
  prompt_id    TEXT PRIMARY KEY REFERENCES prompts(id),
  workspace_id TEXT NOT NULL,
  evaluators   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS evaluator_rollups (
  version_id   TEXT NOT NULL,
  environment  TEXT NOT NULL,
  hour         TEXT NOT NULL,
  evaluator    TEXT NOT NULL,
  score_sum    REAL NOT NULL DEFAULT 0,
  score_sq_sum REAL NOT NULL DEFAULT 0,
  score_count  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (version_id, environment, hour, evaluator)
);

-- Workspace webhooks and their delivery log. The secret signs deliveries
-- (HMAC-SHA256) and is shown once, when the webhook is created.
-- Notification channels ride the same pipeline (core/src/notification.rs):
-- channel 'slack' (url: the incoming webhook) and 'email' (url: the
-- Resend API, secret: its key, sender: the From address).
CREATE TABLE IF NOT EXISTS webhooks (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  url          TEXT NOT NULL,
  secret       TEXT NOT NULL,
  events       TEXT NOT NULL,
  channel      TEXT NOT NULL DEFAULT 'webhook' CHECK (channel IN ('webhook', 'slack', 'email')),
  sender       TEXT,
  created_by   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  deleted_at   TEXT
);
CREATE INDEX IF NOT EXISTS webhooks_workspace ON webhooks (workspace_id, deleted_at);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id             TEXT PRIMARY KEY,
  webhook_id     TEXT NOT NULL REFERENCES webhooks(id),
  workspace_id   TEXT NOT NULL,
  event          TEXT NOT NULL,
  payload        TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  response_status INTEGER,
  last_error     TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  -- When the minute sweeper queues it if no job has (the outbox's
  -- deadline); indexed by scripts/migrate-db.sh (webhook_deliveries_due),
  -- which adds the column to databases made before it existed.
  due_at         TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);

-- Background jobs that stopped being retried (worker/src/queue.rs): kept
-- with the message as it came, for admins to read and replay once.
-- workspace_id is '' when an unreadable message names none.
CREATE TABLE IF NOT EXISTS dead_letters (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  queue        TEXT NOT NULL CHECK (queue IN ('telemetry', 'evaluations', 'deliveries', 'publish')),
  kind         TEXT NOT NULL,
  reason       TEXT NOT NULL CHECK (reason IN ('unreadable', 'failed', 'consumer_crashed')),
  attempts     INTEGER NOT NULL,
  body         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  replayed_at  TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_workspace ON dead_letters (workspace_id, created_at);

-- Test suites per prompt: append-only revisions (the current one is the
-- highest), each a JSON document validated by core/src/test_suite.rs.
CREATE TABLE IF NOT EXISTS test_suites (
  prompt_id    TEXT NOT NULL REFERENCES prompts(id),
  revision     INTEGER NOT NULL,
  workspace_id TEXT NOT NULL,
  suite        TEXT NOT NULL CHECK (json_valid(suite)),
  suite_hash   TEXT NOT NULL,
  author       TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (prompt_id, revision)
);
CREATE TRIGGER IF NOT EXISTS test_suites_no_update BEFORE UPDATE ON test_suites
BEGIN SELECT RAISE(ABORT, 'test_suites is append-only'); END;
CREATE TRIGGER IF NOT EXISTS test_suites_no_delete BEFORE DELETE ON test_suites
BEGIN SELECT RAISE(ABORT, 'test_suites is append-only'); END;

-- A run of one suite revision against one version, and one row per case
-- result (passed is NULL while a judge assertion waits for its answer).
CREATE TABLE IF NOT EXISTS test_runs (
  id             TEXT PRIMARY KEY,
  workspace_id   TEXT NOT NULL,
  prompt_id      TEXT NOT NULL REFERENCES prompts(id),
  version_id     TEXT NOT NULL REFERENCES prompt_versions(id),
  version_number INTEGER NOT NULL,
  suite_revision INTEGER NOT NULL,
  mode           TEXT NOT NULL CHECK (mode IN ('provider', 'client')),
  total          INTEGER NOT NULL,
  started_by     TEXT NOT NULL,
  started_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS test_runs_prompt ON test_runs (prompt_id, started_at);

CREATE TABLE IF NOT EXISTS test_results (
  run_id     TEXT NOT NULL REFERENCES test_runs(id),
  case_name  TEXT NOT NULL,
  passed     INTEGER,
  output     TEXT NOT NULL,
  error      TEXT,
  latency_ms REAL,
  cost_usd   REAL,
  grade      TEXT NOT NULL CHECK (json_valid(grade)),
  created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, case_name)
);
