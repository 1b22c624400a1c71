// POST /copilot/responses: OpenAI Responses as Copilot serves it. Quirks: item ids are
// opaque base64 blobs bound to "the connection" (foreign ones are rejected), and the
// output_item.done event carries another item.id than output_item.added.
import { openaiError, randomHex, randomAlnum, randomBase64Id, nowSeconds, isObject, isStdBase64 } from './util.mjs';
import { copilotUsage } from './billing.mjs';
import {
  parseBody,
  requireModel,
  requireVision,
  isOpenAIReasoning,
  mintEncryptedContent,
  isValidEncryptedContent,
} from './capi.mjs';
import { planReply, promptUsage, tokenize, toDeltas, REASONING_SUMMARY } from './reply.mjs';
import { eventFrame } from './sse.mjs';

const NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const ITEM_TYPES = [
  'message',
  'function_call',
  'function_call_output',
  'reasoning',
  'item_reference',
  'web_search_call',
  'custom_tool_call',
  'custom_tool_call_output',
  'compaction',
  'additional_tools',
];
const MESSAGE_ROLES = ['user', 'assistant', 'system', 'developer'];
const INPUT_PARTS = ['input_text', 'input_image', 'input_file'];
const OUTPUT_PARTS = ['output_text', 'refusal'];
// Hosted tools Copilot accepts; `namespace` is what Codex sends for grouped tools.
const ACCEPTED_TOOL_TYPES = ['function', 'web_search', 'web_search_preview', 'namespace'];

const bad = (message, param, code = 'invalid_value') => openaiError(400, message, { code, param });
const quoteList = (xs) => xs.map((x) => `'${x}'`).join(', ').replace(/, ([^,]*)$/, ', and $1');

function partsText(content, types = ['input_text', 'output_text']) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((p) => types.includes(p?.type) && typeof p.text === 'string')
    .map((p) => p.text)
    .join('\n\n');
}

const itemType = (item) => item.type ?? (item.role ? 'message' : undefined);

function validateParams(body, model) {
  if ('service_tier' in body) throw bad("Unsupported parameter: 'service_tier' is not supported by this endpoint.", 'service_tier', 'unsupported_parameter');
  // Chat Completions spellings leaking into a Responses request.
  for (const k of ['messages', 'max_tokens', 'max_completion_tokens', 'response_format', 'reasoning_effort', 'functions']) {
    if (k in body) throw bad(`Unknown parameter: '${k}'.`, k, 'unknown_parameter');
  }
  if (body.previous_response_id != null) {
    throw bad(`Previous response with id '${body.previous_response_id}' not found.`, 'previous_response_id', 'previous_response_not_found');
  }
  if (body.max_output_tokens != null && (!Number.isInteger(body.max_output_tokens) || body.max_output_tokens < 16)) {
    throw bad(
      `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${body.max_output_tokens} instead.`,
      'max_output_tokens',
      'integer_below_min_value',
    );
  }
  if (body.include != null && !(Array.isArray(body.include) && body.include.every((x) => typeof x === 'string'))) {
    throw bad("Invalid type for 'include': expected an array of strings.", 'include', 'invalid_type');
  }
  if (isOpenAIReasoning(model) && body.temperature != null && body.temperature !== 1) {
    throw bad(
      `Unsupported parameter: 'temperature' is not supported with this model.`,
      'temperature',
      'unsupported_parameter',
    );
  }
  const format = body.text?.format;
  if (format != null) {
    const types = ['text', 'json_object', 'json_schema'];
    if (!types.includes(format.type)) throw bad(`Invalid value: '${format.type}'. Supported values are: ${quoteList(types)}.`, 'text.format.type');
    if (format.type === 'json_schema' && (typeof format.name !== 'string' || !isObject(format.schema))) {
      throw bad("Missing required parameter: 'text.format.name'.", 'text.format.name', 'missing_required_parameter');
    }
  }
  if (body.reasoning != null) {
    if (!isObject(body.reasoning)) throw bad("Invalid type for 'reasoning': expected an object.", 'reasoning', 'invalid_type');
    const efforts = model.capabilities?.supports?.reasoning_effort;
    const { effort, summary } = body.reasoning;
    if (effort != null) {
      if (!efforts) throw bad("Unsupported parameter: 'reasoning.effort' is not supported with this model.", 'reasoning.effort', 'unsupported_parameter');
      if (!efforts.includes(effort)) throw bad(`Invalid value: '${effort}'. Supported values are: ${quoteList(efforts)}.`, 'reasoning.effort');
    }
    if (summary != null && !['auto', 'concise', 'detailed'].includes(summary)) {
      throw bad(`Invalid value: '${summary}'. Supported values are: 'auto', 'concise', and 'detailed'.`, 'reasoning.summary');
    }
  }
}

