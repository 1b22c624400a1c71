-- Migration number: 0002 	 error counts, per-key limits, disabled accounts, rate windows

-- Failed requests are counted apart from tokens.
ALTER TABLE usage ADD COLUMN errors INTEGER NOT NULL DEFAULT 0;

-- Optional per-key limits (NULL = none).
ALTER TABLE api_keys ADD COLUMN rpm_limit INTEGER;
ALTER TABLE api_keys ADD COLUMN monthly_token_limit INTEGER;

-- A disabled account keeps its token and history but serves nothing.
ALTER TABLE github_accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

-- Requests per key per minute, only for keys with a requests-per-minute limit.
CREATE TABLE rate_windows (
  key_id TEXT NOT NULL,
  minute TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, minute)
);
