//! Token usage, the one shape every API's usage is read into.

use serde_json::Value;

/// Token usage as reported upstream. `input_tokens` counts every prompt token, cached or
/// not (OpenAI's convention); Anthropic's `input_tokens` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    /// AI credits Copilot billed (`copilot_usage.total_nano_aiu`; 10^9 per credit). Read
    /// from the upstream answer by the relay and the pipeline around a translator.
    pub nano_aiu: u64,
}

impl Usage {
    /// Adds another answer's usage (the turns of one request), saturating.
    pub fn add(&mut self, o: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(o.cache_creation_tokens);
        self.nano_aiu = self.nano_aiu.saturating_add(o.nano_aiu);
    }
}

/// Anthropic usage (input excludes cache reads and writes) into the inclusive convention.
pub fn anthropic_usage_into(usage: &mut Usage, u: &Value) {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let read = n("cache_read_input_tokens");
    let created = n("cache_creation_input_tokens");
    if let Some(input) = n("input_tokens") {
        usage.input_tokens = input
            .saturating_add(read.unwrap_or(0))
            .saturating_add(created.unwrap_or(0));
    }
    if let Some(r) = read {
        usage.cache_read_tokens = r;
    }
    if let Some(c) = created {
        usage.cache_creation_tokens = c;
    }
    if let Some(o) = n("output_tokens") {
        usage.output_tokens = o;
    }
}

/// OpenAI usage (Chat `prompt_tokens…` or Responses `input_tokens…`, both inclusive).
pub fn openai_usage_into(usage: &mut Usage, u: &Value) {
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64);
    if let Some(i) = n("/prompt_tokens").or_else(|| n("/input_tokens")) {
        usage.input_tokens = i;
    }
    if let Some(o) = n("/completion_tokens").or_else(|| n("/output_tokens")) {
        usage.output_tokens = o;
    }
    if let Some(c) = n("/prompt_tokens_details/cached_tokens")
        .or_else(|| n("/input_tokens_details/cached_tokens"))
    {
        usage.cache_read_tokens = c;
    }
}
