//! Google's Gemini API (`generateContent`, `streamGenerateContent`, `countTokens`) on top
//! of the Messages front door: a Gemini request becomes a Messages request, which then
//! takes the gateway's usual path to any Copilot model; the Messages answer (whole, or
//! its stream) comes back as Gemini's `GenerateContentResponse` (whole, or as chunks).
//!
//! Thinking: a `thinking` block's text becomes a `thought: true` part and its signature
//! rides on the next part that is not a thought, as Gemini places `thoughtSignature`
//! (Gemini CLI strips thought parts from its history and keeps the signed parts). Coming
//! back, a signature on a part becomes the thinking block before it: with the thought
//! text the client kept, else a `redacted_thinking` block carrying the signature alone,
//! as the Responses translator does for reasoning without a summary.

use serde_json::{json, Map, Value};

use crate::protocol::error::{ApiError, ApiFormat, ErrorKind};
use crate::sse::{SseEvent, SseParser};
use crate::translate::{cannot_carry, parse_arguments, push_json_str, MessagesDelta};

/// The signature Gemini CLI puts on a call that had none, to pass Gemini's validator; it
/// means nothing to any model behind the gateway.
const SYNTHETIC_SIGNATURE: &str = "skip_thought_signature_validator";

/// What the answer needs from the request: thought text only when the client asked for
/// it (`thinkingConfig.includeThoughts`); signatures always travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reply {
    pub include_thoughts: bool,
}

/// A Gemini `generateContent` body → a Messages body for `model`.
pub fn request(
    mut body: Map<String, Value>,
    model: &str,
    stream: bool,
) -> Result<(Map<String, Value>, Reply), ApiError> {
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let contents = match body.remove("contents") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        _ => {
            return Err(cannot_carry(
                "contents",
                "a non-empty array of contents is required",
            ))
        }
    };
    out.insert("messages".into(), Value::Array(messages(contents)?));
    if let Some(system) = body.remove("systemInstruction").filter(|s| !s.is_null()) {
        let text = system_text(system)?;
        if !text.is_empty() {
            out.insert("system".into(), json!(text));
        }
    }
    if let Some(tools) = body.remove("tools").filter(|t| !t.is_null()) {
        let list = tools_of(tools)?;
        if !list.is_empty() {
            out.insert("tools".into(), Value::Array(list));
        }
    }
    if let Some(config) = body.remove("toolConfig").filter(|t| !t.is_null()) {
        if let Some(choice) = tool_choice(&config)? {
            out.insert("tool_choice".into(), choice);
        }
    }
    let reply = match body.remove("generationConfig").filter(|g| !g.is_null()) {
        Some(Value::Object(config)) => generation_config(config, &mut out)?,
        Some(_) => return Err(cannot_carry("generationConfig", "must be an object")),
        None => Reply::default(),
    };
    if body
        .remove("cachedContent")
        .is_some_and(|c| !c.is_null() && c != "")
    {
        return Err(cannot_carry(
            "cachedContent",
            "cached contents are not supported by this gateway; send the contents",
        ));
    }
    // Copilot applies its own content filters; Gemini's safety thresholds have nothing
    // to set there. `labels` and `model` (countTokens' inner request) are metadata.
    out.insert("stream".into(), Value::Bool(stream));
    Ok((out, reply))
}

/// A `countTokens` body (`contents`, or a whole `generateContentRequest`) → a Messages
/// body to count.
pub fn count_request(
    mut body: Map<String, Value>,
    model: &str,
) -> Result<Map<String, Value>, ApiError> {
    let inner = match body.remove("generateContentRequest") {
        Some(Value::Object(inner)) => inner,
        Some(Value::Null) | None => body,
        Some(_) => return Err(cannot_carry("generateContentRequest", "must be an object")),
    };
    let (mut out, _) = request(inner, model, false)?;
    out.remove("stream");
    Ok(out)
}

fn system_text(system: Value) -> Result<String, ApiError> {
    match system {
        Value::String(s) => Ok(s),
        Value::Object(mut c) => match c.remove("parts") {
            Some(Value::Array(parts)) => {
                let mut texts = Vec::with_capacity(parts.len());
                for (i, p) in parts.into_iter().enumerate() {
                    match p.get("text").and_then(Value::as_str) {
                        Some(t) => texts.push(t.to_string()),
                        None => {
                            return Err(cannot_carry(
                                format!("systemInstruction.parts[{i}]"),
                                "only text parts are supported in a system instruction",
                            ))
                        }
                    }
                }
                Ok(texts.join("\n\n"))
            }
            _ => Ok(String::new()),
        },
        _ => Err(cannot_carry(
            "systemInstruction",
            "must be a content object with text parts",
        )),
    }
}

/// Calls waiting for their response, so a `functionResponse` without an id (older
/// clients) is paired with the earliest call of its name.
#[derive(Default)]
struct OpenCalls {
    calls: Vec<(String, String)>,
}

impl OpenCalls {
    fn take(&mut self, id: Option<&str>, name: &str) -> Option<String> {
        let at = match id {
            Some(id) => self.calls.iter().position(|(i, _)| i == id),
            None => self.calls.iter().position(|(_, n)| n == name),
        };
        at.map(|i| self.calls.remove(i).0)
    }
}

fn messages(contents: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = Vec::with_capacity(contents.len());
    let mut open = OpenCalls::default();
    for (i, content) in contents.into_iter().enumerate() {
        let Value::Object(mut content) = content else {
            return Err(cannot_carry(format!("contents[{i}]"), "must be an object"));
        };
        let role = match content.get("role").and_then(Value::as_str) {
            Some("model") => "assistant",
            Some("user") | Some("function") | None => "user",
            Some(other) => {
                return Err(cannot_carry(
                    format!("contents[{i}].role"),
                    format!("unknown role {other:?} (use \"user\" or \"model\")"),
                ))
            }
        };
        let parts = match content.remove("parts") {
            Some(Value::Array(p)) => p,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(cannot_carry(
                    format!("contents[{i}].parts"),
                    "must be an array",
                ))
            }
        };
        let blocks = match role {
            "assistant" => model_blocks(i, parts, &mut open)?,
            _ => user_blocks(i, parts, &mut open)?,
        };
        if blocks.is_empty() {
            continue;
        }
        // Consecutive turns of one role are one Messages turn.
        match out.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["content"].as_array_mut() {
                    existing.extend(blocks);
                }
            }
            _ => out.push(json!({"role": role, "content": blocks})),
        }
    }
    // Tool results lead a user turn, as Messages requires.
    for m in out.iter_mut().filter(|m| m["role"] == "user") {
        if let Some(blocks) = m["content"].as_array_mut() {
            blocks.sort_by_key(|b| b["type"] != "tool_result");
        }
    }
    if out.is_empty() {
        return Err(cannot_carry("contents", "no content has any part"));
    }
    Ok(out)
}

fn signature_of(part: &Map<String, Value>) -> Option<String> {
    part.get("thoughtSignature")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != SYNTHETIC_SIGNATURE)
        .map(str::to_string)
}

