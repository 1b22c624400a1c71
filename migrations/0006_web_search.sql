-- Migration number: 0006 	 web search: the provider settings and search usage

-- One row (id 1): the chosen provider (NULL: web search off) and each provider's
-- credential. Keys and the SearXNG URL (which may carry a basic-auth password) are
-- stored sealed when TOKEN_ENCRYPTION_KEY is set, each under its own column's label.
-- Providers are checked by the Worker, not here, so adding one needs no table rebuild.
CREATE TABLE search_config (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  provider TEXT,
  tavily_key TEXT,
  microsoft_grounding_key TEXT,
  brave_key TEXT,
  searxng_url TEXT,
  updated_at TEXT NOT NULL
);

-- Searches per key, provider and hour; failed ones also count in `errors`.
CREATE TABLE search_usage (
  key_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  hour TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, provider, hour)
);
CREATE INDEX search_usage_hour ON search_usage (hour);
