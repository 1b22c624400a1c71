// Copilot API (prefix /copilot): routing table and the small endpoints (/models,
// /embeddings, /v1/messages/count_tokens). The shared gate and model rules are in
// capi.mjs; the three generation endpoints in chat.mjs, responses.mjs and messages.mjs.
import { openaiError, anthropicError, estimateTokens, sha256 } from './util.mjs';
import { copilotGate, requireModel, parseBody } from './capi.mjs';
import { chatCompletions } from './chat.mjs';
import { responses } from './responses.mjs';
import { messages } from './messages.mjs';
import { charge, checkUsageLimits, premiumOf, quotaHeaders } from './billing.mjs';

// ---------------------------------------------------------------- small endpoints

function listModels(ctx) {
  return { status: 200, json: ctx.state.catalog };
}

// Deterministic pseudo-random unit vector seeded by the input (mulberry32 over a sha256 seed).
function embed(input, dims) {
  let seed = parseInt(sha256(JSON.stringify(input)).slice(0, 8), 16) >>> 0;
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = Array.from({ length: dims }, () => next() * 2 - 1);
  const norm = Math.hypot(...v) || 1;
  // fround so the float list and the float32 base64 carry exactly the same values
  return v.map((x) => Math.fround(x / norm));
}

function float32Base64(values) {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

function embeddings(ctx) {
  const body = parseBody(ctx, 'openai');
  const model = requireModel(ctx, body, '/embeddings');
  const invalidInput = () =>
    openaiError(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", {
      param: 'input',
    });
  let inputs;
  const { input } = body;
  if (typeof input === 'string') inputs = [input];
  else if (Array.isArray(input) && input.length && input.every((x) => typeof x === 'number')) inputs = [input];
  else if (Array.isArray(input) && input.length && input.every((x) => typeof x === 'string' || Array.isArray(x))) inputs = input;
  else throw invalidInput();
  if (inputs.some((x) => x.length === 0)) throw invalidInput();
  const maxInputs = model.capabilities?.limits?.max_inputs ?? 512;
  if (inputs.length > maxInputs) {
    throw openaiError(400, `Too many inputs. The max number of inputs is ${maxInputs}.`, { param: 'input' });
  }
  const format = body.encoding_format ?? 'float';
  if (!['float', 'base64'].includes(format)) {
    throw openaiError(400, `Invalid value: '${format}'. Supported values are: 'float' and 'base64'.`, {
      code: 'invalid_value',
      param: 'encoding_format',
    });
  }
  const dims = body.dimensions ?? 1536;
  if (!Number.isInteger(dims) || dims < 1 || dims > 1536) {
    throw openaiError(400, `Invalid value for 'dimensions': ${dims}. Must be between 1 and 1536.`, { param: 'dimensions' });
  }
  const data = inputs.map((inp, index) => {
    const v = embed(inp, dims);
    return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(v) : v };
  });
  const tokens = inputs.reduce((n, x) => n + (typeof x === 'string' ? estimateTokens(x) : x.length), 0);
  ctx.entry.reply = { embeddings: data.length, dimensions: dims, encoding_format: format };
  return { status: 200, json: { object: 'list', data, model: model.id, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
}

function countTokens(ctx) {
  const body = parseBody(ctx, 'anthropic');
  requireModel(ctx, body, '/v1/messages');
  if (!('messages' in body)) throw anthropicError(400, 'messages: Field required');
  const input_tokens = estimateTokens(ctx.rawBody.toString('utf8'));
  ctx.entry.reply = { input_tokens };
  return { status: 200, json: { input_tokens } };
}

const ROUTES = {
  'GET /models': listModels,
  'POST /chat/completions': chatCompletions,
  'POST /responses': responses,
  'POST /v1/messages': messages,
  'POST /v1/messages/count_tokens': countTokens,
  'POST /embeddings': embeddings,
};

const GENERATION = new Set([chatCompletions, responses, messages]);

export async function copilotRoute(ctx) {
  const handler = ROUTES[`${ctx.method} ${ctx.subpath}`];
  if (!handler) return null;
  copilotGate(ctx);
  if (!GENERATION.has(handler)) return handler(ctx);
  checkUsageLimits(ctx.user);
  const result = await handler(ctx);
  // A successful answer is billed, and says what is left (headers ahead of any stream).
  if (result.status === 200) {
    charge(ctx.user, ctx.entry.reply?.copilot_usage?.total_nano_aiu ?? 0);
    result.headers = { ...quotaHeaders(ctx.user, premiumOf(ctx.user)), ...result.headers };
  }
  return result;
}
