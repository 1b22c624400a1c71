-- Migration number: 0005 	 sessions bound to their credential, sliding-window auth throttling

-- A session lives only as long as the credential that opened it. Admin sessions keep a
-- hash of their own id with ADMIN_KEY (a new ADMIN_KEY ends them; the hash alone cannot
-- be used to test guesses of the key without the session id, which is never stored);
-- key sessions keep the key's hash at login (rotating or deleting the key ends them).
ALTER TABLE sessions ADD COLUMN credential TEXT;
-- Sessions opened before sessions were bound cannot be checked: they end now.
DELETE FROM sessions;

-- One row per failed credential check (logins and the admin API), per client: a sliding
-- window is counted from these. At most a window's worth is kept.
CREATE TABLE auth_failures (
  client TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX auth_failures_client ON auth_failures (client, at);
DROP TABLE login_failures;
