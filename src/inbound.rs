//! A client's generation request as the gateway first sees it: parsed once, checked for
//! the fields every path relies on, and read for the facts that shape upstream headers.

use serde_json::{Map, Value};

use crate::content_encoding::{self, Coding};
use crate::protocol::error::ApiError;
use crate::protocol::Api;
use crate::upstream::headers::Initiator;

#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    pub body: Map<String, Value>,
    pub model: String,
    pub stream: bool,
}

/// The largest request body accepted (32 MiB: long agent histories with screenshots stay
/// well under it; Copilot itself refuses much less per image).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Checks what the headers say about a body before it is read: a declared size over the
/// limit is a 413, a content type that cannot carry JSON or a content encoding the
/// gateway cannot undo a 415. No content type, and the defaults of `curl -d` and
/// `fetch(url, {body: string})`, are accepted: the body must still parse as JSON.
/// Returns the codings to undo (none for a plain body).
pub fn check_body_headers(
    content_type: Option<&str>,
    content_length: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<Vec<Coding>, ApiError> {
    if let Some(len) = content_length.and_then(|l| l.trim().parse::<u64>().ok()) {
        if len > MAX_BODY_BYTES as u64 {
            return Err(too_large());
        }
    }
    if let Some(ct) = content_type {
        let media = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let lenient = matches!(
            media.as_str(),
            "" | "text/plain" | "application/x-www-form-urlencoded"
        );
        if !lenient && !media.ends_with("/json") && !media.ends_with("+json") {
            return Err(ApiError::new(
                crate::protocol::error::ErrorKind::UnsupportedMediaType,
                format!("content-type `{media}` is not supported: send JSON (application/json)"),
            ));
        }
    }
    match content_encoding {
        Some(header) => content_encoding::parse(header),
        None => Ok(Vec::new()),
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        crate::protocol::error::ErrorKind::RequestTooLarge,
        format!(
            "request body is larger than the {} MiB limit",
            MAX_BODY_BYTES / (1024 * 1024)
        ),
    )
}

/// The body as text, decompressed first when it came with `codings`: over the limit
/// (once decompressed) is a 413, a broken compressed body or invalid UTF-8 a 400.
pub fn body_text(bytes: Vec<u8>, codings: &[Coding]) -> Result<String, ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let bytes = if codings.is_empty() {
        bytes
    } else {
        content_encoding::decode(bytes, codings, MAX_BODY_BYTES)?
    };
    String::from_utf8(bytes).map_err(|e| {
        ApiError::invalid(format!(
            "request body is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses and checks a request body. Errors name the offending field, so the caller's
/// SDK shows something actionable.
pub fn parse(api: Api, text: &str) -> Result<Inbound, ApiError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::invalid("request body must be a JSON object"));
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        Some(Value::String(_)) | None => {
            return Err(ApiError::invalid("`model` is required").with_param("model"))
        }
        Some(_) => return Err(ApiError::invalid("`model` must be a string").with_param("model")),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("`stream` must be a boolean").with_param("stream")),
    };
    match api {
        Api::Messages | Api::ChatCompletions => match body.get("messages") {
            Some(Value::Array(_)) => {}
            None => return Err(ApiError::invalid("`messages` is required").with_param("messages")),
            Some(_) => {
                return Err(ApiError::invalid("`messages` must be an array").with_param("messages"))
            }
        },
        Api::Responses => match body.get("input") {
            None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
            Some(_) => {
                return Err(
                    ApiError::invalid("`input` must be a string or an array of items")
                        .with_param("input"),
                )
            }
        },
    }
    if api == Api::Messages {
        match body.get("max_tokens") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some() => {}
            Some(_) => {
                return Err(ApiError::invalid("`max_tokens` must be a positive integer")
                    .with_param("max_tokens"))
            }
        }
    }
    Ok(Inbound {
        body,
        model,
        stream,
    })
}

