// POST /copilot/v1/messages: native Anthropic Messages as Copilot serves it. Strict like
// the Anthropic API (extra fields, tool_use/tool_result pairing, thinking rules, betas)
// plus Copilot's own rejections (cache_control.scope, eager_input_streaming, web search,
// placeholder thinking blocks) and its stray `data: [DONE]` at the end of streams.
import { anthropicError, randomAlnum, isObject } from './util.mjs';
import { copilotUsage } from './billing.mjs';
import { parseBody, requireModel, requireVision, mintSignature, isValidSignature } from './capi.mjs';
import { planReply, promptUsage, tokenize, toDeltas, THINKING_TEXT } from './reply.mjs';
import { eventFrame } from './sse.mjs';

const BETAS = ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'advanced-tool-use-2025-11-20'];
const TOP_LEVEL = [
  'model',
  'messages',
  'max_tokens',
  'system',
  'metadata',
  'stop_sequences',
  'stream',
  'temperature',
  'top_k',
  'top_p',
  'tools',
  'tool_choice',
  'thinking',
  'context_management',
  'output_config',
  'output_format',
  'container',
  'mcp_servers',
];
const BLOCK_TYPES = [
  'text',
  'image',
  'document',
  'search_result',
  'thinking',
  'redacted_thinking',
  'tool_use',
  'tool_result',
  'server_tool_use',
  'web_search_tool_result',
];
const CLIENT_TOOL_KEYS = ['type', 'name', 'description', 'input_schema', 'cache_control', 'strict', 'input_examples', 'defer_loading'];
const WEB_SEARCH_TOOLS = ['web_search_20250305', 'web_search_20260209'];
const MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,128}$/;

const bad = (message) => anthropicError(400, message);

/** Validates cache_control objects and counts breakpoints (Anthropic allows four). */
function checkCacheControl(cc, path, counter) {
  if (cc == null) return;
  if (!isObject(cc) || cc.type !== 'ephemeral') throw bad(`${path}.cache_control.type: Input should be 'ephemeral'`);
  for (const k of Object.keys(cc)) {
    // Copilot rejects Claude Code's prompt-caching-scope field.
    if (k !== 'type' && k !== 'ttl') throw bad(`${path}.cache_control.ephemeral.${k}: Extra inputs are not permitted`);
  }
  if (cc.ttl != null && !['5m', '1h'].includes(cc.ttl)) throw bad(`${path}.cache_control.ephemeral.ttl: Input should be '5m' or '1h'`);
  counter.n += 1;
}

function checkBetas(ctx, body) {
  const raw = ctx.headers['anthropic-beta'];
  const betas = raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const unknown = betas.filter((b) => !BETAS.includes(b));
  if (unknown.length) {
    throw bad(
      `Unexpected value(s) ${unknown.map((b) => `\`${b}\``).join(', ')} for the \`anthropic-beta\` header. ` +
        'Please consult our documentation at docs.anthropic.com or try again without the header.',
    );
  }
  if (body.context_management != null && !betas.includes('context-management-2025-06-27')) {
    throw bad('context_management: Extra inputs are not permitted');
  }
}

function checkSystem(system, counter) {
  if (system == null || typeof system === 'string') return;
  if (!Array.isArray(system)) throw bad('system: Input should be a valid string');
  system.forEach((b, i) => {
    if (b?.type !== 'text') throw bad(`system.${i}.type: Input should be 'text'`);
    if (typeof b.text !== 'string') throw bad(`system.${i}.text: Field required`);
    checkCacheControl(b.cache_control, `system.${i}`, counter);
  });
}