fn model_blocks(i: usize, parts: Vec<Value>, open: &mut OpenCalls) -> Result<Vec<Value>, ApiError> {
    let mut blocks = Vec::with_capacity(parts.len());
    // Thought text read so far, waiting for the signature that makes it a block.
    let mut thought = String::new();
    for (j, part) in parts.into_iter().enumerate() {
        let at = || format!("contents[{i}].parts[{j}]");
        let Value::Object(mut part) = part else {
            return Err(cannot_carry(at(), "must be an object"));
        };
        let signature = signature_of(&part);
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                thought.push_str(t);
            }
            if let Some(sig) = signature {
                blocks.push(thinking_block(std::mem::take(&mut thought), sig));
            }
            continue;
        }
        match signature {
            Some(sig) => blocks.push(thinking_block(std::mem::take(&mut thought), sig)),
            // Unsigned thought text cannot be verified by any model: left out.
            None => thought.clear(),
        }
        if let Some(Value::Object(mut call)) = part.remove("functionCall") {
            let name = match call.remove("name") {
                Some(Value::String(n)) if !n.is_empty() => n,
                _ => {
                    return Err(cannot_carry(
                        format!("{}.functionCall.name", at()),
                        "is required",
                    ))
                }
            };
            let id = match call.remove("id") {
                Some(Value::String(id)) if !id.is_empty() => id,
                _ => format!("call_{i}_{j}"),
            };
            let input = match call.remove("args") {
                Some(args @ Value::Object(_)) => args,
                Some(Value::String(raw)) => parse_arguments(&raw),
                _ => json!({}),
            };
            open.calls.push((id.clone(), name.clone()));
            blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
            continue;
        }
        match part.remove("text") {
            Some(Value::String(t)) if !t.is_empty() => {
                blocks.push(json!({"type": "text", "text": t}));
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        if part.is_empty() || part.keys().all(|k| k == "thoughtSignature") {
            continue;
        }
        return Err(unsupported_part(&part, at()));
    }
    Ok(blocks)
}

fn thinking_block(text: String, signature: String) -> Value {
    if text.is_empty() {
        json!({"type": "redacted_thinking", "data": signature})
    } else {
        json!({"type": "thinking", "thinking": text, "signature": signature})
    }
}

fn user_blocks(i: usize, parts: Vec<Value>, open: &mut OpenCalls) -> Result<Vec<Value>, ApiError> {
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let at = || format!("contents[{i}].parts[{j}]");
        let Value::Object(mut part) = part else {
            return Err(cannot_carry(at(), "must be an object"));
        };
        if let Some(Value::Object(resp)) = part.remove("functionResponse") {
            blocks.push(tool_result(
                resp,
                open,
                &format!("{}.functionResponse", at()),
                i,
                j,
            )?);
            continue;
        }
        if let Some(block) = media_or_text(&mut part, &at)? {
            blocks.push(block);
            continue;
        }
        if part.is_empty() || part.keys().all(|k| k == "thoughtSignature" || k == "text") {
            continue;
        }
        return Err(unsupported_part(&part, at()));
    }
    Ok(blocks)
}

/// A text, `inlineData` or `fileData` part as a Messages block; None for other parts.
fn media_or_text(
    part: &mut Map<String, Value>,
    at: &dyn Fn() -> String,
) -> Result<Option<Value>, ApiError> {
    if let Some(Value::String(t)) = part.get("text") {
        if t.is_empty() {
            return Ok(None);
        }
        let Some(Value::String(t)) = part.remove("text") else {
            return Ok(None);
        };
        return Ok(Some(json!({"type": "text", "text": t})));
    }
    if let Some(Value::Object(mut inline)) = part.remove("inlineData") {
        let mime = str_field(&inline, "mimeType");
        let Some(Value::String(data)) = inline.remove("data") else {
            return Err(cannot_carry(
                format!("{}.inlineData.data", at()),
                "is required",
            ));
        };
        let source = json!({"type": "base64", "media_type": mime, "data": data});
        return media_block(&mime, source, &format!("{}.inlineData", at())).map(Some);
    }
    if let Some(Value::Object(file)) = part.remove("fileData") {
        let mime = str_field(&file, "mimeType");
        let uri = str_field(&file, "fileUri");
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Err(cannot_carry(
                format!("{}.fileData.fileUri", at()),
                "only http(s) URLs can be read (files uploaded to Google are not reachable here)",
            ));
        }
        let source = json!({"type": "url", "url": uri});
        return media_block(&mime, source, &format!("{}.fileData", at())).map(Some);
    }
    Ok(None)
}

fn media_block(mime: &str, source: Value, at: &str) -> Result<Value, ApiError> {
    if mime.starts_with("image/") {
        Ok(json!({"type": "image", "source": source}))
    } else if mime == "application/pdf" {
        Ok(json!({"type": "document", "source": source}))
    } else {
        Err(cannot_carry(
            format!("{at}.mimeType"),
            format!("{mime:?} is not supported (images and PDF are)"),
        ))
    }
}

fn str_field(m: &Map<String, Value>, key: &str) -> String {
    m.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn unsupported_part(part: &Map<String, Value>, at: String) -> ApiError {
    let kind = part
        .keys()
        .find(|k| *k != "thoughtSignature" && *k != "thought")
        .cloned()
        .unwrap_or_default();
    cannot_carry(
        at,
        format!("part {kind:?} is not supported by this gateway"),
    )
}

fn tool_result(
    mut resp: Map<String, Value>,
    open: &mut OpenCalls,
    at: &str,
    i: usize,
    j: usize,
) -> Result<Value, ApiError> {
    let name = str_field(&resp, "name");
    let id = resp
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let tool_use_id = match open.take(id, &name) {
        Some(id) => id,
        None => match id {
            Some(id) => id.to_string(),
            None => {
                return Err(cannot_carry(
                    format!("{at}.name"),
                    format!("no earlier functionCall named {name:?} is waiting for this response (contents[{i}].parts[{j}])"),
                ))
            }
        },
    };
    let response = resp.remove("response").unwrap_or(Value::Null);
    let mut is_error = false;
    let text = match response {
        Value::Object(mut r) if r.len() == 1 && r.contains_key("error") => {
            is_error = true;
            as_text(r.remove("error").unwrap_or(Value::Null))
        }
        Value::Object(mut r) if r.len() == 1 && r.contains_key("output") => {
            as_text(r.remove("output").unwrap_or(Value::Null))
        }
        Value::Null => String::new(),
        other => crate::json_write::to_string(&other),
    };
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    // Newer clients send a tool's images as parts of the response.
    if let Some(Value::Array(parts)) = resp.remove("parts") {
        for (k, part) in parts.into_iter().enumerate() {
            let Value::Object(mut part) = part else {
                continue;
            };
            let part_at = || format!("{at}.parts[{k}]");
            match media_or_text(&mut part, &part_at)? {
                Some(block) => content.push(block),
                None if part.is_empty() => {}
                None => return Err(unsupported_part(&part, part_at())),
            }
        }
    }
    let mut block = json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": content});
    if is_error {
        block["is_error"] = Value::Bool(true);
    }
    Ok(block)
}

fn as_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => crate::json_write::to_string(&other),
    }
}

/// Gemini tools → Messages tools. Google Search is served by the gateway's web search,
/// as Anthropic's `web_search` server tool.
fn tools_of(tools: Value) -> Result<Vec<Value>, ApiError> {
    let Value::Array(tools) = tools else {
        return Err(cannot_carry("tools", "must be an array"));
    };
    let mut out = Vec::new();
    let mut search = false;
    for (i, tool) in tools.into_iter().enumerate() {
        let Value::Object(mut tool) = tool else {
            return Err(cannot_carry(format!("tools[{i}]"), "must be an object"));
        };
        if let Some(decls) = tool.remove("functionDeclarations") {
            let Value::Array(decls) = decls else {
                return Err(cannot_carry(
                    format!("tools[{i}].functionDeclarations"),
                    "must be an array",
                ));
            };
            for (j, d) in decls.into_iter().enumerate() {
                out.push(function_tool(
                    d,
                    &format!("tools[{i}].functionDeclarations[{j}]"),
                )?);
            }
        }
        if tool.remove("googleSearch").is_some() | tool.remove("googleSearchRetrieval").is_some() {
            if !search {
                out.push(json!({"type": "web_search_20250305", "name": "web_search"}));
            }
            search = true;
        }
        if let Some(kind) = tool.keys().next() {
            return Err(cannot_carry(
                format!("tools[{i}].{kind}"),
                "this tool is not supported by this gateway (function declarations and Google Search are)",
            ));
        }
    }
    Ok(out)
}

