//! Copilot's model catalog: parsed once from `GET /models`, then used to resolve the
//! names clients send and to describe models in `/v1/models`.

use serde_json::{json, Map, Value};

use crate::protocol::error::{ApiError, ErrorKind};

/// Claude Code's 1M-context marker on a model id (`claude-opus-4-8[1m]`).
pub const LONG_CONTEXT_TAG: &str = "[1m]";
/// The beta Claude Code sends for a `[1m]` model, whose id it sends without the tag.
/// Copilot refuses the beta: its 1M windows are models of their own (`-1m` variants).
pub const LONG_CONTEXT_BETA: &str = "context-1m-2025-08-07";
/// The window Claude Code assumes for a `[1m]` model; a smaller one is not offered as such
/// (Claude Code would fill it past its end before compacting).
pub const LONG_CONTEXT_WINDOW: u64 = 1_000_000;
/// Copilot's suffix for the 1M-context variant of a model (`claude-opus-4.8-1m`).
const LONG_CONTEXT_SUFFIX: &str = "-1m";

/// Whether a request asks for the 1M-token window: the `[1m]` tag in its model name, or
/// the context-1m beta in its `anthropic-beta` header.
pub fn wants_long_context(model: &str, anthropic_beta: Option<&str>) -> bool {
    model.to_ascii_lowercase().contains(LONG_CONTEXT_TAG)
        || anthropic_beta
            .unwrap_or("")
            .split(',')
            .any(|b| b.trim() == LONG_CONTEXT_BETA)
}

/// The upstream APIs a model lists in `supported_endpoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    pub messages: bool,
    pub responses: bool,
    pub chat: bool,
}