/// Responses requests, before any path: what Copilot cannot honour is refused or removed
/// here, once, whatever model serves the request.
pub fn normalize_responses(body: &mut Map<String, Value>) -> Result<(), ApiError> {
    if body
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::invalid(
            "`previous_response_id` is not supported: Copilot does not keep responses. Send the whole \
             conversation in `input` with `store: false` (as Codex does).",
        )
        .with_param("previous_response_id"));
    }
    // Nothing is stored upstream, so nothing may claim to be.
    body.insert("store".into(), Value::Bool(false));
    // Copilot has no image generation: the hosted tool is removed rather than failing the turn.
    let mut removed_all = false;
    if let Some(Value::Array(tools)) = body.get_mut("tools") {
        let before = tools.len();
        tools.retain(|t| t.get("type").and_then(Value::as_str) != Some("image_generation"));
        removed_all = before > 0 && tools.is_empty();
    }
    let choice_targets_removed = body
        .get("tool_choice")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        == Some("image_generation");
    if choice_targets_removed
        || (removed_all && body.get("tool_choice").is_some_and(|c| c != "none"))
    {
        body.remove("tool_choice");
    }
    if removed_all {
        body.remove("tools");
    }
    Ok(())
}

/// `user` for a fresh prompt, `agent` when the turn only returns tool results: Copilot
/// bills the former as a premium request and throttles the latter as agent traffic.
pub fn initiator(api: Api, body: &Map<String, Value>) -> Initiator {
    let agent_when = |b: bool| if b { Initiator::Agent } else { Initiator::User };
    match api {
        Api::Messages => {
            // System messages inside the conversation are instructions, not a turn.
            let last = body
                .get("messages")
                .and_then(Value::as_array)
                .and_then(|m| {
                    m.iter()
                        .rev()
                        .find(|m| m.get("role").and_then(Value::as_str) != Some("system"))
                });
            match last {
                Some(m) if m.get("role").and_then(Value::as_str) == Some("user") => {
                    match m.get("content") {
                        Some(Value::Array(blocks)) => agent_when(
                            !blocks.is_empty()
                                && blocks.iter().all(|b| block_type(b) == Some("tool_result")),
                        ),
                        _ => Initiator::User,
                    }
                }
                _ => Initiator::Agent,
            }
        }
        Api::ChatCompletions => {
            let last = body
                .get("messages")
                .and_then(Value::as_array)
                .and_then(|m| m.last());
            let role = last.and_then(|m| m.get("role")).and_then(Value::as_str);
            agent_when(matches!(
                role,
                Some("tool") | Some("assistant") | Some("function")
            ))
        }
        Api::Responses => match body.get("input") {
            Some(Value::Array(items)) => {
                let last = items.last();
                let role = last.and_then(|i| i.get("role")).and_then(Value::as_str);
                let kind = last.and_then(block_type);
                agent_when(match role {
                    Some(r) => r == "assistant",
                    None => matches!(
                        kind,
                        Some("function_call_output")
                            | Some("custom_tool_call_output")
                            | Some("function_call")
                            | Some("reasoning")
                            | Some("local_shell_call_output")
                            | Some("mcp_call_output")
                            // Codex asking for a compaction, or going on after one.
                            | Some("compaction_trigger")
                            | Some("compaction")
                    ),
                })
            }
            _ => Initiator::User,
        },
    }
}

/// Whether the conversation carries an image: Copilot wants `copilot-vision-request`
/// then, and only then (sending it always trips its vision rate limit).
pub fn has_images(api: Api, body: &Map<String, Value>) -> bool {
    let root = match api {
        Api::Messages | Api::ChatCompletions => body.get("messages"),
        Api::Responses => body.get("input"),
    };
    root.is_some_and(contains_image)
}