fn function_tool(decl: Value, at: &str) -> Result<Value, ApiError> {
    let Value::Object(mut decl) = decl else {
        return Err(cannot_carry(at, "must be an object"));
    };
    let name = match decl.remove("name") {
        Some(Value::String(n)) if !n.is_empty() => n,
        _ => return Err(cannot_carry(format!("{at}.name"), "is required")),
    };
    let schema = match decl.remove("parametersJsonSchema").filter(|s| !s.is_null()) {
        Some(s) => s,
        None => match decl.remove("parameters").filter(|s| !s.is_null()) {
            Some(s) => openapi_to_json_schema(s),
            None => json!({"type": "object", "properties": {}}),
        },
    };
    let mut tool = json!({"name": name, "input_schema": schema});
    if let Some(Value::String(d)) = decl.remove("description") {
        tool["description"] = json!(d);
    }
    Ok(tool)
}

/// Gemini's `parameters` use OpenAPI's schema subset: upper-case types (`OBJECT`),
/// `nullable`, `propertyOrdering`. JSON Schema has lower-case types and nullable as a
/// type union.
fn openapi_to_json_schema(schema: Value) -> Value {
    match schema {
        Value::Object(mut m) => {
            m.remove("propertyOrdering");
            let nullable = m.remove("nullable").and_then(|n| n.as_bool()) == Some(true);
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                let v = match k.as_str() {
                    "type" => match v {
                        Value::String(t) => Value::String(t.to_ascii_lowercase()),
                        other => other,
                    },
                    "properties" | "$defs" | "definitions" => match v {
                        Value::Object(props) => Value::Object(
                            props
                                .into_iter()
                                .map(|(name, s)| (name, openapi_to_json_schema(s)))
                                .collect(),
                        ),
                        other => other,
                    },
                    "items" | "additionalProperties" | "not" => openapi_to_json_schema(v),
                    "anyOf" | "oneOf" | "allOf" | "prefixItems" => match v {
                        Value::Array(list) => {
                            Value::Array(list.into_iter().map(openapi_to_json_schema).collect())
                        }
                        other => other,
                    },
                    _ => v,
                };
                out.insert(k, v);
            }
            if nullable {
                if let Some(Value::String(t)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([t, "null"]));
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

fn tool_choice(config: &Value) -> Result<Option<Value>, ApiError> {
    let Some(fc) = config.get("functionCallingConfig").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let allowed: Vec<&str> = fc
        .get("allowedFunctionNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mode = fc.get("mode").and_then(Value::as_str).unwrap_or("AUTO");
    Ok(Some(match mode {
        "AUTO" | "VALIDATED" | "MODE_UNSPECIFIED" => json!({"type": "auto"}),
        "NONE" => json!({"type": "none"}),
        "ANY" => match allowed.as_slice() {
            [one] => json!({"type": "tool", "name": one}),
            _ => json!({"type": "any"}),
        },
        other => {
            return Err(cannot_carry(
                "toolConfig.functionCallingConfig.mode",
                format!("unknown mode {other:?}"),
            ))
        }
    }))
}

fn generation_config(
    mut g: Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<Reply, ApiError> {
    let param = |k: &str| format!("generationConfig.{k}");
    if let Some(n) = g.remove("maxOutputTokens").filter(|v| !v.is_null()) {
        match n.as_u64() {
            Some(n) if n > 0 => {
                out.insert("max_tokens".into(), json!(n));
            }
            _ => {
                return Err(cannot_carry(
                    param("maxOutputTokens"),
                    "must be a positive integer",
                ))
            }
        }
    }
    if let Some(n) = g.remove("candidateCount").and_then(|v| v.as_u64()) {
        if n > 1 {
            return Err(cannot_carry(
                param("candidateCount"),
                "only one candidate is supported",
            ));
        }
    }
    if g.remove("responseLogprobs").and_then(|v| v.as_bool()) == Some(true) {
        return Err(cannot_carry(
            param("responseLogprobs"),
            "log probabilities are not supported",
        ));
    }
    if let Some(Value::Array(modalities)) = g.remove("responseModalities") {
        if modalities
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m != "TEXT"))
        {
            return Err(cannot_carry(
                param("responseModalities"),
                "only TEXT answers are supported",
            ));
        }
    }
    if g.remove("speechConfig").is_some_and(|v| !v.is_null()) {
        return Err(cannot_carry(
            param("speechConfig"),
            "speech answers are not supported",
        ));
    }
    match g.remove("stopSequences") {
        Some(Value::Array(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(stops));
        }
        _ => {}
    }
    let mut reply = Reply::default();
    let mut thinking = false;
    if let Some(Value::Object(t)) = g.remove("thinkingConfig") {
        reply.include_thoughts = t.get("includeThoughts").and_then(Value::as_bool) == Some(true);
        let budget = t.get("thinkingBudget").and_then(Value::as_i64);
        let level = t
            .get("thinkingLevel")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        match (budget, level.as_deref()) {
            (Some(0), _) => {}
            (Some(b), _) if b > 0 => {
                // Anthropic's least budget is 1024 tokens.
                out.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": b.max(1024)}),
                );
                thinking = true;
            }
            (_, Some(level)) => {
                let effort = match level {
                    "minimal" | "low" => "low",
                    "medium" => "medium",
                    "high" => "high",
                    _ => {
                        return Err(cannot_carry(
                            param("thinkingConfig.thinkingLevel"),
                            format!("unknown level {level:?}"),
                        ))
                    }
                };
                out.insert("thinking".into(), json!({"type": "adaptive"}));
                out.insert("output_config".into(), json!({"effort": effort}));
                thinking = true;
            }
            // -1: the model decides.
            (Some(_), None) => {
                out.insert("thinking".into(), json!({"type": "adaptive"}));
                thinking = true;
            }
            (None, None) => {}
        }
    }
    // Sampling: with thinking on, Claude takes only its own temperature (1) and no top_k;
    // Gemini CLI always sends both, as hints for Gemini's sampler.
    if let Some(t) = g.remove("temperature").filter(|v| v.is_number()) {
        if !thinking || t.as_f64() == Some(1.0) {
            out.insert("temperature".into(), t);
        }
    }
    if let Some(p) = g.remove("topP").filter(|v| v.is_number()) {
        if !thinking || p.as_f64().is_some_and(|p| p >= 0.95) {
            out.insert("top_p".into(), p);
        }
    }
    if let Some(k) = g.remove("topK").filter(|v| v.is_number()) {
        if !thinking {
            out.insert("top_k".into(), k);
        }
    }
    let mime = g.remove("responseMimeType");
    let schema = match g.remove("responseJsonSchema").filter(|s| !s.is_null()) {
        Some(s) => Some(s),
        None => g
            .remove("responseSchema")
            .filter(|s| !s.is_null())
            .map(openapi_to_json_schema),
    };
    match (mime.as_ref().and_then(Value::as_str), schema) {
        (_, Some(schema @ Value::Object(_))) => {
            let config = out
                .entry("output_config")
                .or_insert_with(|| json!({}));
            config["format"] = json!({"type": "json_schema", "schema": schema});
        }
        (_, Some(_)) => return Err(cannot_carry(param("responseSchema"), "must be a schema object")),
        (Some("application/json"), None) => {
            return Err(cannot_carry(
                param("responseMimeType"),
                "JSON output needs a responseSchema (or responseJsonSchema) here: the models behind the gateway constrain output to a schema",
            ))
        }
        (None | Some("text/plain"), None) => {}
        (Some(other), None) => {
            return Err(cannot_carry(param("responseMimeType"), format!("{other:?} is not supported")))
        }
    }
    // Sampling hints no Copilot model takes; Gemini documents them as best-effort.
    for hint in [
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "mediaResolution",
        "logprobs",
        "enableEnhancedCivicAnswers",
    ] {
        g.remove(hint);
    }
    if let Some(key) = g.keys().next() {
        return Err(cannot_carry(param(key), "is not supported by this gateway"));
    }
    Ok(reply)
}

// ---------------------------------------------------------------------------------------
// Answers.

/// Messages `stop_reason` → Gemini `finishReason`.
fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens") | Some("model_context_window_exceeded") => "MAX_TOKENS",
        Some("refusal") => "SAFETY",
        Some("end_turn") | Some("stop_sequence") | Some("tool_use") | Some("pause_turn") | None => {
            "STOP"
        }
        Some(_) => "OTHER",
    }
}