impl Endpoints {
    /// Reads `supported_endpoints`. A WebSocket Responses endpoint (`ws:/responses`) is
    /// served over HTTP too, which is what the gateway uses (Copilot's WebSocket transport
    /// is the least reliable). A list with nothing the gateway knows says nothing: the
    /// model's endpoints are then probed like a legacy entry's.
    fn from_catalog(listed: &[String]) -> Option<Endpoints> {
        let has = |names: &[&str]| listed.iter().any(|e| names.contains(&e.as_str()));
        let known = has(&[
            "/v1/messages",
            "/responses",
            "ws:/responses",
            "/chat/completions",
            "/embeddings",
        ]);
        known.then(|| Endpoints {
            messages: has(&["/v1/messages"]),
            responses: has(&["/responses", "ws:/responses"]),
            chat: has(&["/chat/completions"]),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    pub id: String,
    pub name: String,
    pub vendor: Option<String>,
    /// `capabilities.type`: "chat", "embeddings", "completion".
    pub model_type: Option<String>,
    /// None when the catalog entry has no `supported_endpoints` (legacy models).
    pub endpoints: Option<Endpoints>,
    pub raw_endpoints: Vec<String>,
    pub context_window: Option<u64>,
    pub max_prompt_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub vision: bool,
    pub tool_calls: bool,
    pub parallel_tool_calls: bool,
    pub streaming: bool,
    pub structured_outputs: bool,
    pub adaptive_thinking: bool,
    pub reasoning_effort: Vec<String>,
    pub picker_enabled: bool,
    pub preview: bool,
}

impl ModelInfo {
    fn from_value(v: &Value) -> Option<ModelInfo> {
        let id = v.get("id")?.as_str()?.to_string();
        let caps = v.get("capabilities");
        let limit = |k: &str| {
            caps.and_then(|c| c.pointer(&format!("/limits/{k}")))
                .and_then(Value::as_u64)
        };
        let supports = |k: &str| {
            caps.and_then(|c| c.pointer(&format!("/supports/{k}")))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            let a = v?.as_array()?;
            Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            )
        };
        let raw_endpoints = strings(v.get("supported_endpoints"));
        let endpoints = raw_endpoints.as_deref().and_then(Endpoints::from_catalog);
        let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Some(ModelInfo {
            name: str_of(v.get("name")).unwrap_or_else(|| id.clone()),
            vendor: str_of(v.get("vendor")),
            model_type: str_of(caps.and_then(|c| c.get("type"))),
            endpoints,
            raw_endpoints: raw_endpoints.unwrap_or_default(),
            context_window: limit("max_context_window_tokens"),
            max_prompt_tokens: limit("max_prompt_tokens"),
            max_output_tokens: limit("max_output_tokens"),
            vision: supports("vision"),
            tool_calls: supports("tool_calls"),
            parallel_tool_calls: supports("parallel_tool_calls"),
            streaming: supports("streaming"),
            structured_outputs: supports("structured_outputs"),
            adaptive_thinking: supports("adaptive_thinking"),
            reasoning_effort: strings(caps.and_then(|c| c.pointer("/supports/reasoning_effort")))
                .unwrap_or_default(),
            picker_enabled: v
                .get("model_picker_enabled")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            preview: v.get("preview").and_then(Value::as_bool).unwrap_or(false),
            id,
        })
    }

    pub fn is_embeddings(&self) -> bool {
        self.model_type.as_deref() == Some("embeddings")
    }

    fn has_long_context(&self) -> bool {
        self.context_window
            .is_some_and(|w| w >= LONG_CONTEXT_WINDOW)
    }

    /// The entry `/v1/models` shows: OpenAI's list item and Anthropic's ModelInfo in one
    /// object, plus the limits and capabilities agents need to size their prompts.
    pub fn describe(&self) -> Value {
        let owned_by = self
            .vendor
            .as_deref()
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_else(|| "github-copilot".into());
        json!({
            "id": self.id,
            "object": "model",
            "type": "model",
            "created": 0,
            "created_at": "1970-01-01T00:00:00Z",
            "owned_by": owned_by,
            "display_name": self.name,
            "model_type": self.model_type,
            "context_window": self.context_window,
            "max_prompt_tokens": self.max_prompt_tokens,
            "max_output_tokens": self.max_output_tokens,
            "capabilities": {
                "vision": self.vision,
                "tool_calls": self.tool_calls,
                "parallel_tool_calls": self.parallel_tool_calls,
                "streaming": self.streaming,
                "structured_outputs": self.structured_outputs,
                "thinking": self.adaptive_thinking || !self.reasoning_effort.is_empty(),
                "reasoning_effort": self.reasoning_effort,
            },
            "supported_endpoints": self.raw_endpoints,
            "preview": self.preview,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
}

impl Catalog {
    /// Parses Copilot's `{"data":[...]}`. Entries without an id are skipped and repeated
    /// ids (Copilot sometimes lists one twice) keep their first entry.
    pub fn parse(body: &str) -> Result<Catalog, String> {
        let v: Value =
            serde_json::from_str(body).map_err(|e| format!("model list is not JSON: {e}"))?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or("model list has no data array")?;
        let mut models: Vec<ModelInfo> = Vec::with_capacity(data.len());
        for m in data.iter().filter_map(ModelInfo::from_value) {
            if !models.iter().any(|x| x.id == m.id) {
                models.push(m);
            }
        }
        Ok(Catalog { models })
    }

    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Resolves a client's model name to a catalog entry: the exact id first, then
    /// Claude Code's dashed and dated spellings (`claude-sonnet-4-5-20250929` →
    /// `claude-sonnet-4.5`). Unknown names get a 404 that lists the closest ids.
    pub fn resolve(&self, requested: &str) -> Result<&ModelInfo, ApiError> {
        if let Some(m) = self.get(requested) {
            return Ok(m);
        }
        for candidate in name_candidates(requested) {
            if let Some(m) = self
                .models
                .iter()
                .find(|m| m.id.eq_ignore_ascii_case(&candidate))
            {
                return Ok(m);
            }
        }
        Err(self.unknown_model(requested))
    }

    /// `resolve`, then the 1M-context model when the request asks for one (see
    /// `wants_long_context`) and the catalog has one for it; else the model itself, whose
    /// own limits then apply (and an overflow makes Claude Code compact).
    pub fn resolve_for(
        &self,
        requested: &str,
        anthropic_beta: Option<&str>,
    ) -> Result<&ModelInfo, ApiError> {
        let model = self.resolve(requested)?;
        if !wants_long_context(requested, anthropic_beta) {
            return Ok(model);
        }
        Ok(self.long_context_of(model).unwrap_or(model))
    }

    /// The model that serves `base` with a 1M-token window: `base` itself when its window
    /// is that large, else Copilot's `-1m` variant of it.
    pub fn long_context_of<'a>(&'a self, base: &'a ModelInfo) -> Option<&'a ModelInfo> {
        if base.has_long_context() {
            return Some(base);
        }
        let variant = format!("{}{LONG_CONTEXT_SUFFIX}", base.id);
        self.models
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(&variant))
    }

    fn unknown_model(&self, requested: &str) -> ApiError {
        // A name far longer than any id is close to none: no edit distances (their cost
        // grows with the name), and the message quotes only its start.
        let long = requested.len() > MAX_MODEL_NAME;
        let close: Vec<&str> = if long {
            Vec::new()
        } else {
            let wanted = name_candidates(requested)
                .pop()
                .unwrap_or_else(|| requested.to_ascii_lowercase());
            let mut scored: Vec<(usize, &str)> = self
                .models
                .iter()
                .filter(|m| !m.is_embeddings())
                .map(|m| {
                    (
                        edit_distance(&wanted, &m.id.to_ascii_lowercase()),
                        m.id.as_str(),
                    )
                })
                .collect();
            scored.sort();
            scored.iter().take(3).map(|(_, id)| *id).collect()
        };
        let shown: String = if long {
            let head: String = requested.chars().take(MAX_MODEL_NAME).collect();
            format!("{head}…")
        } else {
            requested.to_string()
        };
        let mut msg = format!("model '{shown}' is not available on this Copilot account.");
        if !close.is_empty() {
            msg.push_str(&format!(" Close matches: {}.", close.join(", ")));
        }
        msg.push_str(" GET /v1/models lists every model.");
        ApiError::new(ErrorKind::NotFound, msg)
            .with_param("model")
            .with_code("model_not_found")
    }

    /// `/v1/models`: a list both the OpenAI and the Anthropic SDK can page through. A
    /// Claude model with a 1M-token window is listed a second time as `<id>[1m]`, which
    /// Claude Code's model discovery offers as its 1M-context variant.
    pub fn describe(&self) -> Value {
        self.describe_with(Vec::new())
    }

    /// `describe`, with `extra` entries (the admin's aliases) after the catalog's.
    pub fn describe_with(&self, extra: Vec<Value>) -> Value {
        let mut data: Vec<Value> = Vec::with_capacity(self.models.len() + 4 + extra.len());
        for m in &self.models {
            data.push(m.describe());
            if let Some(long) = self.long_context_entry(m) {
                data.push(long);
            }
        }
        data.extend(extra);
        let mut out = Map::new();
        out.insert("object".into(), json!("list"));
        out.insert("has_more".into(), json!(false));
        out.insert(
            "first_id".into(),
            data.first().map_or(Value::Null, |m| m["id"].clone()),
        );
        out.insert(
            "last_id".into(),
            data.last().map_or(Value::Null, |m| m["id"].clone()),
        );
        out.insert("data".into(), Value::Array(data));
        Value::Object(out)
    }
}

impl Catalog {
    /// `<id>[1m]` for a Claude model whose own window is 1M tokens (a `-1m` variant, or a
    /// model that has that window itself). Claude Code strips the tag before it sends the
    /// id (and sends no beta to a gateway), so only an id that names the 1M model by itself
    /// can carry the choice; the tag tells Claude Code to size its context to that window.
    fn long_context_entry(&self, m: &ModelInfo) -> Option<Value> {
        let claude = m.id.to_ascii_lowercase().starts_with("claude");
        if !claude || m.is_embeddings() || !m.has_long_context() {
            return None;
        }
        let mut entry = m.describe();
        entry["id"] = Value::String(format!("{}{LONG_CONTEXT_TAG}", m.id));
        if !m.name.contains("1M") {
            entry["display_name"] = Value::String(format!("{} (1M context)", m.name));
        }
        Some(entry)
    }
}

/// Longer names are quoted cut in errors and get no close-match search.
const MAX_MODEL_NAME: usize = 256;

/// Spellings to try, most specific first, for a name that is not an exact id.
fn name_candidates(requested: &str) -> Vec<String> {
    let mut base = requested.trim().to_ascii_lowercase();
    // Claude Code's `[1m]` context marker never reaches Copilot as part of the id.
    if let Some(i) = base.find('[') {
        base.truncate(i);
    }
    let mut out = vec![base.clone()];
    if base.starts_with("claude-") {
        let dotted = dot_versions(&base);
        out.push(dotted.clone());
        if let Some(undated) = strip_date(&dotted) {
            out.push(undated.to_string());
        }
        if let Some(s) = dotted.strip_suffix("-latest") {
            out.push(s.to_string());
        }
    }
    out.dedup();
    out
}

/// `claude-opus-4-5` → `claude-opus-4.5`: every `-N-M` (1–2 digit numbers) that ends a
/// segment becomes `-N.M`; dates (8 digits) are left alone.
fn dot_versions(id: &str) -> String {
    let parts: Vec<&str> = id.split('-').collect();
    let short_num =
        |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        if i + 1 < parts.len() && i > 0 && short_num(parts[i]) && short_num(parts[i + 1]) {
            out.push(format!("{}.{}", parts[i], parts[i + 1]));
            i += 2;
        } else {
            out.push(parts[i].to_string());
            i += 1;
        }
    }
    out.join("-")
}

fn strip_date(id: &str) -> Option<&str> {
    let (head, tail) = id.rsplit_once('-')?;
    (tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit())).then_some(head)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A trimmed recording of Copilot's `/models`, with its quirks: dotted Claude ids,
    /// a duplicated entry, a legacy model without `supported_endpoints`.
    pub const CATALOG: &str = r#"{"object":"list","data":[
      {"id":"claude-sonnet-4.5","name":"Claude Sonnet 4.5","vendor":"Anthropic","object":"model","model_picker_enabled":true,
       "capabilities":{"family":"claude-sonnet-4.5","type":"chat","limits":{"max_context_window_tokens":200000,"max_prompt_tokens":128000,"max_output_tokens":16000},
       "supports":{"streaming":true,"tool_calls":true,"parallel_tool_calls":true,"vision":true,"adaptive_thinking":true}},
       "supported_endpoints":["/v1/messages","/chat/completions"]},
      {"id":"claude-sonnet-4.5","name":"dup","capabilities":{"type":"chat"}},
      {"id":"claude-opus-4.5","name":"Claude Opus 4.5","vendor":"Anthropic","capabilities":{"type":"chat","limits":{"max_output_tokens":32000}},
       "supported_endpoints":["/v1/messages","/chat/completions"]},
      {"id":"claude-sonnet-4","name":"Claude Sonnet 4","vendor":"Anthropic","capabilities":{"type":"chat"},"supported_endpoints":["/v1/messages","/chat/completions"]},
      {"id":"claude-haiku-4.5-20251001","name":"Claude Haiku 4.5 (dated)","capabilities":{"type":"chat"},"supported_endpoints":["/v1/messages"]},
      {"id":"claude-haiku-4.5","name":"Claude Haiku 4.5","capabilities":{"type":"chat"},"supported_endpoints":["/v1/messages"]},
      {"id":"claude-opus-4.8","name":"Claude Opus 4.8","vendor":"Anthropic","capabilities":{"type":"chat","limits":{"max_context_window_tokens":200000,"max_prompt_tokens":168000,"max_output_tokens":32000}},
       "supported_endpoints":["/v1/messages","/chat/completions"]},
      {"id":"claude-opus-4.8-1m","name":"Claude Opus 4.8 (1M context)","vendor":"Anthropic","capabilities":{"type":"chat","limits":{"max_context_window_tokens":1000000,"max_prompt_tokens":936000,"max_output_tokens":64000}},
       "supported_endpoints":["/v1/messages","/chat/completions"]},
      {"id":"claude-opus-5","name":"Claude Opus 5","vendor":"Anthropic","capabilities":{"type":"chat","limits":{"max_context_window_tokens":1000000,"max_prompt_tokens":872000,"max_output_tokens":128000}},
       "supported_endpoints":["/v1/messages"]},
      {"id":"gpt-6-astra","name":"GPT-6 Astra","vendor":"OpenAI","capabilities":{"type":"chat","limits":{"max_context_window_tokens":1000000,"max_prompt_tokens":872000,"max_output_tokens":128000}},
       "supported_endpoints":["/responses","ws:/responses"]},
      {"id":"mai-code-1-flash","name":"MAI Code 1 Flash","capabilities":{"type":"chat"},"supported_endpoints":["ws:/v2/agent","/v3/generate"]},
      {"id":"gpt-5.1-codex","name":"GPT-5.1-Codex","vendor":"OpenAI","capabilities":{"type":"chat","supports":{"reasoning_effort":["low","medium","high"]}},"supported_endpoints":["/responses"]},
      {"id":"gpt-5-mini","name":"GPT-5 mini","capabilities":{"type":"chat"},"supported_endpoints":["/chat/completions","/responses"]},
      {"id":"gemini-2.5-pro","name":"Gemini 2.5 Pro","capabilities":{"type":"chat"},"supported_endpoints":["/chat/completions"]},
      {"id":"gpt-3.5-turbo","name":"GPT 3.5 Turbo","capabilities":{"type":"chat"}},
      {"id":"text-embedding-3-small","name":"Embedding V3 small","capabilities":{"type":"embeddings"}},
      {"name":"no id"}
    ]}"#;