const invalidName = (p) =>
  bad(`Invalid '${p}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`, `${p}.name`);

// A namespace groups tools (Codex: MCP servers, sub-agents); Copilot refuses one with an
// empty description. Its functions are offered like top-level ones, and a call of one
// names its namespace.
function namespaceTools(t, p) {
  if (t.description === '') {
    throw bad(
      `Invalid '${p}.description': empty string. Expected a string with minimum length 1, but got an empty string instead.`,
      `${p}.description`,
      'empty_string',
    );
  }
  if (!Array.isArray(t.tools)) throw bad(`Missing required parameter: '${p}.tools'.`, `${p}.tools`, 'missing_required_parameter');
  const out = [];
  t.tools.forEach((inner, j) => {
    if (!['function', 'custom'].includes(inner?.type)) return;
    if (typeof inner.name !== 'string' || !NAME_RE.test(inner.name)) throw invalidName(`${p}.tools[${j}]`);
    if (inner.type === 'function') out.push({ name: inner.name, schema: inner.parameters, namespace: t.name });
  });
  return out;
}

function validateTools(body) {
  const out = [];
  // Responses Lite (Codex with the models it knows) sends tools as `additional_tools` items.
  if (Array.isArray(body.input)) {
    body.input.forEach((item, i) => {
      if (item?.type !== 'additional_tools' || !Array.isArray(item.tools)) return;
      item.tools.forEach((t, j) => {
        if (t?.type === 'namespace') out.push(...namespaceTools(t, `input[${i}].tools[${j}]`));
      });
    });
  }
  if (body.tools == null) return out;
  if (!Array.isArray(body.tools)) throw bad("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  body.tools.forEach((t, i) => {
    const type = t?.type;
    // Copilot has no image generation and needs Codex's freeform `custom` tools as function tools.
    if (!ACCEPTED_TOOL_TYPES.includes(type)) {
      throw bad(`Unsupported tool type: '${type}'. Copilot supports only function and web_search tools.`, `tools[${i}].type`, 'unsupported_value');
    }
    if (type === 'namespace') {
      out.push(...namespaceTools(t, `tools[${i}]`));
      return;
    }
    if (type !== 'function') return;
    if (typeof t.name !== 'string' || !NAME_RE.test(t.name)) throw invalidName(`tools[${i}]`);
    out.push({ name: t.name, schema: t.parameters });
  });
  return out;
}

