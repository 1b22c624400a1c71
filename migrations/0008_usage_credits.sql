-- Migration number: 0008 	 AI credits per key, model and hour

-- AI credits Copilot billed, in nano-AIU (one credit is 10^9), summed from each answer's
-- copilot_usage.total_nano_aiu.
ALTER TABLE usage ADD COLUMN nano_aiu INTEGER NOT NULL DEFAULT 0;