function checkBlock(b, i, j, ctx, counter, imgs) {
  const path = `messages.${i}.content.${j}`;
  if (!isObject(b) || !BLOCK_TYPES.includes(b.type)) {
    throw bad(
      `${path}: Input tag '${b?.type}' found using 'type' does not match any of the expected tags: ` +
        BLOCK_TYPES.map((t) => `'${t}'`).join(', '),
    );
  }
  checkCacheControl(b.cache_control, `${path}.${b.type}`, counter);
  switch (b.type) {
    case 'text':
      if (typeof b.text !== 'string') throw bad(`${path}.text.text: Field required`);
      if (b.text.length === 0) throw bad('messages: text content blocks must be non-empty');
      break;
    case 'image': {
      const src = b.source;
      if (src?.type === 'base64') {
        if (!MEDIA_TYPES.includes(src.media_type)) {
          throw bad(`${path}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`);
        }
        if (typeof src.data !== 'string' || !src.data) throw bad(`${path}.image.source.base64.data: Field required`);
      } else if (src?.type === 'url') {
        if (typeof src.url !== 'string') throw bad(`${path}.image.source.url.url: Field required`);
      } else {
        throw bad(`${path}.image.source: Input tag '${src?.type}' found using 'type' does not match any of the expected tags: 'base64', 'url'`);
      }
      imgs.n += 1;
      break;
    }
    case 'document': {
      const src = b.source;
      const tags = ['base64', 'content', 'file', 'text', 'url'];
      if (!tags.includes(src?.type)) {
        throw bad(`${path}.document.source: Input tag '${src?.type}' found using 'type' does not match any of the expected tags: ${tags.map((t) => `'${t}'`).join(', ')}`);
      }
      if (src.type === 'base64' && src.media_type !== 'application/pdf') throw bad(`${path}.document.source.base64.media_type: Input should be 'application/pdf'`);
      if (src.type === 'text' && src.media_type !== 'text/plain') throw bad(`${path}.document.source.text.media_type: Input should be 'text/plain'`);
      const field = { base64: 'data', text: 'data', url: 'url', file: 'file_id' }[src.type];
      if (field && typeof src[field] !== 'string') throw bad(`${path}.document.source.${src.type}.${field}: Field required`);
      break;
    }
    case 'tool_use':
      if (typeof b.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(b.id)) throw bad(`${path}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
      if (typeof b.name !== 'string') throw bad(`${path}.tool_use.name: Field required`);
      if (!isObject(b.input)) throw bad(`${path}.tool_use.input: Input should be a valid dictionary`);
      break;
    case 'tool_result':
      if (typeof b.tool_use_id !== 'string') throw bad(`${path}.tool_result.tool_use_id: Field required`);
      if (Array.isArray(b.content)) {
        b.content.forEach((c, k) => {
          if (!['text', 'image', 'search_result', 'document', 'tool_reference'].includes(c?.type)) {
            throw bad(`${path}.tool_result.content.${k}: Input tag '${c?.type}' found using 'type' does not match any of the expected tags: 'text', 'image', 'search_result', 'document', 'tool_reference'`);
          }
          // Tool search (advanced-tool-use beta): a reference loads a deferred tool.
          if (c.type === 'tool_reference') {
            const betas = String(ctx.headers['anthropic-beta'] ?? '');
            if (!betas.includes('advanced-tool-use-2025-11-20')) throw bad(`${path}.tool_result.content.${k}: tool_reference blocks need the advanced-tool-use beta`);
            const tool = (Array.isArray(ctx.requestTools) ? ctx.requestTools : []).find((t) => t?.name === c.tool_name);
            if (!tool?.defer_loading) throw bad(`${path}.tool_result.content.${k}.tool_reference: Tool reference '${c.tool_name}' not found in available tools`);
          }
          if (c.type === 'image') imgs.n += 1;
        });
      } else if (b.content != null && typeof b.content !== 'string') {
        throw bad(`${path}.tool_result.content: Input should be a valid list`);
      }
      break;
    case 'thinking':
      if (typeof b.thinking !== 'string') throw bad(`${path}.thinking.thinking: Field required`);
      // Copilot rejects the empty / "Thinking..." placeholder blocks other backends produce.
      if (b.thinking.trim() === '' || b.thinking === 'Thinking...') {
        throw bad(`${path}: Invalid thinking block: the thinking text must not be empty or a placeholder`);
      }
      if (b.signature == null) throw bad(`${path}.thinking.signature: Field required`);
      if (ctx.state.config.verify_reasoning_signatures && !isValidSignature(b.signature)) {
        throw bad(`${path}: Invalid \`signature\` in \`thinking\` block`);
      }
      break;
    case 'redacted_thinking':
      if (typeof b.data !== 'string' || !b.data) throw bad(`${path}.redacted_thinking.data: Field required`);
      break;
    default:
      break;
  }
}

/** Roles, content blocks and Anthropic's tool_use → tool_result pairing rule. */
/** Claude deployments from 4.8 on take `system` turns inside `messages` (older ones refuse them). */
function takesSystemTurns(model) {
  const m = /^claude-[a-z]+-(\d+)(?:\.(\d+))?/.exec(model?.id ?? '');
  return !!m && Number(m[1]) * 10 + Number(m[2] ?? 0) >= 48;
}

