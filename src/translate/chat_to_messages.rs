//! An OpenAI Chat Completions client served by Copilot's Anthropic `/v1/messages` (Claude
//! models: the native Messages API keeps thinking and tool structure intact).
//!
//! `request` turns a Chat body into a Messages body; `ChatToMessagesStream` turns the
//! Messages events back into Chat chunks.

use serde_json::{Map, Value};

use super::json::{invalid, obj, take_string};
use super::wire::chat_request::{self, Assistant, AssistantText, Content, Message};
use super::wire::chat_stream::{ChatStreamWriter, ChatText, ChatUsage};
use super::wire::messages::{self, text_block};
use super::wire::messages_upstream_request::{insert_thinking, thinking_budget, Turns};
use super::wire::messages_upstream_stream::{MessagesEvents, MessagesUpstreamStream};
use super::{is_openai_encrypted, parse_arguments, OutEvent, TranslateCtx, Usage};
use crate::protocol::api::DEFAULT_MAX_TOKENS;
use crate::protocol::content::Part;
use crate::protocol::error::ApiError;
use crate::protocol::stop::StopReason;

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// The `text` of a text block, moved out.
fn block_text(block: Option<Value>) -> Value {
    match block {
        Some(Value::Object(mut b)) => b.remove("text").unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Chat Completions request body → Messages request body.
pub fn request(
    mut body: Map<String, Value>,
    ctx: &TranslateCtx,
) -> Result<Map<String, Value>, ApiError> {
    chat_request::refuse_choices(&body)?;
    let output_format = match chat_request::read_response_format(&mut body)? {
        Some(mut rf) => {
            let schema = match rf.remove("json_schema") {
                Some(Value::Object(mut spec)) => spec.remove("schema"),
                _ => None,
            };
            let kind = rf.get("type").and_then(Value::as_str);
            super::messages_output_format(kind, schema, "response_format")?
        }
        None => None,
    };

    let mut system: Vec<Value> = Vec::new();
    let mut turns = Turns::default();
    for msg in chat_request::read_messages(&mut body)? {
        match msg? {
            Message::System(t) if t.is_empty() => {}
            Message::System(t) => system.push(text_block(t)),
            Message::User(Content::Text(t)) if t.is_empty() => {}
            Message::User(Content::Text(t)) => turns.push("user", text_block(t)),
            Message::User(Content::Parts(parts)) => {
                for block in blocks(parts)? {
                    turns.push("user", block);
                }
            }
            Message::Tool { call_id, content } => {
                let content = match content {
                    Content::Text(t) => Value::String(t),
                    Content::Parts(parts) => Value::Array(blocks(parts)?),
                };
                turns.push(
                    "user",
                    obj([
                        ("type", s("tool_result")),
                        ("tool_use_id", Value::String(call_id)),
                        ("content", content),
                    ]),
                );
            }
            Message::Assistant(a) => assistant_blocks(a, &mut turns),
        }
    }
    if turns.is_empty() {
        return Err(invalid(
            "messages must contain at least one user or assistant message",
            "messages",
        ));
    }

    let mut out = Map::new();
    out.insert("model".into(), Value::String(ctx.model.clone()));
    if !system.is_empty() {
        let value = if system.len() == 1 {
            block_text(system.pop())
        } else {
            Value::Array(system)
        };
        out.insert("system".into(), value);
    }
    out.insert("messages".into(), Value::Array(turns.into_messages(true)));
    if let Some(format) = output_format {
        out.insert("output_config".into(), obj([("format", format)]));
    }

    let max_tokens = chat_request::read_max_tokens(&mut body)
        .or(ctx.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    out.insert("max_tokens".into(), max_tokens.into());

    match body.remove("stop") {
        Some(Value::String(stop)) => {
            out.insert(
                "stop_sequences".into(),
                Value::Array(vec![Value::String(stop)]),
            );
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(stops));
        }
        _ => {}
    }

    let forced_tool = messages::insert_tools(chat_request::read_tools(&mut body, false)?, &mut out);

    // Anthropic cannot think while a tool use is forced; the explicit tool choice wins.
    let wanted = match body.get("reasoning_effort") {
        None | Some(Value::Null) => None,
        Some(effort) => effort_budget(effort)?,
    };
    let budget = thinking_budget(wanted.filter(|_| !forced_tool), max_tokens, 1);
    insert_thinking(
        &mut out,
        budget,
        body.remove("temperature"),
        body.remove("top_p"),
    );

    // Anthropic's metadata holds only a user id.
    let user =
        take_string(body.remove("user")).or_else(|| take_string(body.remove("safety_identifier")));
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        out.insert("metadata".into(), obj([("user_id", Value::String(user))]));
    }

    // Dropped: n = 1, seed, penalties, logprobs, metadata,
    // store, service_tier, prompt_cache_key, stream_options (read into ctx.include_usage).
    out.insert("stream".into(), Value::Bool(true));
    Ok(out)
}

/// `reasoning_effort` → thinking budget; `none` → no thinking.
fn effort_budget(effort: &Value) -> Result<Option<u64>, ApiError> {
    Ok(match effort.as_str() {
        Some("none") => None,
        Some("minimal" | "low") => Some(2048),
        Some("medium") => Some(8192),
        Some("high") => Some(24576),
        Some("xhigh" | "max") => Some(32768),
        _ => {
            return Err(invalid(
                "reasoning_effort must be one of none, minimal, low, medium, high, xhigh",
                "reasoning_effort",
            ))
        }
    })
}

/// User or tool parts as Messages blocks (parts with nothing to carry left out).
fn blocks(parts: Vec<Part>) -> Result<Vec<Value>, ApiError> {
    parts
        .into_iter()
        .filter_map(|p| messages::write_part(p).transpose())
        .collect()
}

/// An assistant message as blocks in Anthropic order: thinking, text, tool_use.
fn assistant_blocks(a: Assistant, turns: &mut Turns) {
    match (a.reasoning_text, a.reasoning_opaque) {
        // Signatures only verify with the vendor that minted them.
        (_, Some(o)) if is_openai_encrypted(&o) => {}
        (Some(t), Some(o)) => turns.push(
            "assistant",
            obj([
                ("type", s("thinking")),
                ("thinking", Value::String(t)),
                ("signature", Value::String(o)),
            ]),
        ),
        (None, Some(o)) => turns.push(
            "assistant",
            obj([("type", s("redacted_thinking")), ("data", Value::String(o))]),
        ),
        // Unsigned thinking is rejected by the Messages API and never gains a signature.
        (_, None) => {}
    }
    // A refusal replayed is the assistant's text.
    for AssistantText::Text(t) | AssistantText::Refusal(t) in a.content {
        if !t.is_empty() {
            turns.push("assistant", text_block(t));
        }
    }
    for call in a.tool_calls {
        turns.push(
            "assistant",
            obj([
                ("type", s("tool_use")),
                ("id", Value::String(call.id)),
                ("name", Value::String(call.name)),
                ("input", parse_arguments(&call.arguments)),
            ]),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Streaming: Messages events → Chat chunks.

/// Copilot `/v1/messages` events → Chat Completions chunks.
///
/// Only the first reasoning block is projected (Chat has one `reasoning_text` /
/// `reasoning_opaque` pair per message). The finish chunk, the usage chunk (when the
/// client asked) and `[DONE]` all go out on `message_stop`, so a stream cut after
/// `message_delta` still ends in an error rather than a finish.
pub type ChatToMessagesStream = MessagesUpstreamStream<ChatToMessagesState>;

impl ChatToMessagesStream {
    pub fn new(ctx: &TranslateCtx) -> Self {
        MessagesUpstreamStream::with(ChatToMessagesState {
            chat: ChatStreamWriter::new(ctx),
            reasoning_block: None,
            tool_blocks: Vec::new(),
        })
    }
}

pub struct ChatToMessagesState {
    chat: ChatStreamWriter,
    /// Anthropic index of the reasoning block projected, once one has started.
    reasoning_block: Option<u64>,
    /// Anthropic block index → Chat tool call index.
    tool_blocks: Vec<(u64, u64)>,
}

impl MessagesEvents for ChatToMessagesState {
    fn start(&mut self, out: &mut Vec<OutEvent>) {
        self.chat.start(out);
    }

    fn block_start(&mut self, index: Option<u64>, block: &Value, out: &mut Vec<OutEvent>) {
        let index = index.unwrap_or(0);
        let text = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or("");
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "thinking" | "redacted_thinking" => {
                if self.reasoning_block.is_some() {
                    return;
                }
                self.reasoning_block = Some(index);
                self.chat.text(ChatText::Reasoning, text("thinking"), out);
                let opaque = Some(text("signature"))
                    .filter(|o| !o.is_empty())
                    .unwrap_or_else(|| text("data"));
                self.chat.text(ChatText::ReasoningOpaque, opaque, out);
            }
            "text" => self.chat.text(ChatText::Content, text("text"), out),
            "tool_use" => {
                // Anthropic starts tool_use with `input: {}`; anything more is prefilled input.
                let args = match block.get("input") {
                    Some(Value::Object(m)) if !m.is_empty() => Value::Object(m.clone()).to_string(),
                    _ => String::new(),
                };
                let tool = self
                    .chat
                    .open_tool_call(text("id"), text("name"), &args, out);
                self.tool_blocks.push((index, tool));
            }
            // Server tool blocks and the like have no Chat form.
            _ => {}
        }
    }

    fn block_delta(&mut self, index: Option<u64>, kind: &str, text: &str, out: &mut Vec<OutEvent>) {
        let index = index.unwrap_or(0);
        let reasoning = self.reasoning_block == Some(index);
        match kind {
            "text_delta" => self.chat.text(ChatText::Content, text, out),
            "thinking_delta" if reasoning => self.chat.text(ChatText::Reasoning, text, out),
            "signature_delta" if reasoning => self.chat.text(ChatText::ReasoningOpaque, text, out),
            "input_json_delta" => {
                if let Some(&(_, tool)) = self.tool_blocks.iter().find(|(b, _)| *b == index) {
                    self.chat.tool_arguments(tool, text, out);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, stop_reason: Option<&str>, usage: Usage, out: &mut Vec<OutEvent>) {
        let stop = match stop_reason {
            Some(reason) => messages::read_stop(reason),
            None if !self.tool_blocks.is_empty() => StopReason::ToolUse,
            None => StopReason::EndTurn,
        };
        let usage = ChatUsage {
            usage,
            ..ChatUsage::default()
        };
        self.chat.finish(stop, usage, out);
    }

    fn fail(&mut self, message: &str, _code: Option<&str>, out: &mut Vec<OutEvent>) {
        self.chat.fail(message, out);
    }

    fn terminated(&self) -> bool {
        self.chat.terminated()
    }
}

// The tests read these through `super::*`.
#[cfg(test)]
use {super::THINKING_PLACEHOLDER, crate::sse::SseEvent};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;
    use crate::translate::canonical;
    use crate::translate::StreamTranslator;
    use serde_json::json;

    const SEED: &str = "0123456789abcdef01234567";

    fn ctx_with(max_output: Option<u64>, include_usage: bool) -> TranslateCtx {
        TranslateCtx {
            model: "claude-sonnet-4.5".into(),
            max_output_tokens: max_output,
            id_seed: SEED.into(),
            now_secs: 1_700_000_000,
            include_usage,
        }
    }

    fn translate_ctx(body: Value, ctx: &TranslateCtx) -> Result<Value, ApiError> {
        let Value::Object(body) = body else { panic!() };
        request(body, ctx).map(Value::Object)
    }

    fn translate(body: Value) -> Value {
        translate_ctx(body, &ctx_with(Some(16000), true)).expect("translates")
    }

    fn translate_err(body: Value) -> ApiError {
        translate_ctx(body, &ctx_with(Some(16000), true)).expect_err("rejected")
    }

    fn with_messages(messages: Value) -> Value {
        json!({"model":"claude-sonnet-4.5","messages":messages})
    }

    // ---- request ----

    // ---- one rule per concept (carry it or refuse it, never drop it) ----

    #[test]
    fn files_are_converted_or_refused() {
        let out = translate(with_messages(json!([{"role":"user","content":[
            {"type":"file","file":{"filename":"r.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
            {"type":"image_url","image_url":{"url":"https://x.test/a.png"}}]}])));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}},
                {"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}])
        );
        // OpenAI file ids mean nothing to the Messages API; it reads PDFs only.
        let e = translate_err(with_messages(json!([{"role":"user","content":[
            {"type":"file","file":{"file_id":"file-1"}}]}])));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[0].file"))
        );
        let e = translate_err(with_messages(json!([{"role":"user","content":[
            {"type":"file","file":{"file_data":"data:text/csv;base64,YSxi"}}]}])));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].file.file_data")
        );
        assert!(e.message.contains("text/csv"), "{}", e.message);
    }

    #[test]
    fn unknown_parts_are_refused_everywhere() {
        let tool_turn = |content: Value| {
            with_messages(json!([
            {"role":"user","content":"x"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":content}]))
        };
        let e = translate_err(with_messages(
            json!([{"role":"user","content":[{"type":"hologram"}]}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[0].content[0].type"))
        );
        assert!(e.message.contains("\"hologram\""), "{}", e.message);
        let e = translate_err(tool_turn(json!([{"type":"hologram"}])));
        assert_eq!(e.param.as_deref(), Some("messages[2].content[0].type"));
        let e = translate_err(with_messages(json!([{"role":"user","content":"x"},
            {"role":"assistant","content":[{"type":"hologram"}]}])));
        assert_eq!(e.param.as_deref(), Some("messages[1].content[0].type"));
        // An image in a tool message is carried in the tool_result, as on the Responses path.
        let out = translate(tool_turn(json!([{"type":"text","text":"see"},
            {"type":"image_url","image_url":{"url":"https://x.test/a.png"}}])));
        assert_eq!(
            out["messages"][2]["content"][0]["content"],
            json!([{"type":"text","text":"see"},{"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}])
        );
    }

    #[test]
    fn json_output_is_carried_or_refused() {
        let rf = |f: Value| {
            let mut b = with_messages(json!([{"role":"user","content":"x"}]));
            b["response_format"] = f;
            b
        };
        let schema = json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false});
        for strict in [json!(true), json!(false), Value::Null] {
            let out = translate(rf(
                json!({"type":"json_schema","json_schema":{"name":"r","schema":schema,"strict":strict}}),
            ));
            assert_eq!(
                out["output_config"],
                json!({"format":{"type":"json_schema","schema":schema}}),
                "strict: {strict}"
            );
        }
        assert!(translate(rf(json!({"type":"text"})))
            .get("output_config")
            .is_none());
        // Messages only constrains output to a schema: JSON mode has no faithful form there.
        let e = translate_err(rf(json!({"type":"json_object"})));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("response_format.type"))
        );
        assert!(e.message.contains("json_schema"), "{}", e.message);
        let e = translate_err(rf(json!({"type":"json_schema","json_schema":{"name":"r"}})));
        assert_eq!(e.param.as_deref(), Some("response_format"));
        let e = translate_err(rf(json!({"type":"yaml"})));
        assert_eq!(e.param.as_deref(), Some("response_format.type"));
    }

    #[test]
    fn openai_sdk_fixture() {
        let v: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/openai-sdk.chat.request.json"
        ))
        .unwrap();
        let out = translate(v["body"].clone());
        assert_eq!(
            out,
            json!({"model":"claude-sonnet-4.5","max_tokens":16000,
                   "messages":[{"role":"user","content":"Hello via chat completions to gpt-4.1"}],
                   "stream":true})
        );
    }

    #[test]
    fn max_tokens_sources() {
        let base = |extra: Value, ctx: &TranslateCtx| {
            let mut body = with_messages(json!([{"role":"user","content":"x"}]));
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            translate_ctx(body, ctx).unwrap()["max_tokens"].clone()
        };
        let ctx = ctx_with(Some(16000), true);
        assert_eq!(base(json!({"max_tokens":100}), &ctx), 100);
        assert_eq!(
            base(json!({"max_completion_tokens":200,"max_tokens":100}), &ctx),
            200
        );
        assert_eq!(base(json!({"max_tokens":null}), &ctx), 16000);
        assert_eq!(base(json!({}), &ctx_with(None, true)), 8192);
    }

    #[test]
    fn system_developer_and_merged_user_turns() {
        let out = translate(
            json!({"model":"m","temperature":1.7,"top_p":0.5,"stop":"END","user":"u-1",
            "metadata":{"k":"v"},"seed":7,"n":1,"response_format":{"type":"text"},
            "messages":[
                {"role":"system","content":"Sys."},
                {"role":"developer","content":[{"type":"text","text":"Dev "},{"type":"text","text":"rules."}]},
                {"role":"user","content":"a"},
                {"role":"user","content":[{"type":"text","text":"b"}]},
                {"role":"assistant","content":"c"},
                {"role":"system","content":""},
                {"role":"user","content":"d"}]}),
        );
        assert_eq!(
            out,
            json!({"model":"claude-sonnet-4.5",
                   "system":[{"type":"text","text":"Sys."},{"type":"text","text":"Dev rules."}],
                   "messages":[
                       {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
                       {"role":"assistant","content":"c"},
                       {"role":"user","content":"d"}],
                   "max_tokens":16000,"stop_sequences":["END"],"temperature":1.0,"top_p":0.5,
                   "metadata":{"user_id":"u-1"},"stream":true})
        );
        // One system message: a plain string.
        let out = translate(with_messages(
            json!([{"role":"system","content":"Only."},{"role":"user","content":"x"}]),
        ));
        assert_eq!(out["system"], "Only.");
        assert_eq!(
            translate(
                json!({"model":"m","stop":["a","b"],"messages":[{"role":"user","content":"x"}]})
            )["stop_sequences"],
            json!(["a", "b"])
        );
    }

    #[test]
    fn tool_calls_and_results_round_trip() {
        let out = translate(
            json!({"model":"m","parallel_tool_calls":false,"tool_choice":"required",
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
                        "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
                     {"type":"function","function":{"name":"now","strict":true}}],
            "messages":[
                {"role":"user","content":"Weather in Paris and Rome?"},
                {"role":"assistant","content":"Checking.","tool_calls":[
                    {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                    {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"not json"}}]},
                {"role":"tool","tool_call_id":"call_1","content":"18C"},
                {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"error: unknown city"}]},
                {"role":"user","content":"And tomorrow?"}]}),
        );
        assert_eq!(
            out["messages"],
            json!([
                {"role":"user","content":"Weather in Paris and Rome?"},
                {"role":"assistant","content":[
                    {"type":"text","text":"Checking."},
                    {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
                    {"type":"tool_use","id":"call_2","name":"get_weather","input":{"raw_arguments":"not json"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
                    {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"error: unknown city"}]},
                    {"type":"text","text":"And tomorrow?"}]}])
        );
        assert_eq!(
            out["tools"],
            json!([
                {"name":"get_weather","description":"Weather",
                 "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
                {"name":"now","input_schema":{"type":"object","properties":{}},"strict":true}])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type":"any","disable_parallel_tool_use":true})
        );
    }

    #[test]
    fn tool_choice_variants() {
        let choice = |tc: Value, parallel: Option<bool>| {
            let mut body = json!({"model":"m","tools":[{"type":"function","function":{"name":"f"}}],
                                  "messages":[{"role":"user","content":"x"}]});
            if !tc.is_null() {
                body["tool_choice"] = tc;
            }
            if let Some(p) = parallel {
                body["parallel_tool_calls"] = p.into();
            }
            translate(body).get("tool_choice").cloned()
        };
        assert_eq!(choice(json!("auto"), None), Some(json!({"type":"auto"})));
        assert_eq!(
            choice(json!("none"), Some(false)),
            Some(json!({"type":"none"}))
        );
        assert_eq!(
            choice(json!({"type":"function","function":{"name":"f"}}), None),
            Some(json!({"type":"tool","name":"f"}))
        );
        assert_eq!(choice(Value::Null, None), None);
        assert_eq!(
            choice(Value::Null, Some(false)),
            Some(json!({"type":"auto","disable_parallel_tool_use":true}))
        );
        assert_eq!(choice(Value::Null, Some(true)), None);
        // No tools: no choice either.
        let out = translate(
            json!({"model":"m","tool_choice":"required","messages":[{"role":"user","content":"x"}]}),
        );
        assert!(out.get("tool_choice").is_none() && out.get("tools").is_none());
    }

    #[test]
    fn invalid_inputs_name_the_field() {
        let e = translate_err(with_messages(
            json!([{"role":"user","content":"x"},{"role":"tool","content":"r"}]),
        ));
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("messages[1].tool_call_id"))
        );
        let e =
            translate_err(json!({"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}));
        assert_eq!(e.param.as_deref(), Some("n"));
        let e = translate_err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "response_format":{"type":"json_object"}}),
        );
        assert_eq!(e.param.as_deref(), Some("response_format.type"));
        let e = translate_err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"huge"}),
        );
        assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
        let e = translate_err(with_messages(
            json!([{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
        let e = translate_err(with_messages(json!([{"role":"user","content":[
            {"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}])));
        assert_eq!(
            e.param.as_deref(),
            Some("messages[0].content[0].image_url.url")
        );
        let e = translate_err(
            json!({"model":"m","messages":[{"role":"user","content":"x"}],
            "tools":[{"type":"custom","custom":{"name":"g"}}]}),
        );
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = translate_err(with_messages(json!([{"role":"assistant","content":null,
            "tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}])));
        assert_eq!(e.param.as_deref(), Some("messages[0].tool_calls[0].id"));
        let e = translate_err(with_messages(
            json!([{"role":"system","content":"only system"}]),
        ));
        assert_eq!(e.param.as_deref(), Some("messages"));
    }

    #[test]
    fn images_data_and_https() {
        let out = translate(with_messages(json!([{"role":"user","content":[
            {"type":"text","text":"Compare"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
            {"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}},
            {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}]}])));
        assert_eq!(
            out["messages"][0]["content"],
            json!([
                {"type":"text","text":"Compare"},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
                {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}},
                {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}])
        );
    }

    #[test]
    fn reasoning_becomes_thinking_with_presence_kept() {
        let assistant = |m: Value| {
            let mut m = m;
            m["role"] = json!("assistant");
            let out = translate(with_messages(
                json!([{"role":"user","content":"q"}, m, {"role":"user","content":"more"}]),
            ));
            out["messages"][1]["content"].clone()
        };
        // Thinking first, then text, then tool use; the signature exactly as given.
        assert_eq!(
            assistant(
                json!({"content":"A.","reasoning_text":"Think.","reasoning_opaque":"EqQBsig+/=",
                             "tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]})
            ),
            json!([{"type":"thinking","thinking":"Think.","signature":"EqQBsig+/="},
                   {"type":"text","text":"A."},
                   {"type":"tool_use","id":"t","name":"f","input":{}}])
        );
        // Opaque only (or the placeholder text): redacted thinking.
        let redacted =
            json!([{"type":"redacted_thinking","data":"ErcBdata"},{"type":"text","text":"A."}]);
        assert_eq!(
            assistant(json!({"content":"A.","reasoning_opaque":"ErcBdata"})),
            redacted
        );
        assert_eq!(
            assistant(
                json!({"content":"A.","reasoning_text":THINKING_PLACEHOLDER,"reasoning_opaque":"ErcBdata"})
            ),
            redacted
        );
        // Foreign (OpenAI) payload: dropped; unsigned text: dropped, never signed.
        assert_eq!(
            assistant(
                json!({"content":"A.","reasoning_text":"gpt","reasoning_opaque":"gAAAAABfernet"})
            ),
            json!("A.")
        );
        assert_eq!(
            assistant(json!({"content":"A.","reasoning_text":"unsigned"})),
            json!("A.")
        );
        // Refusal parts are text; an empty assistant message vanishes and its neighbours merge.
        assert_eq!(
            assistant(
                json!({"content":[{"type":"text","text":"x"},{"type":"refusal","refusal":"no"}]})
            ),
            json!([{"type":"text","text":"x"},{"type":"text","text":"no"}])
        );
        let out = translate(with_messages(
            json!([{"role":"user","content":"a"},{"role":"assistant","content":""},
                                                  {"role":"user","content":"b"}]),
        ));
        assert_eq!(
            out["messages"],
            json!([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}])
        );
    }

    #[test]
    fn reasoning_effort_to_thinking_budget() {
        let thinking = |effort: &str, max: u64, extra: Value| {
            let mut body = json!({"model":"m","max_tokens":max,"reasoning_effort":effort,"temperature":0.2,"top_p":0.9,
                                  "messages":[{"role":"user","content":"x"}]});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            translate(body)
        };
        let out = thinking("low", 32000, json!({}));
        assert_eq!(
            out["thinking"],
            json!({"type":"enabled","budget_tokens":2048})
        );
        // Thinking only accepts the default temperature and top_p >= 0.95.
        assert!(out.get("temperature").is_none() && out.get("top_p").is_none());
        assert_eq!(
            thinking("medium", 32000, json!({}))["thinking"]["budget_tokens"],
            8192
        );
        assert_eq!(
            thinking("high", 32000, json!({"top_p":0.97}))["thinking"]["budget_tokens"],
            24576
        );
        assert_eq!(
            thinking("high", 32000, json!({"top_p":0.97}))["top_p"],
            0.97
        );
        // Capped below max_tokens; too small a cap means no thinking.
        assert_eq!(
            thinking("high", 10000, json!({}))["thinking"]["budget_tokens"],
            9999
        );
        let out = thinking("high", 1000, json!({}));
        assert!(out.get("thinking").is_none());
        assert_eq!(out["temperature"], 0.2);
        assert!(thinking("none", 32000, json!({})).get("thinking").is_none());
        // A forced tool wins over thinking.
        let out = thinking(
            "high",
            32000,
            json!({"tools":[{"type":"function","function":{"name":"f"}}],
                                                "tool_choice":"required"}),
        );
        assert!(out.get("thinking").is_none());
    }

    // ---- stream ----

    fn ev(v: Value) -> SseEvent {
        SseEvent {
            event: v["type"].as_str().map(str::to_string),
            data: v.to_string(),
        }
    }

    fn message_start(input: u64, cache_read: u64, cache_creation: u64) -> SseEvent {
        ev(
            json!({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant",
            "model":"claude-sonnet-4.5","content":[],"stop_reason":null,"stop_sequence":null,
            "usage":{"input_tokens":input,"cache_creation_input_tokens":cache_creation,
                     "cache_read_input_tokens":cache_read,"output_tokens":1}}}),
        )
    }

    fn block_start(index: u64, block: Value) -> SseEvent {
        ev(json!({"type":"content_block_start","index":index,"content_block":block}))
    }

    fn block_delta(index: u64, delta: Value) -> SseEvent {
        ev(json!({"type":"content_block_delta","index":index,"delta":delta}))
    }

    fn block_stop(index: u64) -> SseEvent {
        ev(json!({"type":"content_block_stop","index":index}))
    }

    fn message_delta(stop: &str, output: u64) -> SseEvent {
        ev(
            json!({"type":"message_delta","delta":{"stop_reason":stop,"stop_sequence":null},"usage":{"output_tokens":output}}),
        )
    }

    fn message_stop() -> SseEvent {
        ev(json!({"type":"message_stop"}))
    }

    fn text_events(stop: &str) -> Vec<SseEvent> {
        vec![
            message_start(10, 100, 20),
            ev(json!({"type":"ping"})),
            block_start(0, json!({"type":"text","text":""})),
            block_delta(0, json!({"type":"text_delta","text":"Hel"})),
            block_delta(0, json!({"type":"text_delta","text":"lo"})),
            block_stop(0),
            message_delta(stop, 5),
            message_stop(),
        ]
    }

    fn run_ctx(events: &[SseEvent], ctx: &TranslateCtx) -> (Vec<OutEvent>, Usage) {
        let mut t = ChatToMessagesStream::new(ctx);
        let mut out = Vec::new();
        for e in events {
            t.on_event(e, &mut out);
        }
        t.on_end(&mut out);
        (out, t.usage())
    }

    fn run(events: &[SseEvent]) -> Vec<OutEvent> {
        run_ctx(events, &ctx_with(None, true)).0
    }

    /// Chunks rendered as their delta / finish / usage, checking the envelope on the way.
    fn render(out: &[OutEvent]) -> Vec<String> {
        out.iter()
            .map(|e| match &e.clone().into_value() {
                OutEvent::Raw { .. } => unreachable!("normalized"),
                OutEvent::Done => "[DONE]".to_string(),
                OutEvent::Event { name, data } => {
                    assert_eq!(*name, None, "Chat chunks have no event name");
                    if data.get("error").is_some() {
                        return format!("error {}", data["error"]["message"].as_str().unwrap());
                    }
                    assert_eq!(data["id"], format!("chatcmpl-{SEED}"));
                    assert_eq!(data["object"], "chat.completion.chunk");
                    assert_eq!(data["created"], 1_700_000_000);
                    assert_eq!(data["model"], "claude-sonnet-4.5");
                    let choices = data["choices"].as_array().unwrap();
                    if choices.is_empty() {
                        return format!("usage {}", canonical(&data["usage"]));
                    }
                    assert_eq!(choices.len(), 1);
                    let c = &choices[0];
                    assert_eq!(c["index"], 0);
                    assert_eq!(c["logprobs"], Value::Null);
                    match c["finish_reason"].as_str() {
                        Some(f) => format!("finish {f} {}", canonical(&c["delta"])),
                        None => canonical(&c["delta"]).to_string(),
                    }
                }
            })
            .collect()
    }

    #[test]
    fn text_stream_with_usage() {
        let (out, usage) = run_ctx(&text_events("end_turn"), &ctx_with(None, true));
        assert_eq!(
            render(&out),
            [
                r#"{"content":"","role":"assistant"}"#,
                r#"{"content":"Hel"}"#,
                r#"{"content":"lo"}"#,
                "finish stop {}",
                r#"usage {"completion_tokens":5,"prompt_tokens":130,"prompt_tokens_details":{"cached_tokens":100},"total_tokens":135}"#,
                "[DONE]",
            ]
        );
        assert_eq!(
            usage,
            Usage {
                input_tokens: 130,
                output_tokens: 5,
                cache_read_tokens: 100,
                cache_creation_tokens: 20,
                ..Default::default()
            }
        );
        // Without stream_options.include_usage: no usage chunk.
        let (out, _) = run_ctx(&text_events("end_turn"), &ctx_with(None, false));
        assert_eq!(render(&out)[3..], ["finish stop {}", "[DONE]"]);
    }

    #[test]
    fn thinking_text_and_parallel_tools_from_raw_sse() {
        let events = [
            message_start(50, 0, 0),
            block_start(0, json!({"type":"thinking","thinking":"","signature":""})),
            block_delta(0, json!({"type":"thinking_delta","thinking":"Two cities."})),
            block_delta(
                0,
                json!({"type":"signature_delta","signature":"EqQBCkYIsig=="}),
            ),
            block_stop(0),
            block_start(1, json!({"type":"text","text":""})),
            block_delta(1, json!({"type":"text_delta","text":"Checking both."})),
            block_stop(1),
            block_start(
                2,
                json!({"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}),
            ),
            block_delta(2, json!({"type":"input_json_delta","partial_json":""})),
            block_delta(
                2,
                json!({"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}),
            ),
            block_delta(
                2,
                json!({"type":"input_json_delta","partial_json":"ris\"}"}),
            ),
            block_stop(2),
            block_start(
                3,
                json!({"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{}}),
            ),
            block_delta(
                3,
                json!({"type":"input_json_delta","partial_json":"{\"city\": \"Rome\"}"}),
            ),
            block_stop(3),
            message_delta("tool_use", 80),
            message_stop(),
        ];
        // Through the SSE parser, cut every 5 bytes, with Copilot's stray [DONE] at the end.
        let mut raw = String::new();
        for e in &events {
            raw.push_str(&format!(
                "event: {}\ndata: {}\n\n",
                e.event.as_deref().unwrap(),
                e.data
            ));
        }
        raw.push_str("data: [DONE]\n\n");
        let mut parser = SseParser::new();
        let mut parsed = Vec::new();
        for piece in raw.as_bytes().chunks(5) {
            parser.feed(piece, &mut parsed);
        }
        parser.finish(&mut parsed);
        assert_eq!(parsed.len(), events.len() + 1);

        assert_eq!(
            render(&run(&parsed)),
            [
                r#"{"content":"","role":"assistant"}"#,
                r#"{"reasoning_text":"Two cities."}"#,
                r#"{"reasoning_opaque":"EqQBCkYIsig=="}"#,
                r#"{"content":"Checking both."}"#,
                r#"{"tool_calls":[{"function":{"arguments":"","name":"get_weather"},"id":"toolu_01A","index":0,"type":"function"}]}"#,
                r#"{"tool_calls":[{"function":{"arguments":"{\"city\": \"Pa"},"index":0}]}"#,
                r#"{"tool_calls":[{"function":{"arguments":"ris\"}"},"index":0}]}"#,
                r#"{"tool_calls":[{"function":{"arguments":"","name":"get_weather"},"id":"toolu_01B","index":1,"type":"function"}]}"#,
                r#"{"tool_calls":[{"function":{"arguments":"{\"city\": \"Rome\"}"},"index":1}]}"#,
                "finish tool_calls {}",
                r#"usage {"completion_tokens":80,"prompt_tokens":50,"prompt_tokens_details":{"cached_tokens":0},"total_tokens":130}"#,
                "[DONE]",
            ]
        );
    }

    #[test]
    fn only_the_first_reasoning_block_and_redacted_data() {
        let out = render(&run(&[
            message_start(1, 0, 0),
            block_start(0, json!({"type":"redacted_thinking","data":"ErcBredacted"})),
            block_stop(0),
            block_start(1, json!({"type":"thinking","thinking":"","signature":""})),
            block_delta(1, json!({"type":"thinking_delta","thinking":"second"})),
            block_delta(
                1,
                json!({"type":"signature_delta","signature":"EqQBsecond"}),
            ),
            block_stop(1),
            block_start(2, json!({"type":"text","text":""})),
            block_delta(2, json!({"type":"text_delta","text":"ok"})),
            block_stop(2),
            message_delta("end_turn", 2),
            message_stop(),
        ]));
        assert_eq!(
            out[..3],
            [
                r#"{"content":"","role":"assistant"}"#,
                r#"{"reasoning_opaque":"ErcBredacted"}"#,
                r#"{"content":"ok"}"#
            ]
        );
        assert!(!out.iter().any(|c| c.contains("second")));
        // A thinking block without a signature delta never yields reasoning_opaque.
        let out = render(&run(&[
            message_start(1, 0, 0),
            block_start(0, json!({"type":"thinking","thinking":"","signature":""})),
            block_delta(0, json!({"type":"thinking_delta","thinking":"t"})),
            block_stop(0),
            message_delta("end_turn", 2),
            message_stop(),
        ]));
        assert!(
            !out.iter().any(|c| c.contains("reasoning_opaque")),
            "{out:?}"
        );
    }

    #[test]
    fn stop_reason_mapping() {
        let finish = |stop: &str| {
            render(&run(&text_events(stop)))
                .into_iter()
                .find(|c| c.starts_with("finish"))
                .unwrap()
        };
        assert_eq!(finish("end_turn"), "finish stop {}");
        assert_eq!(finish("stop_sequence"), "finish stop {}");
        assert_eq!(finish("pause_turn"), "finish stop {}");
        assert_eq!(finish("max_tokens"), "finish length {}");
        assert_eq!(finish("tool_use"), "finish tool_calls {}");
        assert_eq!(finish("refusal"), "finish content_filter {}");
    }

    #[test]
    fn huge_usage_saturates() {
        // u64 sums of upstream token counts overflowed (a panic in debug, a wrap in wasm).
        let m = u64::MAX;
        let (out, usage) = run_ctx(
            &[
                message_start(m, m, m),
                message_delta("end_turn", m),
                message_stop(),
            ],
            &ctx_with(None, true),
        );
        assert_eq!(usage.input_tokens, m);
        let OutEvent::Event { data, .. } = &out[out.len() - 2] else {
            panic!("usage chunk")
        };
        assert_eq!(data["usage"]["total_tokens"], m);
    }

    #[test]
    fn upstream_error_event_becomes_error_chunk_without_done() {
        let out = run(&[
            message_start(1, 0, 0),
            block_start(0, json!({"type":"text","text":""})),
            block_delta(0, json!({"type":"text_delta","text":"par"})),
            ev(json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})),
            block_delta(0, json!({"type":"text_delta","text":"after"})),
            message_stop(),
        ]);
        assert_eq!(
            render(&out),
            [
                r#"{"content":"","role":"assistant"}"#,
                r#"{"content":"par"}"#,
                "error Overloaded"
            ]
        );
        assert!(!out.contains(&OutEvent::Done));
        let OutEvent::Event { data, .. } = out.last().unwrap() else {
            panic!()
        };
        assert_eq!(data["error"]["type"], "server_error");
    }

    #[test]
    fn truncated_stream_is_an_error_not_a_finish() {
        let mut events = text_events("end_turn");
        events.pop(); // message_stop never came
        let out = run(&events);
        let rendered = render(&out);
        assert_eq!(
            rendered,
            [
                r#"{"content":"","role":"assistant"}"#,
                r#"{"content":"Hel"}"#,
                r#"{"content":"lo"}"#,
                "error Upstream Messages stream ended without a message_stop event.",
            ]
        );
        // Network failure mid-stream: one error chunk, then silence.
        let mut t = ChatToMessagesStream::new(&ctx_with(None, true));
        let mut out = Vec::new();
        t.on_event(&message_start(1, 0, 0), &mut out);
        t.on_error("reset", &mut out);
        t.on_error("reset again", &mut out);
        t.on_end(&mut out);
        t.on_event(&message_stop(), &mut out);
        assert_eq!(
            render(&out),
            [r#"{"content":"","role":"assistant"}"#, "error reset"]
        );
    }

    #[test]
    fn exactly_one_done_and_nothing_after() {
        let mut events = text_events("end_turn");
        events.push(message_stop());
        events.push(SseEvent {
            event: None,
            data: "[DONE]".into(),
        });
        let out = run(&events);
        assert_eq!(out.iter().filter(|e| **e == OutEvent::Done).count(), 1);
        assert_eq!(out.last(), Some(&OutEvent::Done));
    }
}