    pub fn catalog() -> Catalog {
        Catalog::parse(CATALOG).unwrap()
    }

    #[test]
    fn parses_and_dedupes() {
        let c = catalog();
        assert_eq!(c.models.len(), 15);
        let s = c.get("claude-sonnet-4.5").unwrap();
        assert_eq!(s.name, "Claude Sonnet 4.5");
        assert_eq!(
            s.endpoints,
            Some(Endpoints {
                messages: true,
                responses: false,
                chat: true
            })
        );
        assert_eq!(s.max_output_tokens, Some(16000));
        assert!(s.vision && s.adaptive_thinking);
        assert_eq!(c.get("gpt-3.5-turbo").unwrap().endpoints, None);
        assert!(c.get("text-embedding-3-small").unwrap().is_embeddings());
        assert!(Catalog::parse("{}").is_err());
        assert!(Catalog::parse("nope").is_err());
    }

    #[test]
    fn websocket_responses_is_a_responses_model_and_unknown_endpoints_are_ignored() {
        let c = catalog();
        let astra = c.get("gpt-6-astra").unwrap();
        assert_eq!(
            astra.endpoints,
            Some(Endpoints {
                messages: false,
                responses: true,
                chat: false
            })
        );
        assert_eq!(astra.raw_endpoints, ["/responses", "ws:/responses"]);
        let ws_only = Endpoints::from_catalog(&["ws:/responses".to_string()]).unwrap();
        assert!(ws_only.responses && !ws_only.messages && !ws_only.chat);
        // Nothing known: probed (or guessed) like a legacy entry, not "serves nothing".
        assert_eq!(c.get("mai-code-1-flash").unwrap().endpoints, None);
        let mixed = Endpoints::from_catalog(&["/v1/messages".to_string(), "/v2/next".to_string()]);
        assert_eq!(
            mixed,
            Some(Endpoints {
                messages: true,
                responses: false,
                chat: false
            })
        );
    }

