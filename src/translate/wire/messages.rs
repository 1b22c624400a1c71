//! Anthropic Messages content blocks.

use serde_json::{json, Map, Value};

use super::super::cannot_carry;
use super::super::json::{obj, take_string};
use crate::protocol::content::{Media, Part, Source};
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;
use crate::protocol::tools::{empty_schema, ToolChoice, ToolDef, Tools};

/// An `image` or `document` block (`kind`) as a part (`at`: the block's param). File ids
/// name Anthropic's file store, which no other API can read; `content` documents are not
/// converted either: both are refused. A plain-text document is text.
pub fn read_media(kind: &str, mut block: Map<String, Value>, at: &str) -> Result<Part, ApiError> {
    let title = take_string(block.remove("title")).filter(|t| !t.is_empty());
    let Some(Value::Object(mut src)) = block.remove("source") else {
        return Err(cannot_carry(
            format!("{at}.source"),
            "a source object is required",
        ));
    };
    let mut take = |k: &str| take_string(src.remove(k));
    let source_type = take("type").unwrap_or_default();
    let source = match source_type.as_str() {
        "base64" => take("media_type")
            .zip(take("data"))
            .map(|(media, data)| Source::Data(format!("data:{media};base64,{data}"))),
        "url" => take("url").map(Source::Url),
        "text" => match take("data") {
            Some(text) if kind != "image" => return Ok(Part::Text(text)),
            Some(_) => {
                return Err(cannot_carry(
                    format!("{at}.source.type"),
                    "an image needs a base64 or url source",
                ))
            }
            None => None,
        },
        _ => {
            return Err(cannot_carry(
                format!("{at}.source.type"),
                format!(
                    "a {source_type:?} source is not supported for this model (use base64, text or url)"
                ),
            ))
        }
    };
    let Some(source) = source else {
        return Err(cannot_carry(
            format!("{at}.source"),
            format!("a {source_type} source needs its fields"),
        ));
    };
    let mut media = Media::new(source, format!("{at}.source"));
    if kind == "image" {
        return Ok(Part::Image(media));
    }
    // The OpenAI APIs want a file name with inline data.
    media.filename = Some(title.unwrap_or_else(|| "document.pdf".into()));
    Ok(Part::File(media))
}

/// A part as a Messages block (None: empty text). Messages takes images of four types and
/// PDF documents, inline or by URL (nothing is fetched here), and no OpenAI file ids.
pub fn write_part(part: Part) -> Result<Option<Value>, ApiError> {
    let (kind, media) = match part {
        Part::Text(t) if t.is_empty() => return Ok(None),
        Part::Text(t) => return Ok(Some(text_block(t))),
        Part::Image(m) => ("image", m),
        Part::File(m) => ("document", m),
    };
    let url = match media.source {
        Source::Data(u) | Source::Url(u) => u,
        Source::FileId(_) => {
            let what = if kind == "image" { "image" } else { "file" };
            return Err(cannot_carry(
                media.at,
                format!(
                    "file ids cannot be read by this model (send the {what} inline as a data URL)"
                ),
            ));
        }
    };
    media_block(kind, url, media.at).map(Some)
}

/// A Messages text block.
pub fn text_block(text: String) -> Value {
    obj([
        ("type", Value::String("text".into())),
        ("text", Value::String(text)),
    ])
}

/// Image types the Messages API accepts in a base64 source.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// A URL (`data:` or http(s)) as an `image` / `document` block (`kind`): inline data
/// becomes a base64 source, a web URL stays a URL source.
fn media_block(kind: &str, url: String, at: String) -> Result<Value, ApiError> {
    let source = if url.starts_with("data:") {
        let Some((media, data)) = parse_data_url(&url) else {
            return Err(cannot_carry(at, "a data URL must be base64"));
        };
        let accepted = match kind {
            "image" => IMAGE_TYPES.contains(&media),
            _ => media == "application/pdf",
        };
        if !accepted {
            let types = if kind == "image" {
                "jpeg, png, gif or webp"
            } else {
                "PDF"
            };
            return Err(cannot_carry(
                at,
                format!("{kind} type {media:?} is not supported for this model ({types} only)"),
            ));
        }
        json!({"type": "base64", "media_type": media, "data": data})
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({"type": "url", "url": url})
    } else {
        return Err(cannot_carry(at, "a data URL or an http(s) URL is required"));
    };
    Ok(json!({"type": kind, "source": source}))
}

/// `data:<media>;base64,<data>` → (media, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media, data))
}

/// A Messages `stop_reason` (Copilot also says `model_context_window_exceeded`).
pub fn read_stop(reason: &str) -> StopReason {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        _ => StopReason::EndTurn,
    }
}

pub fn write_stop(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
    }
}

