// POST /copilot/chat/completions: OpenAI Chat Completions as Copilot serves it, with its
// quirks: Azure-backed models open the stream with a prompt_filter_results chunk and
// report versioned model names; Claude models put text and tool calls in two separate
// choices and can return reasoning_text / reasoning_opaque (Copilot extension).
import { openaiError, randomAlnum, nowSeconds, isObject } from './util.mjs';
import { copilotUsage } from './billing.mjs';
import { parseBody, requireModel, requireVision, isClaude, isOpenAIReasoning, mintSignature } from './capi.mjs';
import { planReply, promptUsage, tokenize, toDeltas, THINKING_TEXT } from './reply.mjs';
import { dataFrame } from './sse.mjs';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
const USER_PARTS = ['text', 'image_url', 'input_audio', 'file'];
const NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;

const bad = (message, param, code = 'invalid_value') => openaiError(400, message, { code, param });
const quoteList = (xs) => xs.map((x) => `'${x}'`).join(', ').replace(/, ([^,]*)$/, ', and $1');

function partsText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p) => p?.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n\n');
}

function validateContentParts(content, i, allowed) {
  content.forEach((part, j) => {
    const param = `messages[${i}].content[${j}]`;
    if (!isObject(part)) throw bad(`Invalid type for '${param}': expected an object.`, param, 'invalid_type');
    if (!allowed.includes(part.type)) {
      throw bad(`Invalid value: '${part.type}'. Supported values are: ${quoteList(allowed)}.`, `${param}.type`);
    }
    if ((part.type === 'text' || part.type === 'refusal') && typeof (part.text ?? part.refusal) !== 'string') {
      throw bad(`Missing required parameter: '${param}.${part.type}'.`, `${param}.${part.type}`, 'missing_required_parameter');
    }
    if (part.type === 'image_url' && typeof part.image_url?.url !== 'string') {
      throw bad(`Missing required parameter: '${param}.image_url.url'.`, `${param}.image_url.url`, 'missing_required_parameter');
    }
    // A file part is inline data or an uploaded file's id: Chat has no file URLs.
    if (part.type === 'file' && typeof part.file?.file_data !== 'string' && typeof part.file?.file_id !== 'string') {
      throw bad(`Missing required parameter: '${param}.file.file_data' or '${param}.file.file_id'.`, `${param}.file`, 'missing_required_parameter');
    }
  });
}

function validateMessages(msgs) {
  if (!Array.isArray(msgs)) throw bad("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  if (msgs.length === 0) throw bad("[] is too short - 'messages'", 'messages', 'invalid_value');
  let pending = null; // tool_call ids of the last assistant message still waiting for answers
  const unanswered = (i) =>
    bad(
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. ` +
        `The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`,
      `messages.[${i}].role`,
      'invalid_request_error',
    );
  msgs.forEach((m, i) => {
    if (!isObject(m)) throw bad(`Invalid type for 'messages[${i}]': expected an object.`, `messages[${i}]`, 'invalid_type');
    if (!ROLES.includes(m.role)) {
      throw bad(`Invalid value: '${m.role}'. Supported values are: ${quoteList(ROLES)}.`, `messages[${i}].role`);
    }
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string') {
        throw bad(`Missing required parameter: 'messages[${i}].tool_call_id'.`, `messages[${i}].tool_call_id`, 'missing_required_parameter');
      }
      if (!pending) {
        throw bad(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
          'invalid_request_error',
        );
      }
      if (!pending.has(m.tool_call_id)) {
        throw bad(
          `Invalid parameter: 'tool_call_id' of '${m.tool_call_id}' not found in 'tool_calls' of previous message.`,
          `messages.[${i}].tool_call_id`,
          'invalid_request_error',
        );
      }
      pending.delete(m.tool_call_id);
      if (pending.size === 0) pending = null;
      if (Array.isArray(m.content)) validateContentParts(m.content, i, ['text']);
      return;
    }
    if (pending) throw unanswered(i);
    if (m.role === 'assistant') {
      const calls = m.tool_calls;
      if (calls != null && !Array.isArray(calls)) throw bad(`Invalid type for 'messages[${i}].tool_calls'.`, `messages[${i}].tool_calls`, 'invalid_type');
      if (m.content == null && !(calls?.length || m.function_call)) {
        throw bad("Invalid value for 'content': expected a string, got null.", `messages.[${i}].content`, 'invalid_type');
      }
      if (Array.isArray(m.content)) validateContentParts(m.content, i, ['text', 'refusal']);
      (calls ?? []).forEach((c, j) => {
        const p = `messages[${i}].tool_calls[${j}]`;
        if (typeof c?.id !== 'string') throw bad(`Missing required parameter: '${p}.id'.`, `${p}.id`, 'missing_required_parameter');
        if (typeof c?.function?.name !== 'string') {
          throw bad(`Missing required parameter: '${p}.function.name'.`, `${p}.function.name`, 'missing_required_parameter');
        }
        if (typeof c.function.arguments !== 'string') {
          throw bad(
            `Invalid type for '${p}.function.arguments': expected a string, but got ${typeof c.function.arguments} instead.`,
            `${p}.function.arguments`,
            'invalid_type',
          );
        }
      });
      if (calls?.length) pending = new Set(calls.map((c) => c.id));
      return;
    }
    if (m.content == null) throw bad(`Missing required parameter: 'messages[${i}].content'.`, `messages[${i}].content`, 'missing_required_parameter');
    if (Array.isArray(m.content)) validateContentParts(m.content, i, m.role === 'user' ? USER_PARTS : ['text']);
    else if (typeof m.content !== 'string') throw bad(`Invalid type for 'messages[${i}].content'.`, `messages[${i}].content`, 'invalid_type');
  });
  if (pending) throw unanswered(msgs.length - 1);
}

function validateTools(body) {
  if (body.tools == null) {
    if (body.tool_choice != null) {
      throw bad("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice');
    }
    return [];
  }
  if (!Array.isArray(body.tools)) throw bad("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  return body.tools.map((t, i) => {
    // Copilot only runs function tools (no custom/freeform tools).
    if (t?.type !== 'function') throw bad(`Invalid value: '${t?.type}'. Supported values are: 'function'.`, `tools[${i}].type`);
    const name = t.function?.name;
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw bad(
        `Invalid 'tools[${i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
        `tools[${i}].function.name`,
        'invalid_value',
      );
    }
    return { name, schema: t.function.parameters };
  });
}

