-- Migration number: 0009 	 model aliases an admin defines

-- An alias and the models it stands for, in order of preference (a JSON array of ids):
-- the first the catalog has serves.
CREATE TABLE model_aliases (
  alias TEXT PRIMARY KEY COLLATE NOCASE,
  models TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
