-- Migration number: 0001 	 API keys, GitHub accounts, usage

-- Raw keys are never stored: only their SHA-256 and a short non-secret prefix to show.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_used_at TEXT
);

-- One row per GitHub user; `token` is the GitHub OAuth token and never leaves the Worker.
CREATE TABLE github_accounts (
  id INTEGER PRIMARY KEY,
  login TEXT NOT NULL,
  name TEXT,
  avatar_url TEXT,
  token TEXT NOT NULL,
  account_type TEXT NOT NULL DEFAULT 'individual'
    CHECK (account_type IN ('individual', 'business', 'enterprise')),
  active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
  created_at TEXT NOT NULL
);
-- At most one active account.
CREATE UNIQUE INDEX github_accounts_one_active ON github_accounts (active) WHERE active = 1;

-- Hourly counters per key and resolved model; requests add to them with an upsert.
CREATE TABLE usage (
  key_id TEXT NOT NULL,
  model TEXT NOT NULL,
  hour TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens INTEGER NOT NULL DEFAULT 0,
  cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, model, hour)
);
CREATE INDEX usage_hour ON usage (hour);
