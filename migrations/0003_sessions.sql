-- Migration number: 0003 	 admin app sessions, login throttling

-- Browser sessions of the admin app. Only the SHA-256 of the session id is stored.
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'key')),
  key_id TEXT,
  created_at TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Failed logins per client and 15-minute window.
CREATE TABLE login_failures (
  client TEXT NOT NULL,
  window TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (client, window)
);