/// A request's `tools` and `tool_choice`, both taken from `body`. Client tools (no `type`,
/// or `custom`) are kept; server tools (`web_search_…`, `bash_…`) have no counterpart and
/// are left out. A choice naming a tool that is not offered is dropped.
pub fn read_tools(body: &mut Map<String, Value>) -> Tools {
    let mut tools = Tools::default();
    let choice = body.remove("tool_choice");
    let Some(Value::Array(defs)) = body.remove("tools") else {
        return tools;
    };
    for tool in defs {
        let Value::Object(mut t) = tool else {
            continue;
        };
        if !matches!(t.get("type").and_then(Value::as_str), None | Some("custom")) {
            continue;
        }
        let Some(name) = take_string(t.remove("name")) else {
            continue;
        };
        tools.defs.push(ToolDef {
            name,
            description: take_string(t.remove("description")),
            schema: t.remove("input_schema").filter(Value::is_object),
            strict: t.remove("strict").and_then(|s| s.as_bool()),
        });
    }
    let Some(Value::Object(tc)) = choice else {
        return tools;
    };
    tools.choice = match tc.get("type").and_then(Value::as_str) {
        Some("auto") => Some(ToolChoice::Auto),
        Some("any") => Some(ToolChoice::Required),
        Some("none") => Some(ToolChoice::None),
        Some("tool") => tc
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| tools.defs.iter().any(|d| d.name == *n))
            .map(|n| ToolChoice::Named(n.to_string())),
        _ => None,
    };
    tools.serial = tc.get("disable_parallel_tool_use") == Some(&Value::Bool(true));
    tools
}

/// A tool as a Messages client tool (the Messages API requires `input_schema`).
pub fn write_tool(tool: ToolDef) -> Value {
    let mut t = Map::new();
    t.insert("name".into(), Value::String(tool.name));
    if let Some(d) = tool.description.filter(|d| !d.is_empty()) {
        t.insert("description".into(), Value::String(d));
    }
    let schema = tool.schema.filter(Value::is_object);
    t.insert("input_schema".into(), schema.unwrap_or_else(empty_schema));
    if let Some(strict) = tool.strict {
        t.insert("strict".into(), Value::Bool(strict));
    }
    Value::Object(t)
}

pub fn write_tool_choice(choice: ToolChoice) -> Map<String, Value> {
    let (kind, name) = match choice {
        ToolChoice::Auto => ("auto", None),
        ToolChoice::Required => ("any", None),
        ToolChoice::None => ("none", None),
        ToolChoice::Named(name) => ("tool", Some(name)),
    };
    let mut c = Map::from_iter([("type".into(), Value::String(kind.into()))]);
    if let Some(name) = name {
        c.insert("name".into(), Value::String(name));
    }
    c
}

/// Puts `tools` into a Messages request body: no choice without a tool; calls one at a
/// time is the choice's `disable_parallel_tool_use` (with `auto` when none was given,
/// never with `none`). Returns whether the choice forces a tool use (Claude cannot think
/// then).
pub fn insert_tools(tools: Tools, out: &mut Map<String, Value>) -> bool {
    if tools.defs.is_empty() {
        return false;
    }
    let defs = tools.defs.into_iter().map(write_tool).collect();
    out.insert("tools".into(), Value::Array(defs));
    let choice = match tools.choice {
        Some(c) => c,
        None if tools.serial => ToolChoice::Auto,
        None => return false,
    };
    let forced = matches!(choice, ToolChoice::Required | ToolChoice::Named(_));
    let serial = tools.serial && choice != ToolChoice::None;
    let mut c = write_tool_choice(choice);
    if serial {
        c.insert("disable_parallel_tool_use".into(), Value::Bool(true));
    }
    out.insert("tool_choice".into(), Value::Object(c));
    forced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:image/png,AAAA"), None);
    }

    #[test]
    fn media_blocks_read_and_written() {
        let b = json!({"source": {"type": "url", "url": "https://x"}});
        assert_eq!(
            read_media("image", b.as_object().unwrap().clone(), "a"),
            Ok(Part::Image(Media::new(
                Source::Url("https://x".into()),
                "a.source".into()
            )))
        );
        let b = json!({"source": {"type": "base64", "media_type": "image/png"}});
        let e = read_media("image", b.as_object().unwrap().clone(), "a").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("a.source"));

        let pdf = Source::Data("data:application/pdf;base64,AA".into());
        assert_eq!(
            write_part(Part::File(Media::new(pdf, "p".into()))).unwrap(),
            Some(
                json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "AA"}})
            )
        );
        let ftp = Source::Url("ftp://x".into());
        let e = write_part(Part::Image(Media::new(ftp, "p".into()))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("p"));
    }
}
