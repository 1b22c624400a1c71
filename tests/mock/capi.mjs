// Rules every Copilot API call goes through: the header/token gate, model routing
// (supported_endpoints), body parsing in each API's error shape, and the formats of the
// opaque reasoning payloads the mock mints.
import { HttpError, openaiError, anthropicError, parseJson, isObject, nowSeconds, randomHex, estimateTokens } from './util.mjs';

// Real Copilot 403s requests that carry OpenAI/Anthropic SDK identity headers, so the
// gateway must build upstream headers from scratch instead of forwarding the client's.
const FORBIDDEN_HEADER = (name) =>
  name.startsWith('x-stainless-') || ['openai-organization', 'openai-project', 'x-api-key'].includes(name);

// The Go services behind Copilot answer auth/header problems in plain text.
const plain = (status, text) => new HttpError(status, `${text}\n`, { 'x-content-type-options': 'nosniff' });

// Copilot's answer to a retired X-GitHub-Api-Version (the message ends in a newline).
export const versionRetired = () =>
  new HttpError(466, {
    error: {
      message: 'bad request: the specified API version is no longer supported. You may need to update your client to a newer version.\n',
      type: 'error',
    },
  });

/** Authenticate and check the VS Code Copilot Chat identity headers. */
export function copilotGate(ctx) {
  const { headers: h, state, entry } = ctx;
  const m = /^bearer\s+(\S+)\s*$/i.exec(h.authorization ?? '');
  if (!m) throw plain(401, 'unauthorized: missing or malformed Authorization header');
  const tok = state.copilotTokens.get(m[1]);
  if (!tok) throw plain(401, 'unauthorized: token is invalid');
  if (tok.invalidated || nowSeconds() >= tok.expires_at) throw plain(401, 'unauthorized: token expired');
  const user = state.userById(tok.user_id);
  entry.user = user?.login ?? null;
  ctx.user = user;
  // A plan host (api.<plan>.githubcopilot.com) is scoped to its plan: a token of an
  // account on another plan gets 421 (the token's own endpoints.api names the right one).
  if (ctx.planHost && ctx.planHost !== user?.plan) {
    throw plain(421, `misdirected request: this token is not valid for api.${ctx.planHost}.githubcopilot.com`);
  }
  const version = h['x-github-api-version'];
  if (version !== undefined && version < state.config.copilot_min_api_version) throw versionRetired();

  const bad = Object.keys(h).filter(FORBIDDEN_HEADER);
  if (bad.length) throw plain(403, `forbidden: header(s) not allowed for this integration: ${bad.join(', ')}`);
  if (!(h['user-agent'] ?? '').startsWith('GitHubCopilotChat/')) throw plain(403, 'forbidden: unsupported User-Agent');
  if (!h['copilot-integration-id']) throw plain(400, 'bad request: missing Copilot-Integration-Id header');
  if (h['copilot-integration-id'] !== 'vscode-chat') throw plain(400, 'bad request: unknown Copilot-Integration-Id');
  if (!h['editor-version']) throw plain(400, 'bad request: missing Editor-Version header for IDE auth');
  if (!h['editor-version'].startsWith('vscode/')) throw plain(400, 'bad request: invalid Editor-Version header');
  if (!(h['editor-plugin-version'] ?? '').startsWith('copilot-chat/'))
    throw plain(400, 'bad request: missing or invalid Editor-Plugin-Version header');
  if (!h['x-request-id']) throw plain(400, 'bad request: missing X-Request-Id header');
}

// ---------------------------------------------------------------- model routing

export const findModel = (state, id) => state.catalog.data.find((m) => m.id === id);

/** Models without supported_endpoints are legacy chat models (or embeddings models). */
export function endpointsOf(model) {
  if (Array.isArray(model.supported_endpoints)) return model.supported_endpoints;
  return model.capabilities?.type === 'embeddings' ? ['/embeddings'] : ['/chat/completions'];
}

/** CAPI resolves the model before the backend sees the body, so these errors are CAPI-shaped. */
export function requireModel(ctx, body, endpoint) {
  const model = typeof body.model === 'string' ? findModel(ctx.state, body.model) : undefined;
  if (!model) throw openaiError(400, 'The requested model is not supported.', { code: 'model_not_supported', param: 'model' });
  if (!endpointsOf(model).includes(endpoint)) {
    throw openaiError(400, `model ${model.id} is not accessible via the ${endpoint} endpoint`, {
      code: 'unsupported_api_for_model',
      param: 'model',
    });
  }
  // The prompt must fit the model's prompt limit (a 1M-context variant has its own).
  const limit = model.capabilities?.limits?.max_prompt_tokens;
  const prompt = estimateTokens(body);
  if (limit != null && prompt > limit) {
    throw openaiError(400, `prompt token count of ${prompt} exceeds the limit of ${limit}`, {
      code: 'model_max_prompt_tokens_exceeded',
    });
  }
  ctx.entry.model = model.id;
  return model;
}

export const isClaude = (model) => model.id.startsWith('claude');
/** OpenAI reasoning models (gpt-5*, o*): they take reasoning effort and reject max_tokens/temperature. */
export const isOpenAIReasoning = (model) => !isClaude(model) && Array.isArray(model.capabilities?.supports?.reasoning_effort);

/** Image inputs need the copilot-vision-request header and a vision-capable model. */
export function requireVision(ctx, model, imageCount) {
  if (!imageCount) return;
  if (ctx.headers['copilot-vision-request'] !== 'true') {
    throw openaiError(400, 'missing required Copilot-Vision-Request header for vision requests', { code: 'invalid_request_body' });
  }
  if (!model.capabilities?.supports?.vision) {
    throw openaiError(400, `model ${model.id} does not support vision requests`, { code: 'model_not_supported_vision', param: 'model' });
  }
}

/** Parse the JSON body, answering invalid JSON in the endpoint's own error shape. */
export function parseBody(ctx, style) {
  let body;
  try {
    body = parseJson(ctx.rawBody);
  } catch {
    throw style === 'anthropic'
      ? anthropicError(400, 'There was an error parsing the body of your request: invalid JSON')
      : openaiError(400, 'We could not parse the JSON body of your request. The API expects a JSON payload.', {
          code: 'invalid_json',
        });
  }
  if (!isObject(body)) {
    throw style === 'anthropic'
      ? anthropicError(400, 'Input should be a valid dictionary')
      : openaiError(400, 'The request body must be a JSON object.', { code: 'invalid_type' });
  }
  return body;
}

// ---------------------------------------------------------------- thinking signatures

// Thinking signatures (Anthropic) and encrypted reasoning (OpenAI) are opaque to the
// gateway; these formats let the mock notice one that was corrupted or crossed over.
export const mintSignature = () => `mocksig_${randomHex(48)}`;
export const isValidSignature = (s) => typeof s === 'string' && /^mocksig_[0-9a-f]{16,}$/.test(s);
export const mintEncryptedContent = (respId) => `gAAAAmock${Buffer.from(`mock-reasoning:${respId}`).toString('base64')}`;
export const isValidEncryptedContent = (s) => typeof s === 'string' && /^gAAAA[A-Za-z0-9+/=_-]+$/.test(s);