/// Messages `usage` → Gemini `usageMetadata`. Messages' `input_tokens` leaves out cache
/// reads and writes; Gemini's prompt count holds them.
fn usage_metadata(usage: &Value) -> Value {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let prompt = n("input_tokens")
        .saturating_add(cached)
        .saturating_add(n("cache_creation_input_tokens"));
    let output = n("output_tokens");
    let mut meta = json!({
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt.saturating_add(output),
    });
    if cached > 0 {
        meta["cachedContentTokenCount"] = json!(cached);
    }
    meta
}

/// Builds the parts of one answer, placing each thinking signature on the next part.
#[derive(Default)]
struct Parts {
    reply: Reply,
    parts: Vec<Value>,
    signature: Option<String>,
}

impl Parts {
    fn signed(&mut self, mut part: Value) -> Value {
        if let Some(sig) = self.signature.take() {
            part["thoughtSignature"] = json!(sig);
        }
        part
    }

    fn thought(&mut self, text: &str) -> Option<Value> {
        (self.reply.include_thoughts && !text.is_empty())
            .then(|| json!({"text": text, "thought": true}))
    }

    fn sign(&mut self, sig: String) -> Option<Value> {
        // Two signatures with no part between: the first rides on an empty text part.
        let earlier = self.signature.replace(sig)?;
        Some(json!({"text": "", "thoughtSignature": earlier}))
    }

    fn text(&mut self, text: &str) -> Value {
        self.signed(json!({"text": text}))
    }

    fn call(&mut self, id: &str, name: &str, args: Value) -> Value {
        self.signed(json!({"functionCall": {"id": id, "name": name, "args": args}}))
    }

    /// A signature still waiting at the end of the answer.
    fn rest(&mut self) -> Option<Value> {
        self.signature
            .take()
            .map(|sig| json!({"text": "", "thoughtSignature": sig}))
    }
}

/// Google Search grounding, read off the gateway's web-search blocks: the queries, the
/// results (Gemini's grounding chunks) and which stretch of the answer's text cites which
/// results (byte offsets into the non-thought text, as Gemini gives them and Gemini CLI
/// reads them to place its `[n]` markers).
#[derive(Default)]
struct Grounding {
    queries: Vec<String>,
    /// (uri, title) per result, in first-seen order.
    chunks: Vec<(String, String)>,
    supports: Vec<Value>,
    /// Bytes of answer text so far.
    text_len: usize,
    /// The text block being read: where it starts, and the chunks it cites.
    block: Option<(usize, Vec<usize>)>,
}

impl Grounding {
    fn query(&mut self, input: &Value) {
        if let Some(q) = input.get("query").and_then(Value::as_str) {
            self.queries.push(q.to_string());
        }
    }

    fn chunk(&mut self, uri: &str, title: &str) -> usize {
        match self.chunks.iter().position(|(u, _)| u == uri) {
            Some(i) => i,
            None => {
                self.chunks.push((uri.to_string(), title.to_string()));
                self.chunks.len() - 1
            }
        }
    }

    /// A `web_search_tool_result` block's content (an error result has none).
    fn results(&mut self, content: &Value) {
        for r in content.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
            if r.get("type").and_then(Value::as_str) == Some("web_search_result") {
                self.chunk(s("url"), s("title"));
            }
        }
    }

    fn open_text(&mut self) {
        self.block = Some((self.text_len, Vec::new()));
    }

    fn cite(&mut self, citation: &Value) {
        let s = |k: &str| citation.get(k).and_then(Value::as_str).unwrap_or("");
        if s("type") != "web_search_result_location" {
            return;
        }
        let i = self.chunk(s("url"), s("title"));
        if let Some((_, cited)) = self.block.as_mut() {
            if !cited.contains(&i) {
                cited.push(i);
            }
        }
    }

    /// The text block ended (`text`: its whole text, when at hand).
    fn close_text(&mut self, text: Option<&str>) {
        let Some((start, cited)) = self.block.take() else {
            return;
        };
        if cited.is_empty() || self.text_len == start {
            return;
        }
        let mut segment = json!({"startIndex": start, "endIndex": self.text_len});
        if let Some(t) = text {
            segment["text"] = json!(t);
        }
        self.supports
            .push(json!({"segment": segment, "groundingChunkIndices": cited}));
    }

    fn metadata(&self) -> Option<Value> {
        if self.queries.is_empty() && self.chunks.is_empty() {
            return None;
        }
        let chunks: Vec<Value> = self
            .chunks
            .iter()
            .map(|(uri, title)| json!({"web": {"uri": uri, "title": title}}))
            .collect();
        Some(json!({
            "webSearchQueries": self.queries,
            "groundingChunks": chunks,
            "groundingSupports": self.supports,
        }))
    }
}

fn response(
    parts: Vec<Value>,
    finish: Option<&str>,
    usage: Option<Value>,
    id: &str,
    model: &str,
) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    let mut r = json!({"candidates": [candidate], "modelVersion": model, "responseId": id});
    if let Some(u) = usage {
        r["usageMetadata"] = u;
    }
    r
}

/// A whole Messages answer → a whole Gemini answer.
pub fn answer(messages: &Value, reply: Reply) -> Value {
    let mut parts = Parts {
        reply,
        ..Parts::default()
    };
    let blocks = messages["content"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut grounding = Grounding::default();
    for b in blocks {
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("");
        let part = match s("type") {
            "text" => {
                grounding.open_text();
                for c in b["citations"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    grounding.cite(c);
                }
                grounding.text_len += s("text").len();
                grounding.close_text(Some(s("text")));
                Some(parts.text(s("text")))
            }
            "thinking" => {
                let thought = parts.thought(s("thinking"));
                parts.parts.extend(thought);
                match s("signature") {
                    "" => None,
                    sig => parts.sign(sig.to_string()),
                }
            }
            "redacted_thinking" => parts.sign(s("data").to_string()),
            "tool_use" => {
                let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                Some(parts.call(s("id"), s("name"), input))
            }
            "server_tool_use" => {
                grounding.query(&b["input"]);
                None
            }
            "web_search_tool_result" => {
                grounding.results(&b["content"]);
                None
            }
            _ => None,
        };
        parts.parts.extend(part);
    }
    let rest = parts.rest();
    parts.parts.extend(rest);
    let stop = messages.get("stop_reason").and_then(Value::as_str);
    let id = messages.get("id").and_then(Value::as_str).unwrap_or("");
    let model = messages.get("model").and_then(Value::as_str).unwrap_or("");
    let mut r = response(
        parts.parts,
        Some(finish_reason(stop)),
        Some(usage_metadata(&messages["usage"])),
        id,
        model,
    );
    if let Some(m) = grounding.metadata() {
        r["candidates"][0]["groundingMetadata"] = m;
    }
    r
}

// ---------------------------------------------------------------------------------------
// Streams.

/// How chunks are framed: `alt=sse` (what Google's SDKs ask for) or Google's default, one
/// JSON array written element by element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Sse,
    JsonArray,
}

/// Messages SSE bytes (the gateway's own Messages stream) → Gemini stream bytes.
pub struct GeminiStream {
    framing: Framing,
    parser: SseParser,
    parts: Parts,
    /// The tool call being streamed: id, name, argument text.
    call: Option<(String, String, String)>,
    /// The web search call being streamed: its input's text.
    search: Option<String>,
    grounding: Grounding,
    id: String,
    model: String,
    stop: Option<String>,
    usage: Value,
    /// `,"modelVersion":…,"responseId":…}`: the end of every chunk, written once.
    tail: String,
    /// Chunks written so far (the array form needs to know the first).
    written: usize,
    /// A terminal chunk (the last one, or an error) went out.
    ended: bool,
    /// The JSON array was closed.
    closed: bool,
}