fn block_type(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

fn contains_image(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(contains_image),
        Value::Object(o) => {
            if matches!(
                o.get("type").and_then(Value::as_str),
                Some("image") | Some("input_image") | Some("image_url")
            ) {
                return true;
            }
            // Images sit in content arrays (also inside tool results); nothing else nests them.
            ["content", "output"]
                .iter()
                .filter_map(|k| o.get(*k))
                .any(|c| c.is_array() && contains_image(c))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn body_limits_and_types() {
        assert!(
            check_body_headers(Some("application/json; charset=utf-8"), Some("100"), None).is_ok()
        );
        assert!(check_body_headers(Some("application/vnd.api+json"), None, None).is_ok());
        assert!(check_body_headers(None, None, None).is_ok());
        assert!(check_body_headers(Some("text/plain;charset=UTF-8"), None, None).is_ok());
        assert!(check_body_headers(Some("application/x-www-form-urlencoded"), None, None).is_ok());
        assert_eq!(
            check_body_headers(Some("application/xml"), None, None)
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            check_body_headers(Some("multipart/form-data; boundary=x"), None, None)
                .unwrap_err()
                .status,
            415
        );
        assert_eq!(
            check_body_headers(None, Some("999999999"), None)
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(body_text(b"{}".to_vec(), &[]).unwrap(), "{}");
        let e = body_text(vec![b'{', 0xff, b'}'], &[]).unwrap_err();
        assert!(
            e.message.contains("not valid UTF-8") && e.message.contains("offset 1"),
            "{}",
            e.message
        );
        assert_eq!(
            body_text(vec![b' '; MAX_BODY_BYTES + 1], &[])
                .unwrap_err()
                .status,
            413
        );
    }

    #[test]
    fn compressed_bodies_are_decoded_or_refused() {
        use crate::content_encoding::Coding;
        let json = br#"{"model":"gpt-5.1-codex","input":"hi"}"#;
        let codings = check_body_headers(Some("application/json"), None, Some("zstd")).unwrap();
        assert_eq!(codings, [Coding::Zstd]);
        let zstd = ruzstd::encoding::compress_to_vec(
            &json[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(body_text(zstd, &codings).unwrap().as_bytes(), json);
        assert_eq!(
            check_body_headers(None, None, Some("identity")).unwrap(),
            []
        );
        let e = check_body_headers(None, None, Some("br")).unwrap_err();
        assert_eq!(e.status, 415);
        let e = body_text(json.to_vec(), &[Coding::Gzip]).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("gzip"), "{}", e.message);
        // Within the limit compressed, past it decompressed.
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        let small = ruzstd::encoding::compress_to_vec(
            &big[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert!(small.len() < MAX_BODY_BYTES);
        assert_eq!(body_text(small, &[Coding::Zstd]).unwrap_err().status, 413);
    }

    #[test]
    fn parses_valid_bodies() {
        let i = parse(
            Api::ChatCompletions,
            r#"{"model":" gpt-4.1 ","messages":[],"stream":true}"#,
        )
        .unwrap();
        assert_eq!(i.model, "gpt-4.1");
        assert!(i.stream);
        let r = parse(Api::Responses, r#"{"model":"m","input":"hi"}"#).unwrap();
        assert!(!r.stream);
    }

    #[test]
    fn rejects_bad_bodies_naming_the_field() {
        let e = |api, s: &str| parse(api, s).unwrap_err();
        assert!(e(Api::Messages, "{").message.contains("not valid JSON"));
        assert!(e(Api::Messages, "[]").message.contains("JSON object"));
        assert_eq!(
            e(Api::Messages, r#"{"messages":[]}"#).param.as_deref(),
            Some("model")
        );
        assert_eq!(
            e(Api::Messages, r#"{"model":5,"messages":[]}"#)
                .param
                .as_deref(),
            Some("model")
        );
        assert_eq!(
            e(Api::Messages, r#"{"model":"m","messages":{}}"#)
                .param
                .as_deref(),
            Some("messages")
        );
        assert_eq!(
            e(Api::Messages, r#"{"model":"m"}"#).param.as_deref(),
            Some("messages")
        );
        assert_eq!(
            e(
                Api::ChatCompletions,
                r#"{"model":"m","messages":[],"stream":"yes"}"#
            )
            .param
            .as_deref(),
            Some("stream")
        );
        assert_eq!(
            e(Api::Responses, r#"{"model":"m","input":3}"#)
                .param
                .as_deref(),
            Some("input")
        );
        assert_eq!(
            e(
                Api::Messages,
                r#"{"model":"m","messages":[],"max_tokens":"9"}"#
            )
            .param
            .as_deref(),
            Some("max_tokens")
        );
        assert_eq!(
            e(
                Api::Messages,
                r#"{"model":"m","messages":[],"max_tokens":-1}"#
            )
            .status,
            400
        );
    }

    #[test]
    fn responses_normalization() {
        let mut b = obj(
            json!({"model":"m","input":"hi","store":true,"tools":[{"type":"image_generation"}],"tool_choice":"required"}),
        );
        normalize_responses(&mut b).unwrap();
        assert_eq!(b["store"], false);
        assert!(!b.contains_key("tools") && !b.contains_key("tool_choice"));
        let mut b = obj(
            json!({"tools":[{"type":"image_generation"},{"type":"function","name":"f"}],"tool_choice":{"type":"image_generation"}}),
        );
        normalize_responses(&mut b).unwrap();
        assert_eq!(b["tools"].as_array().unwrap().len(), 1);
        assert!(!b.contains_key("tool_choice"));
        let mut b = obj(json!({"previous_response_id":"resp_1"}));
        assert_eq!(
            normalize_responses(&mut b).unwrap_err().param.as_deref(),
            Some("previous_response_id")
        );
    }

    #[test]
    fn messages_initiator() {
        let i = |m: Value| initiator(Api::Messages, &obj(json!({ "messages": m })));
        assert_eq!(i(json!([{"role":"user","content":"hi"}])), Initiator::User);
        assert_eq!(
            i(
                json!([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"ok"}]}])
            ),
            Initiator::Agent
        );
        assert_eq!(
            i(
                json!([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"},{"type":"text","text":"and also"}]}])
            ),
            Initiator::User
        );
        assert_eq!(
            i(json!([{"role":"assistant","content":"prefill"}])),
            Initiator::Agent
        );
        assert_eq!(
            i(json!([{"role":"user","content":"hi"},{"role":"system","content":"agent list"}])),
            Initiator::User,
            "Claude Code appends a system message to a fresh prompt"
        );
        assert_eq!(i(json!([])), Initiator::Agent);
    }

    #[test]
    fn chat_and_responses_initiator() {
        let c = |m: Value| initiator(Api::ChatCompletions, &obj(json!({ "messages": m })));
        assert_eq!(
            c(json!([{"role":"system","content":"s"},{"role":"user","content":"hi"}])),
            Initiator::User
        );
        assert_eq!(
            c(json!([{"role":"tool","tool_call_id":"c","content":"42"}])),
            Initiator::Agent
        );
        let r = |input: Value| initiator(Api::Responses, &obj(json!({ "input": input })));
        assert_eq!(r(json!("hi")), Initiator::User);
        assert_eq!(
            r(json!([{"type":"message","role":"user","content":"hi"}])),
            Initiator::User
        );
        assert_eq!(
            r(json!([{"type":"function_call_output","call_id":"c","output":"ok"}])),
            Initiator::Agent
        );
        assert_eq!(
            r(json!([{"type":"custom_tool_call_output","call_id":"c","output":"ok"}])),
            Initiator::Agent
        );
        // Codex's compaction request, and the turn that goes on after it.
        assert_eq!(
            r(
                json!([{"type":"message","role":"user","content":"hi"},{"type":"compaction_trigger"}])
            ),
            Initiator::Agent
        );
        assert_eq!(
            r(json!([{"type":"compaction","encrypted_content":"x"}])),
            Initiator::Agent
        );
    }

    #[test]
    fn image_detection() {
        let m = |v: Value| has_images(Api::Messages, &obj(json!({ "messages": v })));
        assert!(!m(json!([{"role":"user","content":"look at type image"}])));
        assert!(m(
            json!([{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"x"}}]}])
        ));
        assert!(m(
            json!([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{}}]}]}])
        ));
        let c = |v: Value| has_images(Api::ChatCompletions, &obj(json!({ "messages": v })));
        assert!(c(
            json!([{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}])
        ));
        assert!(!c(
            json!([{"role":"user","content":[{"type":"text","text":"image_url"}]}])
        ));
        let r = |v: Value| has_images(Api::Responses, &obj(json!({ "input": v })));
        assert!(r(
            json!([{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,x"}]}])
        ));
        assert!(!r(json!("an image")));
    }
}
