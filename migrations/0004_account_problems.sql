-- Migration number: 0004 	 accounts that need the admin's attention

-- Why an account cannot serve right now (e.g. GitHub revoked its token); NULL when fine.
ALTER TABLE github_accounts ADD COLUMN problem TEXT;