impl GeminiStream {
    pub fn new(framing: Framing, reply: Reply) -> GeminiStream {
        GeminiStream {
            framing,
            parser: SseParser::new(),
            parts: Parts {
                reply,
                ..Parts::default()
            },
            call: None,
            search: None,
            grounding: Grounding::default(),
            id: String::new(),
            model: String::new(),
            stop: None,
            usage: json!({}),
            tail: chunk_tail("", ""),
            written: 0,
            ended: false,
            closed: false,
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self.framing {
            Framing::Sse => "text/event-stream; charset=utf-8",
            Framing::JsonArray => "application/json; charset=utf-8",
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // The parser lends each event without a copy; it is set aside while events run.
        let mut parser = std::mem::take(&mut self.parser);
        parser.feed_each(chunk, |ev| self.on_event(ev, &mut out));
        self.parser = parser;
        out
    }

    /// A whole answer as the only chunk of a stream.
    pub fn whole(&mut self, answer: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(answer, &mut out);
        self.ended = true;
        self.close(&mut out);
        out
    }

    /// The Messages stream ended: a stream that never finished ends with an error.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut events = Vec::new();
        self.parser.finish(&mut events);
        let mut out = Vec::new();
        for ev in events {
            self.on_event(&ev, &mut out);
        }
        if !self.ended {
            self.error(
                502,
                "the upstream stream ended before the answer was complete",
                &mut out,
            );
        }
        self.close(&mut out);
        out
    }

    /// The connection to the Messages stream failed.
    pub fn fail(&mut self, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.ended {
            self.error(502, message, &mut out);
        }
        self.close(&mut out);
        out
    }

    fn write(&mut self, v: &Value, out: &mut Vec<u8>) {
        self.write_text(&crate::json_write::to_string(v), out);
    }

    fn write_text(&mut self, text: &str, out: &mut Vec<u8>) {
        match self.framing {
            Framing::Sse => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"\r\n\r\n");
            }
            Framing::JsonArray => {
                out.extend_from_slice(if self.written == 0 { b"[" } else { b",\r\n" });
                out.extend_from_slice(text.as_bytes());
            }
        }
        self.written += 1;
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.framing == Framing::JsonArray && !self.closed {
            out.extend_from_slice(if self.written == 0 { b"[]" } else { b"]" });
            self.closed = true;
        }
    }

    /// A chunk of one part, its JSON written directly (the text deltas that are nearly all
    /// of a stream).
    fn raw_chunk(&mut self, part: &str, out: &mut Vec<u8>) {
        const HEAD: &str = r#"{"candidates":[{"content":{"role":"model","parts":["#;
        let mut text = String::with_capacity(HEAD.len() + part.len() + 16 + self.tail.len());
        text.push_str(HEAD);
        text.push_str(part);
        text.push_str(r#"]},"index":0}]"#);
        text.push_str(&self.tail);
        self.write_text(&text, out);
    }

    /// A text or thought delta, when it needs no signature: true when handled.
    fn fast_delta(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> bool {
        let Some(d) = MessagesDelta::read(ev) else {
            return false;
        };
        let thought = match d.delta.kind.as_ref() {
            "text_delta" if self.parts.signature.is_none() => false,
            "thinking_delta" => true,
            "input_json_delta" => {
                if let Some(call) = self.call.as_mut() {
                    call.2.push_str(d.delta.payload());
                } else if let Some(search) = self.search.as_mut() {
                    search.push_str(d.delta.payload());
                }
                return true;
            }
            _ => return false,
        };
        let text = d.delta.payload();
        if !thought {
            self.grounding.text_len += text.len();
        }
        if thought && (!self.parts.reply.include_thoughts || text.is_empty()) {
            return true;
        }
        let mut part = String::with_capacity(text.len() + 32);
        part.push_str(r#"{"text":"#);
        push_json_str(&mut part, text);
        part.push_str(if thought { r#","thought":true}"# } else { "}" });
        self.raw_chunk(&part, out);
        true
    }

    fn chunk(&mut self, part: Value, out: &mut Vec<u8>) {
        let r = response(vec![part], None, None, &self.id, &self.model);
        self.write(&r, out);
    }

    fn error(&mut self, status: u16, message: &str, out: &mut Vec<u8>) {
        let e = ApiError::new(ErrorKind::from_status(status), message).with_status(status);
        self.write(&e.to_value(ApiFormat::Google), out);
        self.ended = true;
    }

    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let name = ev.event.as_deref().unwrap_or("");
        if name == "ping" {
            // Keeps proxies and clients from timing out while Copilot thinks. A line break,
            // not an SSE comment: the SDK inside Gemini CLI reads events with
            // `^\s*data: `, so a comment would stall every event after it.
            out.extend_from_slice(b"\r\n");
            return;
        }
        if self.fast_delta(ev, out) {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            self.error(502, crate::protocol::error::MALFORMED, out);
            return;
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match v.get("type").and_then(Value::as_str).unwrap_or(name) {
            "message_start" => {
                let m = &v["message"];
                self.id = s(m, "id");
                self.model = s(m, "model");
                self.tail = chunk_tail(&self.model, &self.id);
                self.usage = m.get("usage").cloned().unwrap_or_else(|| json!({}));
            }
            "content_block_start" => {
                let b = &v["content_block"];
                match b.get("type").and_then(Value::as_str) {
                    Some("tool_use") => self.call = Some((s(b, "id"), s(b, "name"), String::new())),
                    Some("server_tool_use") => self.search = Some(String::new()),
                    Some("web_search_tool_result") => self.grounding.results(&b["content"]),
                    Some("redacted_thinking") => {
                        if let Some(p) = self.parts.sign(s(b, "data")) {
                            self.chunk(p, out);
                        }
                    }
                    Some("text") => {
                        self.grounding.open_text();
                        for c in b["citations"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                            self.grounding.cite(c);
                        }
                        let t = s(b, "text");
                        self.grounding.text_len += t.len();
                        if !t.is_empty() {
                            let p = self.parts.text(&t);
                            self.chunk(p, out);
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                let part = match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let t = s(d, "text");
                        self.grounding.text_len += t.len();
                        Some(self.parts.text(&t))
                    }
                    Some("citations_delta") => {
                        self.grounding.cite(&d["citation"]);
                        None
                    }
                    Some("thinking_delta") => self.parts.thought(&s(d, "thinking")),
                    Some("signature_delta") => self.parts.sign(s(d, "signature")),
                    Some("input_json_delta") => {
                        if let Some(call) = self.call.as_mut() {
                            call.2.push_str(&s(d, "partial_json"));
                        } else if let Some(search) = self.search.as_mut() {
                            search.push_str(&s(d, "partial_json"));
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(p) = part {
                    self.chunk(p, out);
                }
            }
            "content_block_stop" => {
                self.grounding.close_text(None);
                if let Some(input) = self.search.take() {
                    self.grounding.query(&parse_arguments(&input));
                }
                if let Some((id, name, args)) = self.call.take() {
                    let p = self.parts.call(&id, &name, parse_arguments(&args));
                    self.chunk(p, out);
                }
            }
            "message_delta" => {
                if let Some(stop) = v["delta"].get("stop_reason").and_then(Value::as_str) {
                    self.stop = Some(stop.to_string());
                }
                if let (Some(u), Some(acc)) = (
                    v.get("usage").and_then(Value::as_object),
                    self.usage.as_object_mut(),
                ) {
                    for (k, n) in u {
                        if !n.is_null() {
                            acc.insert(k.clone(), n.clone());
                        }
                    }
                }
            }
            "message_stop" => {
                let parts = vec![self.parts.rest().unwrap_or_else(|| json!({"text": ""}))];
                let mut r = response(
                    parts,
                    Some(finish_reason(self.stop.as_deref())),
                    Some(usage_metadata(&self.usage)),
                    &self.id,
                    &self.model,
                );
                if let Some(m) = self.grounding.metadata() {
                    r["candidates"][0]["groundingMetadata"] = m;
                }
                self.write(&r, out);
                self.ended = true;
            }
            "error" => {
                let e = &v["error"];
                let status = match e.get("type").and_then(Value::as_str) {
                    Some("rate_limit_error") => 429,
                    Some("overloaded_error") => 503,
                    Some("invalid_request_error") => 400,
                    Some("timeout_error") => 504,
                    _ => 500,
                };
                self.error(status, &s(e, "message"), out);
            }
            _ => {}
        }
    }
}

fn chunk_tail(model: &str, id: &str) -> String {
    let mut tail = String::from(r#","modelVersion":"#);
    push_json_str(&mut tail, model);
    tail.push_str(r#","responseId":"#);
    push_json_str(&mut tail, id);
    tail.push('}');
    tail
}

// ---------------------------------------------------------------------------------------
// Models.

/// One catalog entry (as `/v1/models` describes it) in Google's `Model` shape.
pub fn model(described: &Value) -> Value {
    let s = |k: &str| described.get(k).and_then(Value::as_str).unwrap_or("");
    let id = s("id");
    let n = |k: &str| described.get(k).and_then(Value::as_u64);
    let input = n("max_prompt_tokens").or(n("context_window")).unwrap_or(0);
    let thinking = described["capabilities"]["thinking"]
        .as_bool()
        .unwrap_or(false);
    json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": id,
        "displayName": if s("display_name").is_empty() { id } else { s("display_name") },
        "description": format!("{} through GitHub Copilot", if s("display_name").is_empty() { id } else { s("display_name") }),
        "inputTokenLimit": input,
        "outputTokenLimit": n("max_output_tokens").unwrap_or(0),
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        "thinking": thinking,
    })
}

/// The `/v1/models` list in Google's `ListModelsResponse` shape (chat models only).
pub fn model_list(described: &Value) -> Value {
    let models: Vec<Value> = described["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|m| m["model_type"].as_str().is_none_or(|t| t == "chat"))
        .map(model)
        .collect();
    json!({ "models": models })
}

/// The model named in a Gemini path (`models/gemini-2.5-pro` or `gemini-2.5-pro`).
pub fn model_id(name: &str) -> &str {
    name.strip_prefix("models/").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> Result<(Map<String, Value>, Reply), ApiError> {
        let Value::Object(m) = v else { panic!() };
        request(m, "claude-sonnet-5", true)
    }

    fn fixture(text: &str) -> Map<String, Value> {
        let v: Value = serde_json::from_str(text).unwrap();
        v["body"].as_object().unwrap().clone()
    }

    fn stream(framing: Framing, reply: Reply, events: &[(&str, Value)]) -> String {
        let mut s = GeminiStream::new(framing, reply);
        let mut out = Vec::new();
        for (name, data) in events {
            // Split mid-event: the parser must carry the tail.
            let wire = format!("event: {name}\ndata: {data}\n\n");
            let (a, b) = wire.split_at(wire.len() / 2);
            out.extend(s.feed(a.as_bytes()));
            out.extend(s.feed(b.as_bytes()));
        }
        out.extend(s.finish());
        String::from_utf8(out).unwrap()
    }

    fn sse_chunks(text: &str) -> Vec<Value> {
        text.split("\r\n\r\n")
            .filter_map(|e| e.trim_start().strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    fn tool_turn() -> Vec<(&'static str, Value)> {
        vec![
            (
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-5","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":0}}}),
            ),
            ("ping", json!({"type":"ping"})),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"plan"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG1"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll look."}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            (
                "content_block_start",
                json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}),
            ),
            (
                "content_block_delta",
                json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type":"content_block_stop","index":2}),
            ),
            (
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}),
            ),
            ("message_stop", json!({"type":"message_stop"})),
        ]
    }

    #[test]
    fn a_plain_request_becomes_a_messages_request() {
        let (out, reply) = req(json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Really."}]},
            "generationConfig": {"maxOutputTokens": 50, "temperature": 0.2, "topP": 0.9, "topK": 3, "stopSequences": ["END"]}
        }))
        .unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"model": "claude-sonnet-5", "stream": true, "system": "Be terse.\n\nReally.",
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                   "max_tokens": 50, "temperature": 0.2, "top_p": 0.9, "top_k": 3, "stop_sequences": ["END"]})
        );
        assert!(!reply.include_thoughts);
    }

    #[test]
    fn gemini_cli_requests_translate() {
        // Gemini CLI 0.61.0's first turn: 16 tools, thinking, sampling hints.
        let body = fixture(include_str!(
            "../../tests/fixtures/gemini-cli.gemini.request.json"
        ));
        let (out, reply) = request(body, "gpt-5.1", true).unwrap();
        assert!(reply.include_thoughts);
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": 8192})
        );
        // Claude takes no top_k and only temperature 1 with thinking on.
        assert_eq!(out["temperature"], json!(1));
        assert_eq!(out["top_p"], json!(0.95));
        assert!(out.get("top_k").is_none());
        let tools = out["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 16);
        assert_eq!(tools[6]["name"], "write_file");
        assert_eq!(
            tools[6]["input_schema"]["required"],
            json!(["file_path", "content"])
        );
        assert!(out["system"]
            .as_str()
            .unwrap()
            .starts_with("You are a non-interactive CLI agent"));
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0]["content"][1],
            json!({"type": "text", "text": "MOCK_TOOL out.txt"})
        );

        // Its next turn: the call (thought stripped, signature kept) and the response.
        let body = fixture(include_str!(
            "../../tests/fixtures/gemini-cli.gemini.function_response.request.json"
        ));
        let (out, _) = request(body, "claude-sonnet-5", true).unwrap();
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[1]["content"],
            json!([{"type": "redacted_thinking", "data": "c2lnbmF0dXJl"},
                   {"type": "tool_use", "id": "call_1", "name": "write_file",
                    "input": {"file_path": "/home/user/project/out.txt", "content": "hello from mock"}}])
        );
        assert_eq!(m[2]["content"][0]["tool_use_id"], "call_1");
        assert!(m[2]["content"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Successfully created"));
    }

    #[test]
    fn genai_sdk_round_trip_translates() {
        let body = fixture(include_str!(
            "../../tests/fixtures/genai-sdk.gemini.request.json"
        ));
        let (out, _) = request(body, "claude-sonnet-5", true).unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {"role": "assistant", "content": [
                    {"type": "redacted_thinking", "data": "sig"},
                    {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "x"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1",
                    "content": [{"type": "text", "text": "sunny"}]}]}
            ])
        );
    }

    #[test]
    fn calls_without_ids_pair_by_name_and_thoughts_with_signatures_are_kept() {
        let (out, _) = req(json!({"contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [
                {"text": "think ", "thought": true}, {"text": "more", "thought": true},
                {"text": "Calling.", "thoughtSignature": "S1"},
                {"functionCall": {"name": "a", "args": {}}, "thoughtSignature": "skip_thought_signature_validator"},
                {"functionCall": {"name": "b"}}]},
            {"role": "user", "parts": [
                {"text": "and"},
                {"functionResponse": {"name": "b", "response": {"error": "boom"}}},
                {"functionResponse": {"name": "a", "response": {"x": 1}}}]}
        ]}))
        .unwrap();
        let m = out["messages"].as_array().unwrap();
        assert_eq!(
            m[1]["content"],
            json!([{"type": "thinking", "thinking": "think more", "signature": "S1"},
                   {"type": "text", "text": "Calling."},
                   {"type": "tool_use", "id": "call_1_3", "name": "a", "input": {}},
                   {"type": "tool_use", "id": "call_1_4", "name": "b", "input": {}}])
        );
        // Tool results first, each to its call; an error response is an error result.
        assert_eq!(
            m[2]["content"],
            json!([{"type": "tool_result", "tool_use_id": "call_1_4", "is_error": true,
                    "content": [{"type": "text", "text": "boom"}]},
                   {"type": "tool_result", "tool_use_id": "call_1_3",
                    "content": [{"type": "text", "text": "{\"x\":1}"}]},
                   {"type": "text", "text": "and"}])
        );
        let orphan = req(
            json!({"contents": [{"parts": [{"functionResponse": {"name": "z", "response": {}}}]}]}),
        );
        assert_eq!(orphan.unwrap_err().status, 400);
    }

    #[test]
    fn images_documents_and_refusals() {
        let (out, _) = req(json!({"contents": [{"parts": [
            {"text": "what?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "https://x.test/a.pdf"}}]}]}))
        .unwrap();
        assert_eq!(
            out["messages"][0]["content"],
            json!([{"type": "text", "text": "what?"},
                   {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                   {"type": "document", "source": {"type": "url", "url": "https://x.test/a.pdf"}}])
        );
        for (bad, param) in [
            (
                json!({"contents": [{"parts": [{"inlineData": {"mimeType": "audio/wav", "data": "x"}}]}]}),
                "contents[0].parts[0].inlineData.mimeType",
            ),
            (
                json!({"contents": [{"parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x"}}]}]}),
                "contents[0].parts[0].fileData.fileUri",
            ),
            (
                json!({"contents": [{"parts": [{"executableCode": {"code": "1"}}]}]}),
                "contents[0].parts[0]",
            ),
            (json!({"contents": []}), "contents"),
            (
                json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
                "contents[0].role",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"codeExecution": {}}]}),
                "tools[0].codeExecution",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}}),
                "generationConfig.candidateCount",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json"}}),
                "generationConfig.responseMimeType",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"bogus": 1}}),
                "generationConfig.bogus",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "cachedContent": "cachedContents/1"}),
                "cachedContent",
            ),
        ] {
            let e = req(bad).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.param.as_deref(), Some(param), "{}", e.message);
        }
    }

    #[test]
    fn tools_choice_schema_and_thinking_config() {
        let (out, reply) = req(json!({
            "contents": [{"parts": [{"text": "x"}]}],
            "tools": [{"functionDeclarations": [
                {"name": "f", "description": "d", "parameters": {"type": "OBJECT", "properties": {
                    "a": {"type": "STRING", "nullable": true}, "b": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
                    "required": ["a"], "propertyOrdering": ["a", "b"]}},
                {"name": "g"}]}, {"googleSearch": {}}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
            "generationConfig": {"responseMimeType": "application/json",
                "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "NUMBER"}}},
                "thinkingConfig": {"thinkingLevel": "LOW", "includeThoughts": true}, "seed": 3}
        }))
        .unwrap();
        assert_eq!(
            out["tools"],
            json!([{"name": "f", "description": "d", "input_schema": {"type": "object", "properties": {
                        "a": {"type": ["string", "null"]}, "b": {"type": "array", "items": {"type": "integer"}}},
                        "required": ["a"]}},
                   {"name": "g", "input_schema": {"type": "object", "properties": {}}},
                   {"type": "web_search_20250305", "name": "web_search"}])
        );
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "g"}));
        assert_eq!(out["thinking"], json!({"type": "adaptive"}));
        assert_eq!(
            out["output_config"],
            json!({"effort": "low", "format": {"type": "json_schema", "schema": {"type": "object", "properties": {"n": {"type": "number"}}}}})
        );
        assert!(reply.include_thoughts);
        let (out, _) = req(json!({"contents": [{"parts": [{"text": "x"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}, "temperature": 0.3}}))
        .unwrap();
        assert_eq!(out["tool_choice"], json!({"type": "none"}));
        assert!(out.get("thinking").is_none());
        assert_eq!(out["temperature"], json!(0.3));
        let (out, _) = req(json!({"contents": [{"parts": [{"text": "x"}]}],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 100}}}))
        .unwrap();
        assert_eq!(
            out["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
    }

    #[test]
    fn count_requests_take_either_form() {
        let plain = json!({"contents": [{"parts": [{"text": "x"}]}]});
        let inner = json!({"generateContentRequest": {"model": "models/m", "contents": [{"parts": [{"text": "x"}]}]}});
        for body in [plain, inner] {
            let out = count_request(body.as_object().unwrap().clone(), "m").unwrap();
            assert_eq!(out["messages"][0]["content"][0]["text"], "x");
            assert!(out.get("stream").is_none());
        }
    }

    /// An answer of the gateway's web search (as its Messages front door gives it).
    fn searched_answer() -> Value {
        let cite = |url: &str, title: &str, text: &str| {
            json!({"type": "web_search_result_location", "url": url, "title": title,
                   "cited_text": text, "encrypted_index": "EI"})
        };
        json!({"id": "msg_s", "model": "gemini-3-flash", "stop_reason": "end_turn",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rust release"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                    {"type": "web_search_result", "url": "https://a.test/", "title": "A", "encrypted_content": "E1", "page_age": null},
                    {"type": "web_search_result", "url": "https://b.test/", "title": "B", "encrypted_content": "E2", "page_age": null}]},
                {"type": "text", "text": "Überblick: "},
                {"type": "text", "text": "Rust 1.90 is out.", "citations": [cite("https://a.test/", "A", "1.90")]},
                {"type": "text", "text": " Both agree.", "citations": [cite("https://b.test/", "B", "x"), cite("https://a.test/", "A", "y")]}],
            "usage": {"input_tokens": 30, "output_tokens": 9, "server_tool_use": {"web_search_requests": 1}}})
    }

    #[test]
    fn web_search_answers_carry_grounding_metadata() {
        let whole = answer(&searched_answer(), Reply::default());
        let candidate = &whole["candidates"][0];
        let m = &candidate["groundingMetadata"];
        assert_eq!(m["webSearchQueries"], json!(["rust release"]));
        assert_eq!(
            m["groundingChunks"],
            json!([{"web": {"uri": "https://a.test/", "title": "A"}}, {"web": {"uri": "https://b.test/", "title": "B"}}])
        );
        // Offsets are bytes of the non-thought text, as Gemini CLI reads them.
        let text: String = candidate["content"]["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.get("thought").is_none())
            .filter_map(|p| p["text"].as_str())
            .collect();
        let supports = m["groundingSupports"].as_array().unwrap();
        assert_eq!(supports.len(), 2);
        let cited: Vec<(&str, Value)> = supports
            .iter()
            .map(|s| {
                let (a, b) = (
                    s["segment"]["startIndex"].as_u64().unwrap(),
                    s["segment"]["endIndex"].as_u64().unwrap(),
                );
                (
                    &text[a as usize..b as usize],
                    s["groundingChunkIndices"].clone(),
                )
            })
            .collect();
        assert_eq!(
            cited,
            vec![
                ("Rust 1.90 is out.", json!([0])),
                (" Both agree.", json!([1, 0]))
            ]
        );
        assert_eq!(supports[0]["segment"]["text"], "Rust 1.90 is out.");

        // The same answer streamed: the metadata rides on the last chunk.
        let answer = searched_answer();
        let mut events = vec![(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_s", "model": "gemini-3-flash", "usage": {"input_tokens": 30, "output_tokens": 0}}}),
        )];
        for (i, b) in answer["content"].as_array().unwrap().iter().enumerate() {
            let mut start = b.clone();
            match b["type"].as_str().unwrap() {
                "server_tool_use" => start["input"] = json!({}),
                "text" => {
                    start["text"] = json!("");
                    start["citations"] = json!([]);
                }
                _ => {}
            }
            events.push((
                "content_block_start",
                json!({"type": "content_block_start", "index": i, "content_block": start}),
            ));
            if b["type"] == "server_tool_use" {
                let input = b["input"].to_string();
                let (x, y) = input.split_at(5);
                for part in [x, y] {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": part}})));
                }
            }
            for c in b["citations"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "citations_delta", "citation": c}})));
            }
            if let Some(t) = b["text"].as_str() {
                let cut = t.char_indices().nth(4).map_or(0, |(at, _)| at);
                for part in [&t[..cut], &t[cut..]] {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": part}})));
                }
            }
            events.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": i}),
            ));
        }
        events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}})));
        events.push(("message_stop", json!({"type": "message_stop"})));
        let chunks = sse_chunks(&stream(Framing::Sse, Reply::default(), &events));
        let last = chunks.last().unwrap();
        let mut streamed = last["candidates"][0]["groundingMetadata"].clone();
        for s in streamed["groundingSupports"].as_array_mut().unwrap() {
            s["segment"].as_object_mut().unwrap().remove("text");
        }
        let mut expected = m.clone();
        for s in expected["groundingSupports"].as_array_mut().unwrap() {
            s["segment"].as_object_mut().unwrap().remove("text");
        }
        assert_eq!(streamed, expected);
        assert!(chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["candidates"][0].get("groundingMetadata").is_none()));
        // No search, no metadata.
        let plain = answer_without_search();
        assert!(plain["candidates"][0].get("groundingMetadata").is_none());
    }

    fn answer_without_search() -> Value {
        answer(
            &json!({"id": "m", "model": "x", "stop_reason": "end_turn",
                    "content": [{"type": "text", "text": "hi"}], "usage": {}}),
            Reply::default(),
        )
    }

    #[test]
    fn whole_answers_translate_with_signatures_on_the_next_part() {
        let messages = json!({"id": "msg_1", "model": "claude-sonnet-5", "stop_reason": "tool_use",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": "SIG1"},
                {"type": "text", "text": "Looking."},
                {"type": "redacted_thinking", "data": "R1"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                {"type": "thinking", "thinking": "late", "signature": "SIG2"}],
            "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 6, "cache_creation_input_tokens": 2}});
        let with = answer(
            &messages,
            Reply {
                include_thoughts: true,
            },
        );
        assert_eq!(
            with["candidates"][0]["content"]["parts"],
            json!([{"text": "plan", "thought": true},
                   {"text": "Looking.", "thoughtSignature": "SIG1"},
                   {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}}, "thoughtSignature": "R1"},
                   {"text": "late", "thought": true},
                   {"text": "", "thoughtSignature": "SIG2"}])
        );
        assert_eq!(with["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            with["usageMetadata"],
            json!({"promptTokenCount": 18, "candidatesTokenCount": 4, "totalTokenCount": 22, "cachedContentTokenCount": 6})
        );
        assert_eq!(with["responseId"], "msg_1");
        // Without includeThoughts the text of thoughts is left out, their signatures not.
        let without = answer(&messages, Reply::default());
        let parts = without["candidates"][0]["content"]["parts"]
            .as_array()
            .unwrap();
        assert!(parts.iter().all(|p| p.get("thought").is_none()));
        assert_eq!(parts.len(), 3);

        // What the answer becomes, sent back, is the same conversation.
        let turn = json!({"contents": [{"parts": [{"text": "go"}]}, with["candidates"][0]["content"].clone()]});
        let (back, _) = req(turn).unwrap();
        assert_eq!(
            back["messages"][1]["content"],
            json!([{"type": "thinking", "thinking": "plan", "signature": "SIG1"},
                   {"type": "text", "text": "Looking."},
                   {"type": "redacted_thinking", "data": "R1"},
                   {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                   {"type": "thinking", "thinking": "late", "signature": "SIG2"}])
        );
        for (stop, finish) in [
            ("max_tokens", "MAX_TOKENS"),
            ("refusal", "SAFETY"),
            ("end_turn", "STOP"),
            ("stop_sequence", "STOP"),
            ("weird", "OTHER"),
        ] {
            let a = answer(
                &json!({"content": [], "stop_reason": stop, "usage": {}}),
                Reply::default(),
            );
            assert_eq!(a["candidates"][0]["finishReason"], finish);
        }
    }

    #[test]
    fn streams_translate_in_sse_form() {
        let text = stream(
            Framing::Sse,
            Reply {
                include_thoughts: true,
            },
            &tool_turn(),
        );
        assert!(
            text.starts_with("\r\ndata: "),
            "pings keep the client waiting: {text}"
        );
        let chunks = sse_chunks(&text);
        let parts: Vec<&Value> = chunks
            .iter()
            .map(|c| &c["candidates"][0]["content"]["parts"][0])
            .collect();
        assert_eq!(*parts[0], json!({"text": "plan", "thought": true}));
        assert_eq!(
            *parts[1],
            json!({"text": "I'll look.", "thoughtSignature": "SIG1"})
        );
        assert_eq!(
            *parts[2],
            json!({"functionCall": {"id": "toolu_1", "name": "get_weather", "args": {"city": "Paris"}}})
        );
        let last = chunks.last().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(
            last["usageMetadata"],
            json!({"promptTokenCount": 15, "candidatesTokenCount": 7, "totalTokenCount": 22, "cachedContentTokenCount": 5})
        );
        assert_eq!(last["responseId"], "msg_1");
        assert_eq!(chunks.len(), 4);
        // The stream's parts, concatenated, are the whole answer's.
        let without = stream(Framing::Sse, Reply::default(), &tool_turn());
        assert_eq!(sse_chunks(&without).len(), 3, "no thought chunk");
    }

    #[test]
    fn streams_translate_in_json_array_form() {
        let text = stream(Framing::JsonArray, Reply::default(), &tool_turn());
        let v: Value = serde_json::from_str(&text).unwrap();
        let chunks = v.as_array().unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
            "SIG1"
        );
        // Nothing at all, then the end: an error in an array.
        let text = stream(Framing::JsonArray, Reply::default(), &[]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[0]["error"]["status"], "UNAVAILABLE");
        assert_eq!(v[0]["error"]["code"], 502);
    }

    #[test]
    fn broken_streams_end_with_one_error() {
        // Cut before message_stop.
        let mut cut = tool_turn();
        cut.truncate(8);
        let text = stream(Framing::Sse, Reply::default(), &cut);
        let chunks = sse_chunks(&text);
        assert_eq!(
            chunks.iter().filter(|c| c.get("error").is_some()).count(),
            1
        );
        assert!(chunks.last().unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended"));
        // An error event of the Messages stream, in Google's shape, and nothing after it.
        let mut failed = tool_turn();
        failed.insert(8, ("error", json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})));
        let chunks = sse_chunks(&stream(Framing::Sse, Reply::default(), &failed));
        assert_eq!(
            chunks.last().unwrap(),
            &json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
        );
        assert_eq!(chunks.len(), 2);
        // Malformed data.
        let mut s = GeminiStream::new(Framing::Sse, Reply::default());
        let out = String::from_utf8(s.feed(b"event: message_start\ndata: {oops\n\n")).unwrap();
        assert!(out.contains("\"status\":\"UNAVAILABLE\""));
        assert!(s.finish().is_empty());
        // A connection failure after the end sends nothing more.
        let mut s = GeminiStream::new(Framing::JsonArray, Reply::default());
        for (name, data) in tool_turn() {
            s.feed(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        }
        assert_eq!(s.fail("reset"), b"]");
        let mut s = GeminiStream::new(Framing::JsonArray, Reply::default());
        assert_eq!(
            s.whole(&json!({"candidates": []})),
            b"[{\"candidates\":[]}]"
        );
    }

    #[test]
    fn models_in_googles_shape() {
        let described = json!({"data": [
            {"id": "claude-sonnet-5", "display_name": "Claude Sonnet 5", "model_type": "chat",
             "max_prompt_tokens": 128000, "context_window": 200000, "max_output_tokens": 32000,
             "capabilities": {"thinking": true}},
            {"id": "text-embedding-3-small", "model_type": "embeddings"}]});
        let list = model_list(&described);
        assert_eq!(list["models"].as_array().unwrap().len(), 1);
        let m = &list["models"][0];
        assert_eq!(m["name"], "models/claude-sonnet-5");
        assert_eq!(m["inputTokenLimit"], 128000);
        assert_eq!(m["outputTokenLimit"], 32000);
        assert_eq!(m["thinking"], true);
        assert_eq!(model_id("models/gpt-5.1"), "gpt-5.1");
        assert_eq!(model_id("gpt-5.1"), "gpt-5.1");
    }
}