function validateResponseFormat(rf) {
  if (rf == null) return;
  const types = ['text', 'json_object', 'json_schema'];
  if (!types.includes(rf?.type)) throw bad(`Invalid value: '${rf?.type}'. Supported values are: ${quoteList(types)}.`, 'response_format.type');
  if (rf.type === 'json_schema' && typeof rf.json_schema?.name !== 'string') {
    throw bad("Missing required parameter: 'response_format.json_schema.name'.", 'response_format.json_schema.name', 'missing_required_parameter');
  }
}

function validateParams(body, model) {
  validateResponseFormat(body.response_format);
  if ('service_tier' in body) throw bad("Unsupported parameter: 'service_tier' is not supported by this endpoint.", 'service_tier', 'unsupported_parameter');
  for (const k of ['input', 'instructions', 'max_output_tokens']) {
    if (k in body) throw bad(`Unrecognized request argument supplied: ${k}`, k, 'unknown_parameter');
  }
  if (body.stream_options != null && body.stream !== true) {
    throw bad("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
  }
  if (isOpenAIReasoning(model)) {
    if (body.max_tokens != null) {
      throw bad(
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        'max_tokens',
        'unsupported_parameter',
      );
    }
    if (body.temperature != null && body.temperature !== 1) {
      throw bad(
        `Unsupported value: 'temperature' does not support ${body.temperature} with this model. Only the default (1) value is supported.`,
        'temperature',
        'unsupported_value',
      );
    }
  }
  if (body.reasoning_effort != null && !isClaude(model)) {
    const efforts = model.capabilities?.supports?.reasoning_effort;
    if (!efforts) {
      throw bad("Unsupported parameter: 'reasoning_effort' is not supported with this model.", 'reasoning_effort', 'unsupported_parameter');
    }
    if (!efforts.includes(body.reasoning_effort)) {
      throw bad(`Invalid value: '${body.reasoning_effort}'. Supported values are: ${quoteList(efforts)}.`, 'reasoning_effort');
    }
  }
}

function toolChoiceOf(tc) {
  if (tc === 'none' || tc === 'required' || tc === 'auto') return { mode: tc };
  if (isObject(tc) && tc.type === 'function') return { mode: 'named', name: tc.function?.name };
  return { mode: 'auto' };
}

/** The conversation as the reply planner sees it. */
function normalize(body, tools) {
  const msgs = body.messages;
  const last = msgs[msgs.length - 1];
  const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
  const images = Array.isArray(lastUser?.content) ? lastUser.content.filter((p) => p.type === 'image_url').length : 0;
  return {
    userText: partsText(lastUser?.content),
    images: last.role === 'tool' ? 0 : images,
    toolOutput: last.role === 'tool' ? partsText(last.content) : null,
    tools,
    firstUserText: partsText(msgs.find((m) => m.role === 'user')?.content),
    searchCalls: msgs.flatMap((m) => m.tool_calls ?? []).filter((c) => c.function?.name === 'web_search').length,
    toolChoice: toolChoiceOf(body.tool_choice),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    stop: typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop : [],
  };
}

const FINISH = { end_turn: 'stop', stop_sequence: 'stop', tool_use: 'tool_calls', max_tokens: 'length' };

const SAFE = { filtered: false, severity: 'safe' };
const FILTER_RESULTS = [
  { content_filter_results: { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE }, prompt_index: 0 },
];

export function chatCompletions(ctx) {
  const body = parseBody(ctx, 'openai');
  const model = requireModel(ctx, body, '/chat/completions');
  validateParams(body, model);
  validateMessages(body.messages);
  const tools = validateTools(body);
  const images = body.messages.reduce(
    (n, m) => n + (Array.isArray(m.content) ? m.content.filter((p) => p?.type === 'image_url').length : 0),
    0,
  );
  requireVision(ctx, model, images);

  const claude = isClaude(model);
  const plan = planReply(normalize(body, tools));
  // Copilot extension: Claude on chat returns its thinking when a thinking budget is given.
  const reasoning = claude && body.thinking_budget > 0 ? { text: THINKING_TEXT, opaque: mintSignature() } : null;
  const reasoningTokens = reasoning ? tokenize(reasoning.text).length : 0;
  const firstSystem = body.messages.find((m) => m.role === 'system' || m.role === 'developer');
  const usageIn = promptUsage(ctx.state, {
    endpoint: 'chat',
    model: model.id,
    prefix: [firstSystem?.content, body.messages.find((m) => m.role === 'user')?.content],
    body,
  });
  const completion = plan.outputTokens + reasoningTokens;
  const usage = {
    prompt_tokens: usageIn.prompt,
    completion_tokens: completion,
    total_tokens: usageIn.prompt + completion,
    prompt_tokens_details: { cached_tokens: usageIn.cached },
  };
  const copilot_usage = copilotUsage(model.id, { input: usageIn.prompt - usageIn.cached, cacheRead: usageIn.cached, output: completion });
  const id = `chatcmpl-${randomAlnum(29)}`;
  const created = nowSeconds();
  // Azure-backed models answer with a dated model version, Claude with the plain id.
  const modelName = model.vendor === 'Anthropic' ? model.id : model.version ?? model.id;
  const call = plan.toolCall && {
    id: claude ? `toolu_vrtx_01${randomAlnum(22)}` : `call_${randomAlnum(24)}`,
    name: plan.toolCall.name,
    json: plan.toolCall.json,
    deltas: plan.toolCall.deltas,
  };
  const toolIndex = claude ? 1 : 0; // quirk: Claude puts tool calls in a second choice
  const finish = FINISH[plan.stopReason];

  ctx.entry.reply = {
    text: plan.text,
    tool_call: call ? { id: call.id, name: call.name, arguments: call.json } : null,
    finish_reason: finish,
    reasoning_opaque: reasoning?.opaque ?? null,
    usage,
    copilot_usage,
  };

  if (body.stream !== true) {
    const textMessage = { role: 'assistant', content: plan.text };
    if (reasoning) Object.assign(textMessage, { reasoning_text: reasoning.text, reasoning_opaque: reasoning.opaque });
    const toolCalls = call ? [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.json } }] : null;
    let choices;
    if (call && claude) {
      choices = [
        { index: 0, message: textMessage, finish_reason: 'stop' },
        { index: 1, message: { role: 'assistant', content: null, tool_calls: toolCalls }, finish_reason: finish },
      ];
    } else {
      if (toolCalls) textMessage.tool_calls = toolCalls;
      choices = [{ index: 0, message: textMessage, finish_reason: finish, logprobs: null }];
    }
    const json = { id, object: 'chat.completion', created, model: modelName, choices, usage, copilot_usage };
    if (!claude) json.prompt_filter_results = FILTER_RESULTS;
    return { status: 200, json };
  }

  const chunk = (choices, extra = {}) => dataFrame({ id, object: 'chat.completion.chunk', created, model: modelName, choices, ...extra });
  const delta = (index, d) => chunk([{ index, delta: d, finish_reason: null }]);
  return {
    status: 200,
    sse: async (sse) => {
      if (!claude && ctx.state.config.chat_prompt_filter_chunk) {
        await sse.write(dataFrame({ choices: [], created: 0, id: '', prompt_filter_results: FILTER_RESULTS }));
      }
      let role = { role: 'assistant' };
      const withRole = (d) => {
        const out = { ...role, ...d };
        role = {};
        return out;
      };
      if (reasoning) {
        for (const piece of toDeltas(tokenize(reasoning.text))) await sse.write(delta(0, withRole({ reasoning_text: piece })));
        await sse.write(delta(0, { reasoning_opaque: reasoning.opaque }));
      }
      for (const piece of plan.deltas) await sse.write(delta(0, withRole({ content: piece })));
      if (call) {
        await sse.write(
          delta(toolIndex, withRole({ tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] })),
        );
        for (const piece of call.deltas) await sse.write(delta(toolIndex, { tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
      if (Object.keys(role).length) await sse.write(delta(0, withRole({ content: '' })));
      await sse.write(chunk([{ index: call ? toolIndex : 0, delta: {}, finish_reason: finish }]));
      if (body.stream_options?.include_usage === true) await sse.write(chunk([], { usage }));
      // The billed credits follow in a chunk of their own.
      await sse.write(chunk([], { copilot_usage }));
      await sse.write('data: [DONE]\n\n');
    },
  };
}