    #[test]
    fn long_context_requests_resolve_to_the_1m_model() {
        let c = catalog();
        let r = |n: &str, beta: Option<&str>| {
            c.resolve_for(n, beta)
                .map(|m| m.id.clone())
                .unwrap_or_default()
        };
        let beta = Some("claude-code-20250219,context-1m-2025-08-07");
        // Claude Code sends `[1m]` models without the tag and with the beta.
        assert_eq!(r("claude-opus-4-8", beta), "claude-opus-4.8-1m");
        assert_eq!(r("claude-opus-4.8", beta), "claude-opus-4.8-1m");
        assert_eq!(r("claude-opus-4-8[1m]", None), "claude-opus-4.8-1m");
        assert_eq!(r("claude-opus-4.8[1M]", None), "claude-opus-4.8-1m");
        assert_eq!(r("claude-opus-4.8-1m", None), "claude-opus-4.8-1m");
        // Without either, the model asked for.
        assert_eq!(
            r("claude-opus-4-8", Some("claude-code-20250219")),
            "claude-opus-4.8"
        );
        // A model whose own window is 1M serves itself.
        assert_eq!(r("claude-opus-5[1m]", None), "claude-opus-5");
        // No 1M model: the model itself, with its own limits.
        assert_eq!(r("claude-sonnet-4-5[1m]", None), "claude-sonnet-4.5");
        assert_eq!(r("claude-sonnet-4-5", beta), "claude-sonnet-4.5");
        assert!(c.resolve_for("claude-nope[1m]", None).is_err());
        assert!(wants_long_context("x", Some(" context-1m-2025-08-07 ")));
        assert!(!wants_long_context("x", Some("context-1m-2025-08-08")));
    }