/** Validates the input items; returns the number of images found. */
function validateInput(ctx, body) {
  const { input } = body;
  if (typeof input === 'string') return 0;
  if (!Array.isArray(input)) throw bad("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  const { config, acceptedItemIds } = ctx.state;
  const calls = new Set();
  let images = 0;
  input.forEach((item, i) => {
    const p = `input[${i}]`;
    if (!isObject(item)) throw bad(`Invalid type for '${p}': expected an object.`, p, 'invalid_type');
    const type = itemType(item);
    if (!ITEM_TYPES.includes(type)) throw bad(`Invalid value: '${type}'. Supported values are: ${quoteList(ITEM_TYPES)}.`, `${p}.type`);
    // Codex keeps this on its items when it takes the provider for OpenAI.
    if ('internal_chat_message_metadata_passthrough' in item) {
      throw bad(`Unknown parameter: '${p}.internal_chat_message_metadata_passthrough'.`, `${p}.internal_chat_message_metadata_passthrough`, 'unknown_parameter');
    }
    // Quirk: long base64 item ids only live on the connection that minted them.
    if (config.reject_foreign_item_ids && isStdBase64(item.id) && item.id.length >= 40 && !acceptedItemIds.has(item.id)) {
      throw openaiError(400, 'input item ID does not belong to this connection', { code: 'invalid_request_error', param: 'input' });
    }
    switch (type) {
      case 'message': {
        if (!MESSAGE_ROLES.includes(item.role)) {
          throw bad(`Invalid value: '${item.role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.`, `${p}.role`);
        }
        if (typeof item.content === 'string') break;
        if (!Array.isArray(item.content)) throw bad(`Missing required parameter: '${p}.content'.`, `${p}.content`, 'missing_required_parameter');
        const allowed = item.role === 'assistant' ? OUTPUT_PARTS : INPUT_PARTS;
        item.content.forEach((part, j) => {
          if (!allowed.includes(part?.type)) {
            throw bad(`Invalid value: '${part?.type}'. Supported values are: ${quoteList(allowed)}.`, `${p}.content[${j}]`);
          }
          if (part.type === 'input_file' && ['file_data', 'file_id', 'file_url'].every((k) => typeof part[k] !== 'string')) {
            throw bad(`Missing required parameter: '${p}.content[${j}].file_data'.`, `${p}.content[${j}].file_data`, 'missing_required_parameter');
          }
          if (part.type === 'input_image') {
            if (typeof part.image_url !== 'string' && typeof part.file_id !== 'string') {
              throw bad(`Missing required parameter: '${p}.content[${j}].image_url'.`, `${p}.content[${j}].image_url`, 'missing_required_parameter');
            }
            images += 1;
          }
        });
        break;
      }
      case 'function_call':
        for (const k of ['call_id', 'name', 'arguments']) {
          if (typeof item[k] !== 'string') throw bad(`Missing required parameter: '${p}.${k}'.`, `${p}.${k}`, 'missing_required_parameter');
        }
        calls.add(item.call_id);
        break;
      case 'function_call_output':
        if (typeof item.call_id !== 'string') throw bad(`Missing required parameter: '${p}.call_id'.`, `${p}.call_id`, 'missing_required_parameter');
        if (!calls.has(item.call_id)) throw bad(`No tool call found for function call output with call_id ${item.call_id}.`, 'input', 'invalid_request_error');
        break;
      case 'compaction':
        // Only Copilot's own compaction payloads can be read back.
        if (config.verify_reasoning_signatures && !isValidEncryptedContent(item.encrypted_content)) {
          throw openaiError(
            400,
            `The encrypted content for item ${item.id ?? p} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
            { code: 'invalid_encrypted_content', param: null },
          );
        }
        break;
      case 'reasoning':
        if (!Array.isArray(item.summary)) throw bad(`Missing required parameter: '${p}.summary'.`, `${p}.summary`, 'missing_required_parameter');
        if (config.verify_reasoning_signatures && item.encrypted_content != null && !isValidEncryptedContent(item.encrypted_content)) {
          throw openaiError(
            400,
            `The encrypted content for item ${item.id ?? p} could not be verified. Reason: Encrypted content could not be decrypted or parsed.`,
            { code: 'invalid_encrypted_content', param: null },
          );
        }
        break;
      default:
        break;
    }
  });
  return images;
}

function toolChoiceOf(tc) {
  if (tc === 'none' || tc === 'required' || tc === 'auto') return { mode: tc };
  if (isObject(tc) && tc.type === 'function') return { mode: 'named', name: tc.name, namespace: tc.namespace };
  return { mode: 'auto' };
}

function normalize(body, tools) {
  const base = { tools, toolChoice: toolChoiceOf(body.tool_choice), maxTokens: body.max_output_tokens ?? undefined };
  if (typeof body.input === 'string') return { ...base, userText: body.input, images: 0, toolOutput: null };
  const items = body.input;
  const last = items[items.length - 1];
  const lastUser = [...items].reverse().find((it) => itemType(it) === 'message' && it.role === 'user');
  const images = Array.isArray(lastUser?.content) ? lastUser.content.filter((x) => x.type === 'input_image').length : 0;
  const isOutput = last && itemType(last) === 'function_call_output';
  const firstUser = items.find((it) => itemType(it) === 'message' && it.role === 'user');
  return {
    ...base,
    firstUserText: partsText(firstUser?.content),
    searchCalls: items.filter((it) => itemType(it) === 'function_call' && it.name === 'web_search').length,
    userText: partsText(lastUser?.content),
    images: isOutput ? 0 : images,
    toolOutput: isOutput ? (typeof last.output === 'string' ? last.output : partsText(last.output, ['input_text', 'output_text'])) : null,
  };
}

export function responses(ctx) {
  const body = parseBody(ctx, 'openai');
  const model = requireModel(ctx, body, '/responses');
  validateParams(body, model);
  const tools = validateTools(body);
  requireVision(ctx, model, validateInput(ctx, body));

  const { state } = ctx;
  const plan = planReply(normalize(body, tools));
  const respId = `resp_${randomHex(48)}`;
  const createdAt = nowSeconds();
  const wantsReasoning = isOpenAIReasoning(model) && body.reasoning != null && body.reasoning.effort !== 'none';
  const withSummary = wantsReasoning && body.reasoning.summary != null;
  const withEncrypted = wantsReasoning && (body.include ?? []).includes('reasoning.encrypted_content');
  const reasoningTokens = wantsReasoning ? tokenize(REASONING_SUMMARY).length : 0;

  // Each item gets the id announced by output_item.added and (quirk) another one on .done.
  const ids = () => {
    const added = randomBase64Id();
    const done = state.config.responses_id_mismatch ? randomBase64Id() : added;
    state.acceptedItemIds.add(added).add(done);
    return { added, done };
  };
  const items = [];
  if (wantsReasoning) {
    const item = { type: 'reasoning', summary: withSummary ? [{ type: 'summary_text', text: REASONING_SUMMARY }] : [] };
    if (withEncrypted) item.encrypted_content = mintEncryptedContent(respId);
    items.push({ ids: ids(), item });
  }
  const incomplete = plan.stopReason === 'max_tokens';
  items.push({
    ids: ids(),
    item: {
      type: 'message',
      status: incomplete ? 'incomplete' : 'completed',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: plan.text }],
      role: 'assistant',
    },
  });
  if (plan.toolCall) {
    const { namespace } = tools.find((t) => t.name === plan.toolCall.name) ?? {};
    items.push({
      ids: ids(),
      item: {
        type: 'function_call',
        status: 'completed',
        arguments: plan.toolCall.json,
        call_id: `call_${randomAlnum(24)}`,
        name: plan.toolCall.name,
        ...(namespace ? { namespace } : {}),
      },
    });
  }
  const output = items.map(({ ids: { done }, item }) => ({ id: done, ...item }));

  const firstInstr = body.instructions ?? (Array.isArray(body.input) ? body.input[0] : body.input);
  const usageIn = promptUsage(state, { endpoint: 'responses', model: model.id, prefix: firstInstr, body });
  const outputTokens = plan.outputTokens + reasoningTokens;
  const usage = {
    input_tokens: usageIn.prompt,
    input_tokens_details: { cached_tokens: usageIn.cached },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: usageIn.prompt + outputTokens,
  };

  const response = (status, out, u) => ({
    id: respId,
    object: 'response',
    created_at: createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: model.id,
    output: out,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: wantsReasoning ? body.reasoning.effort ?? 'medium' : null, summary: withSummary ? body.reasoning.summary : null },
    store: body.store ?? false,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: u,
    user: null,
    metadata: body.metadata ?? {},
  });
  const finalStatus = incomplete ? 'incomplete' : 'completed';
  const final = response(finalStatus, output, usage);
  const copilot_usage = copilotUsage(model.id, {
    input: usageIn.prompt - usageIn.cached,
    cacheRead: usageIn.cached,
    output: outputTokens,
  });

  ctx.entry.reply = {
    id: respId,
    text: plan.text,
    tool_call: plan.toolCall
      ? { call_id: output.at(-1).call_id, name: plan.toolCall.name, namespace: output.at(-1).namespace ?? null, arguments: plan.toolCall.json }
      : null,
    status: finalStatus,
    item_ids: items.map((x) => x.ids),
    encrypted_content: items[0].item.encrypted_content ?? null,
    usage,
    copilot_usage,
  };

  if (body.stream !== true) return { status: 200, json: { ...final, copilot_usage } };

  return {
    status: 200,
    sse: async (sse) => {
      let seq = 0;
      const emit = (type, payload) => sse.write(eventFrame(type, { type, sequence_number: seq++, ...payload }));
      await emit('response.created', { response: response('in_progress', [], null) });
      await emit('response.in_progress', { response: response('in_progress', [], null) });
      for (const [output_index, { ids: { added, done }, item }] of items.entries()) {
        const item_id = added;
        if (item.type === 'reasoning') {
          await emit('response.output_item.added', { output_index, item: { id: added, type: 'reasoning', summary: [] } });
          if (withSummary) {
            const at = { item_id, output_index, summary_index: 0 };
            await emit('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } });
            for (const delta of toDeltas(tokenize(REASONING_SUMMARY))) await emit('response.reasoning_summary_text.delta', { ...at, delta });
            await emit('response.reasoning_summary_text.done', { ...at, text: REASONING_SUMMARY });
            await emit('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text: REASONING_SUMMARY } });
          }
        } else if (item.type === 'message') {
          await emit('response.output_item.added', {
            output_index,
            item: { id: added, type: 'message', status: 'in_progress', content: [], role: 'assistant' },
          });
          const at = { item_id, output_index, content_index: 0 };
          await emit('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
          for (const delta of plan.deltas) await emit('response.output_text.delta', { ...at, delta, logprobs: [] });
          await emit('response.output_text.done', { ...at, text: plan.text, logprobs: [] });
          await emit('response.content_part.done', { ...at, part: item.content[0] });
        } else {
          await emit('response.output_item.added', {
            output_index,
            item: { id: added, type: 'function_call', status: 'in_progress', arguments: '', call_id: item.call_id, name: item.name, ...(item.namespace ? { namespace: item.namespace } : {}) },
          });
          for (const delta of plan.toolCall.deltas) await emit('response.function_call_arguments.delta', { item_id, output_index, delta });
          await emit('response.function_call_arguments.done', { item_id, output_index, arguments: item.arguments });
        }
        await emit('response.output_item.done', { output_index, item: { id: done, ...item } });
      }
      await emit(`response.${finalStatus}`, { response: final, copilot_usage });
    },
  };
}
