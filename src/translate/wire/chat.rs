//! OpenAI Chat Completions content parts.

use serde_json::{json, Map, Value};

use super::super::json::{invalid, obj, take_string};
use super::super::{cannot_carry, unconvertible};
use crate::protocol::content::{Media, Part, Source};
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;
use crate::protocol::tools::{empty_schema, freeform_schema, ToolChoice, ToolDef};

/// A user or tool content part (`at`: its param; None: nothing to carry). Chat has images
/// by URL (inline or web) and files inline or by id; every part but audio has a form.
pub fn read_part(part: Value, at: impl FnOnce() -> String) -> Result<Option<Part>, ApiError> {
    let mut p = match part {
        Value::Object(p) => p,
        Value::String(t) => return Ok(Some(Part::Text(t))),
        _ => return Ok(None),
    };
    match p.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => Ok(take_string(p.remove("text")).map(Part::Text)),
        "image_url" => {
            let mut image = match p.remove("image_url") {
                Some(Value::Object(image)) => image,
                Some(Value::String(url)) => Map::from_iter([("url".into(), Value::String(url))]),
                _ => Map::new(),
            };
            let at = at() + ".image_url.url";
            let Some(url) = take_string(image.remove("url")) else {
                return Err(invalid("image_url.url is required", at));
            };
            let mut media = Media::new(Source::Url(url), at);
            media.detail = take_string(image.remove("detail"));
            Ok(Some(Part::Image(media)))
        }
        "file" => {
            let mut f = match p.remove("file") {
                Some(Value::Object(f)) => f,
                _ => Map::new(),
            };
            let at = at() + ".file";
            let filename = take_string(f.remove("filename"));
            let mut media = match (
                take_string(f.remove("file_data")),
                take_string(f.remove("file_id")),
            ) {
                (Some(data), _) => Media::new(Source::Data(data), at + ".file_data"),
                (None, Some(id)) => Media::new(Source::FileId(id), at),
                (None, None) => return Err(invalid("a file needs file_data or file_id", at)),
            };
            media.filename = filename;
            Ok(Some(Part::File(media)))
        }
        other => unconvertible(other, at).map(|()| None),
    }
}

/// A Chat text part.
pub fn text_part(text: String) -> Value {
    obj([
        ("type", Value::String("text".into())),
        ("text", Value::String(text)),
    ])
}

/// A part as a Chat content part. Chat takes images only by URL and files only inline or
/// by id: an image known by file id, or a file from a URL, is refused.
pub fn write_part(part: Part) -> Result<Value, ApiError> {
    Ok(match part {
        Part::Text(t) => text_part(t),
        Part::Image(m) => {
            let (Source::Url(url) | Source::Data(url)) = m.source else {
                return Err(cannot_carry(
                    m.at,
                    "this model is served through Chat Completions, which takes images only by URL \
                     (an image_url is required)",
                ));
            };
            let mut image = Map::from_iter([("url".into(), Value::String(url))]);
            if let Some(d) = m.detail {
                image.insert("detail".into(), Value::String(d));
            }
            json!({"type": "image_url", "image_url": image})
        }
        Part::File(m) => {
            let mut file = Map::new();
            match m.source {
                Source::Data(d) => file.insert("file_data".into(), Value::String(d)),
                Source::FileId(id) => file.insert("file_id".into(), Value::String(id)),
                Source::Url(_) => return Err(cannot_carry(
                    m.at,
                    "a file from a URL cannot be sent to this model: it is served through Chat \
                         Completions, which takes files only inline (send it as base64 data)",
                )),
            };
            if let Some(name) = m.filename {
                file.insert("filename".into(), Value::String(name));
            }
            json!({"type": "file", "file": file})
        }
    })
}

/// A Chat `finish_reason` (`function_call`: the legacy name of `tool_calls`).
pub fn read_finish(reason: &str) -> StopReason {
    match reason {
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

pub fn write_finish(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
    }
}

/// A tool as a Chat function tool. `strict: false` is Chat's default: only true is sent.
pub fn write_tool(tool: ToolDef) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), Value::String(tool.name));
    if let Some(d) = tool.description {
        f.insert("description".into(), Value::String(d));
    }
    let schema = tool.schema.unwrap_or_else(empty_schema);
    f.insert("parameters".into(), schema);
    if tool.strict == Some(true) {
        f.insert("strict".into(), Value::Bool(true));
    }
    obj([
        ("type", Value::String("function".into())),
        ("function", Value::Object(f)),
    ])
}

pub fn write_tool_choice(choice: ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => Value::String("auto".into()),
        ToolChoice::Required => Value::String("required".into()),
        ToolChoice::None => Value::String("none".into()),
        ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
    }
}

/// One entry of `tools` (`i`: its index; None: a kind with no counterpart). A `custom`
/// (freeform) tool becomes a function taking its raw text.
pub fn read_tool(i: usize, tool: Value) -> Result<Option<ToolDef>, ApiError> {
    let Value::Object(mut t) = tool else {
        return Ok(None);
    };
    let kind = t
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind != "function" && kind != "custom" {
        return Ok(None);
    }
    let Some(Value::Object(mut f)) = t.remove(kind.as_str()) else {
        return Ok(None);
    };
    let name = take_string(f.remove("name")).ok_or_else(|| {
        let p = format!("tools[{i}].{kind}.name");
        invalid(format!("Missing required parameter: '{p}'."), p)
    })?;
    let custom = kind == "custom";
    Ok(Some(ToolDef {
        name,
        description: take_string(f.remove("description")),
        schema: if custom {
            Some(freeform_schema())
        } else {
            f.remove("parameters").filter(|p| !p.is_null())
        },
        strict: if custom {
            None
        } else {
            f.remove("strict").and_then(|s| s.as_bool())
        },
    }))
}
