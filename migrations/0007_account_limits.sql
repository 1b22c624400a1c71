-- Migration number: 0007 	 Copilot usage limits and quota headers per account

-- An account out of Copilot's 5-hour session or weekly usage window serves nothing until
-- `limited_until` (Unix ms; NULL or past: it serves), and which window ran out.
ALTER TABLE github_accounts ADD COLUMN limited_until INTEGER;
ALTER TABLE github_accounts ADD COLUMN limited_window TEXT;

-- What the latest answers' x-quota-snapshot-* and x-usage-ratelimit-* headers reported
-- (JSON), and when (Unix ms): the account's quota without asking GitHub.
ALTER TABLE github_accounts ADD COLUMN quota_headers TEXT;
ALTER TABLE github_accounts ADD COLUMN quota_headers_at INTEGER;