    #[test]
    fn lists_1m_variants_for_claude_code_discovery() {
        let d = catalog().describe();
        let ids: Vec<&str> = d["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        let at = |id: &str| ids.iter().position(|x| *x == id);
        // Right after the bare id, as Claude Code expects a gateway to list them; the bare
        // id (what Claude Code sends) names the 1M model itself.
        assert_eq!(
            at("claude-opus-4.8-1m[1m]"),
            at("claude-opus-4.8-1m").map(|i| i + 1)
        );
        assert_eq!(at("claude-opus-5[1m]"), at("claude-opus-5").map(|i| i + 1));
        // Not for a 200k model (Claude Code would send its bare id, which is the 200k
        // model), nor for a non-Claude model.
        for id in [
            "claude-opus-4.8[1m]",
            "claude-sonnet-4.5[1m]",
            "gpt-6-astra[1m]",
        ] {
            assert_eq!(at(id), None, "{id}");
        }
        let long = &d["data"][at("claude-opus-4.8-1m[1m]").unwrap()];
        assert_eq!(long["display_name"], "Claude Opus 4.8 (1M context)");
        assert_eq!(long["context_window"], 1000000);
        assert_eq!(long["max_prompt_tokens"], 936000);
        assert_eq!(long["max_output_tokens"], 64000);
        let five = &d["data"][at("claude-opus-5[1m]").unwrap()];
        assert_eq!(five["display_name"], "Claude Opus 5 (1M context)");
        assert_eq!(d["last_id"], ids[ids.len() - 1]);
        // And each listed id resolves to the model it describes.
        let c = catalog();
        assert_eq!(
            c.resolve("claude-opus-4.8-1m[1m]").unwrap().id,
            "claude-opus-4.8-1m"
        );
    }

    #[test]
    fn unknown_model_lists_close_matches() {
        let e = catalog().resolve("claude-sonet-4-5").unwrap_err();
        assert_eq!(e.status, 404);
        assert_eq!(e.param.as_deref(), Some("model"));
        assert!(e.message.contains("'claude-sonet-4-5'"), "{}", e.message);
        assert!(
            e.message.contains("Close matches: claude-sonnet-4.5"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("text-embedding"));
    }

    #[test]
    fn huge_model_names_are_cheap_to_refuse() {
        // Edit distances against a 4 MB name took seconds; the message quoted all of it.
        let name = "claude-".repeat(600_000);
        let t = std::time::Instant::now();
        let e = catalog().resolve(&name).unwrap_err();
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(e.status, 404);
        assert!(e.message.len() < 600, "{}", e.message);
        assert!(e.message.contains("'claude-claude-") && e.message.contains("…'"));
    }

    #[test]
    fn version_dotting() {
        assert_eq!(
            dot_versions("claude-3-5-sonnet-20241022"),
            "claude-3.5-sonnet-20241022"
        );
        assert_eq!(dot_versions("claude-opus-4-1"), "claude-opus-4.1");
        assert_eq!(dot_versions("claude-sonnet-4"), "claude-sonnet-4");
        assert_eq!(
            strip_date("claude-sonnet-4.5-20250929"),
            Some("claude-sonnet-4.5")
        );
        assert_eq!(strip_date("claude-sonnet-4.5"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn describes_for_both_sdks() {
        let d = catalog().describe();
        assert_eq!(d["object"], "list");
        assert_eq!(d["has_more"], false);
        assert_eq!(d["first_id"], "claude-sonnet-4.5");
        let first = &d["data"][0];
        assert_eq!(first["object"], "model");
        assert_eq!(first["type"], "model");
        assert_eq!(first["owned_by"], "anthropic");
        assert_eq!(first["display_name"], "Claude Sonnet 4.5");
        assert_eq!(first["context_window"], 200000);
        assert_eq!(first["max_output_tokens"], 16000);
        assert_eq!(first["capabilities"]["vision"], true);
        assert_eq!(
            first["supported_endpoints"],
            json!(["/v1/messages", "/chat/completions"])
        );
    }
}
