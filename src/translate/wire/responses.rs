//! OpenAI Responses content parts.

use serde_json::{json, Map, Value};

use super::super::json::{invalid, take_string};
use super::super::unconvertible;
use crate::protocol::content::{Media, Part, Source};
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;
use crate::protocol::tools::{empty_schema, freeform_schema, ToolChoice, ToolDef};

/// An input or output content part (`at`: its param; None: nothing to carry).
pub fn read_part(
    mut p: Map<String, Value>,
    at: impl FnOnce() -> String,
) -> Result<Option<Part>, ApiError> {
    match p.get("type").and_then(Value::as_str).unwrap_or("") {
        "input_text" | "output_text" | "text" => Ok(take_string(p.remove("text")).map(Part::Text)),
        "refusal" => Ok(take_string(p.remove("refusal")).map(Part::Text)),
        "input_image" => {
            let at = at() + ".image_url";
            let url = match p.remove("image_url") {
                Some(Value::String(u)) => Some(u),
                Some(Value::Object(mut o)) => take_string(o.remove("url")),
                _ => None,
            };
            let source = match (url, take_string(p.remove("file_id"))) {
                (Some(url), _) => Source::Url(url),
                (None, Some(id)) => Source::FileId(id),
                (None, None) => return Err(invalid("an image needs image_url or file_id", at)),
            };
            let mut media = Media::new(source, at);
            media.detail = take_string(p.remove("detail"));
            Ok(Some(Part::Image(media)))
        }
        "input_file" => {
            let at = at();
            let mut media = match (
                take_string(p.remove("file_data")),
                take_string(p.remove("file_url")),
                take_string(p.remove("file_id")),
            ) {
                (Some(data), _, _) => Media::new(Source::Data(data), at + ".file_data"),
                (None, Some(url), _) => Media::new(Source::Url(url), at + ".file_url"),
                (None, None, Some(id)) => Media::new(Source::FileId(id), at + ".file_data"),
                (None, None, None) => {
                    return Err(invalid(
                        "a file needs file_data, file_url or file_id",
                        at + ".file_data",
                    ))
                }
            };
            media.filename = take_string(p.remove("filename"));
            Ok(Some(Part::File(media)))
        }
        other => unconvertible(other, at).map(|()| None),
    }
}

/// A part as a Responses input part: inline data, URLs, file ids and text all have a form.
/// A file's name goes with inline data (which needs one) and ids, not with a URL.
pub fn write_part(part: Part) -> Value {
    match part {
        Part::Text(t) => json!({"type": "input_text", "text": t}),
        Part::Image(m) => {
            let detail = Value::String(m.detail.unwrap_or_else(|| "auto".into()));
            match m.source {
                Source::Data(url) | Source::Url(url) => {
                    json!({"type": "input_image", "image_url": url, "detail": detail})
                }
                Source::FileId(id) => {
                    json!({"type": "input_image", "file_id": id, "detail": detail})
                }
            }
        }
        Part::File(m) => {
            let (key, value) = match m.source {
                Source::Data(d) => ("file_data", d),
                Source::FileId(id) => ("file_id", id),
                Source::Url(u) => return json!({"type": "input_file", "file_url": u}),
            };
            let mut file = Map::from_iter([
                ("type".into(), json!("input_file")),
                (key.into(), Value::String(value)),
            ]);
            if let Some(f) = m.filename {
                file.insert("filename".into(), Value::String(f));
            }
            Value::Object(file)
        }
    }
}

/// Why a Responses answer is `incomplete` (`incomplete_details.reason`): a content filter,
/// else the output limit (`max_output_tokens`, the only other reason).
pub fn read_incomplete(reason: Option<&str>) -> StopReason {
    match reason {
        Some("content_filter") => StopReason::Refusal,
        _ => StopReason::MaxTokens,
    }
}

/// A tool as a Responses function tool. Responses defaults function tools to strict mode,
/// which rejects ordinary schemas: strict is sent, false unless the client said true.
pub fn write_tool(tool: ToolDef) -> Value {
    let mut f = Map::new();
    f.insert("type".into(), Value::String("function".into()));
    f.insert("name".into(), Value::String(tool.name));
    if let Some(d) = tool.description {
        f.insert("description".into(), Value::String(d));
    }
    let schema = tool.schema.unwrap_or_else(empty_schema);
    f.insert("parameters".into(), schema);
    f.insert("strict".into(), Value::Bool(tool.strict == Some(true)));
    Value::Object(f)
}

pub fn write_tool_choice(choice: ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => Value::String("auto".into()),
        ToolChoice::Required => Value::String("required".into()),
        ToolChoice::None => Value::String("none".into()),
        ToolChoice::Named(name) => json!({"type": "function", "name": name}),
    }
}

/// One entry of `tools` (`i`: its index; None: a hosted tool, which has no counterpart). A
/// `custom` (freeform) tool becomes a function taking its raw text.
pub fn read_tool(i: usize, tool: Value) -> Result<Option<ToolDef>, ApiError> {
    let Value::Object(mut t) = tool else {
        return Ok(None);
    };
    let custom = match t.get("type").and_then(Value::as_str) {
        Some("function") => false,
        Some("custom") => true,
        _ => return Ok(None),
    };
    let Some(name) = take_string(t.remove("name")) else {
        let p = format!("tools[{i}].name");
        return Err(invalid(format!("Missing required parameter: '{p}'."), p));
    };
    Ok(Some(ToolDef {
        name,
        description: take_string(t.remove("description")),
        schema: if custom {
            Some(freeform_schema())
        } else {
            t.remove("parameters").filter(|p| !p.is_null())
        },
        strict: if custom {
            None
        } else {
            t.remove("strict").and_then(|s| s.as_bool())
        },
    }))
}