function checkMessages(ctx, msgs, counter, model) {
  if (msgs == null) throw bad('messages: Field required');
  if (!Array.isArray(msgs)) throw bad('messages: Input should be a valid list');
  if (msgs.length === 0) throw bad('messages: List should have at least 1 item after validation, not 0');
  const imgs = { n: 0 };
  let openToolUses = null;
  msgs.forEach((m, i) => {
    if (!isObject(m)) throw bad(`messages.${i}: Input should be a valid dictionary`);
    const roles = takesSystemTurns(model) ? ['user', 'assistant', 'system'] : ['user', 'assistant'];
    if (!roles.includes(m.role)) throw bad(`messages.${i}.role: Input should be ${roles.map((r) => `'${r}'`).join(' or ')}`);
    const finalAssistant = i === msgs.length - 1 && m.role === 'assistant';
    if (typeof m.content === 'string') {
      if (!m.content && !finalAssistant) {
        throw bad(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
      }
    } else if (Array.isArray(m.content)) {
      if (m.content.length === 0 && !finalAssistant) {
        throw bad(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
      }
      m.content.forEach((b, j) => checkBlock(b, i, j, ctx, counter, imgs));
    } else {
      throw bad(`messages.${i}.content: Input should be a valid string`);
    }
    const blocks = Array.isArray(m.content) ? m.content : [];
    const results = blocks.map((b, j) => [b, j]).filter(([b]) => b.type === 'tool_result');
    for (const [b, j] of results) {
      if (!openToolUses?.has(b.tool_use_id)) {
        throw bad(
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. ` +
            'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
        );
      }
      openToolUses.delete(b.tool_use_id);
    }
    if (openToolUses?.size) {
      throw bad(
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${[...openToolUses].join(', ')}. ` +
          'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
      );
    }
    const uses = blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
    openToolUses = m.role === 'assistant' && uses.length ? new Set(uses) : null;
  });
  return imgs.n;
}

function checkTools(tools, counter) {
  if (tools == null) return [];
  if (!Array.isArray(tools)) throw bad('tools: Input should be a valid list');
  const out = [];
  tools.forEach((t, i) => {
    if (!isObject(t)) throw bad(`tools.${i}: Input should be a valid dictionary`);
    if (WEB_SEARCH_TOOLS.includes(t.type)) throw bad('The use of the web search tool is not supported');
    if (t.type != null && t.type !== 'custom') {
      checkCacheControl(t.cache_control, `tools.${i}.${t.type}`, counter);
      return; // other Anthropic-defined tools (bash, text_editor, …) pass through
    }
    for (const k of Object.keys(t)) {
      if (!CLIENT_TOOL_KEYS.includes(k)) throw bad(`tools.${i}.custom.${k}: Extra inputs are not permitted`);
    }
    if (typeof t.name !== 'string' || !TOOL_NAME_RE.test(t.name)) {
      throw bad(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
    }
    if (!isObject(t.input_schema)) throw bad(`tools.${i}.custom.input_schema: Field required`);
    checkCacheControl(t.cache_control, `tools.${i}.custom`, counter);
    out.push({ name: t.name, schema: t.input_schema });
  });
  return out;
}

/** Structured outputs: `output_config.format` (or the beta `output_format`) is a JSON schema. */
function checkOutputFormat(format, path) {
  if (format == null) return;
  if (!isObject(format) || format.type !== 'json_schema') {
    throw bad(`${path}: Input tag '${format?.type}' found using 'type' does not match any of the expected tags: 'json_schema'`);
  }
  if (!isObject(format.schema)) throw bad(`${path}.json_schema.schema: Field required`);
  for (const k of Object.keys(format)) {
    if (k !== 'type' && k !== 'schema') throw bad(`${path}.json_schema.${k}: Extra inputs are not permitted`);
  }
}

function checkParams(body, model) {
  for (const k of Object.keys(body)) if (!TOP_LEVEL.includes(k)) throw bad(`${k}: Extra inputs are not permitted`);
  if (body.output_config != null) {
    if (!isObject(body.output_config)) throw bad('output_config: Input should be a valid dictionary');
    for (const k of Object.keys(body.output_config)) {
      if (k !== 'effort' && k !== 'format') throw bad(`output_config.${k}: Extra inputs are not permitted`);
    }
    checkOutputFormat(body.output_config.format, 'output_config.format');
  }
  checkOutputFormat(body.output_format, 'output_format');
  if (body.max_tokens == null) throw bad('max_tokens: Field required');
  if (!Number.isInteger(body.max_tokens)) throw bad('max_tokens: Input should be a valid integer');
  if (body.max_tokens < 1) throw bad('max_tokens: Input should be greater than or equal to 1');
  if (body.temperature != null && (body.temperature < 0 || body.temperature > 1)) {
    throw bad(`temperature: Input should be ${body.temperature < 0 ? 'greater than or equal to 0' : 'less than or equal to 1'}`);
  }
  if (body.temperature != null && body.top_p != null && /4\.5/.test(model.id)) {
    throw bad('`temperature` and `top_p` cannot both be specified for this model. Please use only one.');
  }
  const th = body.thinking;
  if (th != null) {
    if (!['enabled', 'disabled', 'adaptive'].includes(th?.type)) {
      throw bad(`thinking: Input tag '${th?.type}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled', 'adaptive'`);
    }
    if (th.type === 'enabled') {
      if (!Number.isInteger(th.budget_tokens)) throw bad('thinking.enabled.budget_tokens: Field required');
      if (th.budget_tokens < 1024) throw bad('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (th.budget_tokens >= body.max_tokens) {
        throw bad(
          '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at ' +
            'https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
        );
      }
    }
  }
  const thinkingOn = th?.type === 'enabled' || th?.type === 'adaptive';
  const tc = body.tool_choice;
  if (tc != null && !['auto', 'any', 'tool', 'none'].includes(tc?.type)) {
    throw bad(`tool_choice: Input tag '${tc?.type}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'`);
  }
  if (tc?.type === 'tool' && typeof tc.name !== 'string') throw bad('tool_choice.tool.name: Field required');
  if (thinkingOn && (tc?.type === 'any' || tc?.type === 'tool')) throw bad('Thinking may not be enabled when tool_choice forces tool use.');
  if (thinkingOn && body.temperature != null && body.temperature !== 1) {
    throw bad(
      '`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at ' +
        'https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility',
    );
  }
  return thinkingOn;
}

function textOf(content) {
  if (typeof content === 'string') return content;
  return (content ?? [])
    .filter((b) => b.type === 'text' || b.type === 'search_result')
    .map((b) => (b.type === 'text' ? b.text : [b.title, b.source, textOf(b.content)].join('\n')))
    .join('\n\n');
}

/** The model cites the first search result it was given with citations enabled. */
function citationFor(body) {
  const last = body.messages.at(-1);
  if (last?.role !== 'user' || !Array.isArray(last.content)) return null;
  for (const r of last.content.filter((b) => b.type === 'tool_result' && Array.isArray(b.content))) {
    const at = r.content.findIndex((c) => c.type === 'search_result' && c.citations?.enabled);
    if (at < 0) continue;
    const found = r.content.filter((c) => c.type === 'search_result').indexOf(r.content[at]);
    const result = r.content[at];
    return {
      type: 'search_result_location',
      source: result.source,
      title: result.title,
      cited_text: textOf(result.content).slice(0, 60),
      search_result_index: found,
      start_block_index: 0,
      end_block_index: 0,
    };
  }
  return null;
}

function normalize(body, tools) {
  const msgs = body.messages;
  const lastUser = [...msgs].reverse().find((m) => m.role === 'user');
  const blocks = Array.isArray(lastUser?.content) ? lastUser.content : [];
  const results = blocks.filter((b) => b.type === 'tool_result');
  const userText = textOf(lastUser?.content);
  const strippedText = userText.replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, '').trim();
  const lastResult = results.at(-1);
  const toolOutput =
    results.length && !strippedText
      ? typeof lastResult.content === 'string'
        ? lastResult.content
        : textOf(lastResult.content ?? [])
      : null;
  const tc = body.tool_choice;
  const toolChoice =
    tc?.type === 'any' ? { mode: 'required' } : tc?.type === 'tool' ? { mode: 'named', name: tc.name } : { mode: tc?.type ?? 'auto' };
  const firstUser = msgs.find((m) => m.role === 'user');
  return {
    userText,
    firstUserText: textOf(firstUser?.content),
    // Deferred tools a tool search loaded in this turn (`tool_reference` in a tool_result).
    loadedTools: results.flatMap((r) => (Array.isArray(r.content) ? r.content : []).filter((c) => c.type === 'tool_reference').map((c) => c.tool_name)),
    searchCalls: msgs
      .filter((m) => m.role === 'assistant' && Array.isArray(m.content))
      .flatMap((m) => m.content)
      .filter((b) => b.type === 'tool_use' && b.name === 'web_search').length,
    images: blocks.filter((b) => b.type === 'image').length,
    toolOutput,
    tools,
    toolChoice,
    maxTokens: body.max_tokens,
    stop: body.stop_sequences ?? [],
  };
}

function hasCacheControl(body) {
  return JSON.stringify([body.system, body.messages, body.tools]).includes('"cache_control"');
}

export function messages(ctx) {
  const body = parseBody(ctx, 'anthropic');
  if ('service_tier' in body) throw bad('service_tier: Extra inputs are not permitted');
  const model = requireModel(ctx, body, '/v1/messages');
  checkBetas(ctx, body);
  const thinkingOn = checkParams(body, model);
  const counter = { n: 0 };
  checkSystem(body.system, counter);
  ctx.requestTools = body.tools;
  const images = checkMessages(ctx, body.messages, counter, model);
  const tools = checkTools(body.tools, counter);
  if (counter.n > 4) throw bad(`A maximum of 4 blocks with cache_control may be provided. Found ${counter.n}.`);
  requireVision(ctx, model, images);

  const plan = planReply(normalize(body, tools));
  const id = `msg_vrtx_01${randomAlnum(22)}`;
  const blocks = [];
  if (thinkingOn) blocks.push({ type: 'thinking', thinking: THINKING_TEXT, signature: mintSignature() });
  const citation = citationFor(body);
  if (plan.text) blocks.push({ type: 'text', text: plan.text, ...(citation ? { citations: [citation] } : {}) });
  if (plan.toolCall) blocks.push({ type: 'tool_use', id: `toolu_vrtx_01${randomAlnum(22)}`, name: plan.toolCall.name, input: plan.toolCall.args });

  // Prompt caching needs cache_control markers: the first time half of the uncached
  // prompt is written to the cache, later requests with the same prefix read from it.
  const cacheable = hasCacheControl(body);
  const firstSystem = typeof body.system === 'string' ? body.system : body.system?.[0]?.text;
  const pu = promptUsage(ctx.state, {
    endpoint: 'messages',
    model: model.id,
    prefix: [firstSystem, body.messages[0]?.content],
    body,
    cache: cacheable,
  });
  const creation = cacheable ? Math.floor((pu.prompt - pu.cached) / 2) : 0;
  const outputTokens = plan.outputTokens + (thinkingOn ? tokenize(THINKING_TEXT).length : 0);
  const usage = {
    input_tokens: pu.prompt - pu.cached - creation,
    cache_creation_input_tokens: creation,
    cache_read_input_tokens: pu.cached,
    output_tokens: outputTokens,
  };
  const copilot_usage = copilotUsage(model.id, {
    input: usage.input_tokens,
    cacheRead: usage.cache_read_input_tokens,
    cacheWrite: usage.cache_creation_input_tokens,
    output: outputTokens,
  });
  const message = {
    id,
    type: 'message',
    role: 'assistant',
    model: model.id,
    content: blocks,
    stop_reason: plan.stopReason,
    stop_sequence: plan.stopSequence,
    usage,
  };
  ctx.entry.reply = {
    id,
    text: plan.text,
    tool_call: plan.toolCall ? { id: blocks.at(-1).id, name: plan.toolCall.name, input: plan.toolCall.args } : null,
    signature: thinkingOn ? blocks[0].signature : null,
    stop_reason: plan.stopReason,
    usage,
    copilot_usage,
  };

  if (body.stream !== true) return { status: 200, json: { ...message, copilot_usage } };

  return {
    status: 200,
    sse: async (sse) => {
      const emit = (type, payload) => sse.write(eventFrame(type, { type, ...payload }));
      await emit('message_start', { message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
      for (const [index, block] of blocks.entries()) {
        if (block.type === 'thinking') {
          await emit('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
        } else if (block.type === 'text') {
          await emit('content_block_start', { index, content_block: { type: 'text', text: '' } });
        } else {
          await emit('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        }
        if (index === 0) await emit('ping', {});
        if (block.type === 'thinking') {
          for (const thinking of toDeltas(tokenize(block.thinking))) await emit('content_block_delta', { index, delta: { type: 'thinking_delta', thinking } });
          await emit('content_block_delta', { index, delta: { type: 'signature_delta', signature: block.signature } });
        } else if (block.type === 'text') {
          if (block.citations) await emit('content_block_delta', { index, delta: { type: 'citations_delta', citation: block.citations[0] } });
          for (const text of plan.deltas) await emit('content_block_delta', { index, delta: { type: 'text_delta', text } });
        } else {
          for (const partial_json of ['', ...plan.toolCall.deltas]) {
            await emit('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
          }
        }
        await emit('content_block_stop', { index });
      }
      await emit('message_delta', { delta: { stop_reason: plan.stopReason, stop_sequence: plan.stopSequence }, usage: { output_tokens: outputTokens }, copilot_usage });
      await emit('message_stop', {});
      if (ctx.state.config.messages_stray_done) await sse.write('data: [DONE]\n\n');
    },
  };
}
