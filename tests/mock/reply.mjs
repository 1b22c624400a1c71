// The mock "model": a deterministic answer derived from the request, shared by the three
// generation endpoints so that every translation path through the gateway can be checked
// against the same expected text.
//
//   last turn is a tool result     → text "Tool result: <first 200 chars of its output>"
//   "MOCK_SEARCH <query>" (or Claude Code's "Perform a web search for the query: …"; or
//   "MOCK_SEARCH_REPEAT <n> <query>" in the first user message, until n searches were
//   made) and a web_search / WebSearch tool offered
//                                  → text "I'll search the web for <query>." + that call
//   tools offered and (tool_choice forces one, or the last user text contains
//   "use a tool", "MOCK_TOOL <path>" or "MOCK_CALL <name>")
//                                  → text "I'll use the <name> tool." + one tool call
//                                    (MOCK_CALL: of the tool named <name>, or whose
//                                    flattened name ends in `__<name>`)
//   otherwise                      → text "Echo: <last user text>" (+ " [N image(s)]")
//   A last user text that carries the gateway's summary of compacted work ("Summary of the
//   earlier part of this conversation") is answered with the echo: the model goes on from
//   the summary and does not repeat the tool call the kept prompt asked for.
import { sha256, estimateTokens } from './util.mjs';

export const THINKING_TEXT = 'Mock thinking about the request.';
export const REASONING_SUMMARY = '**Mock reasoning**\n\nDeciding how to reply.';
export const MOCK_FILE_CONTENT = 'hello from mock';
const MAX_DELTAS = 40; // long echoes are grouped so a stream stays short

const REMINDER_RE = /<system-reminder>[\s\S]*?<\/system-reminder>\s*/g;

/** Split text into word-ish tokens whose concatenation is the text. */
export const tokenize = (text) => text.match(/\S+\s*|\s+/g) ?? [];

/** Group tokens into at most MAX_DELTAS deltas. */
export function toDeltas(tokens) {
  if (tokens.length <= MAX_DELTAS) return tokens;
  const size = Math.ceil(tokens.length / MAX_DELTAS);
  const out = [];
  for (let i = 0; i < tokens.length; i += size) out.push(tokens.slice(i, i + size).join(''));
  return out;
}

/** Split a JSON string into small argument deltas (like a model streaming tool input). */
export function jsonDeltas(json, size = 8) {
  const out = [];
  for (let i = 0; i < json.length; i += size) out.push(json.slice(i, i + size));
  return out.length ? out : [''];
}

function sampleValue(schema) {
  if (!schema || typeof schema !== 'object') return 'mock';
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return argsFromSchema(schema);
    default:
      return 'mock';
  }
}

/** Minimal arguments that satisfy a JSON schema's required properties. */
export function argsFromSchema(schema) {
  const out = {};
  const props = schema?.properties ?? {};
  for (const key of Array.isArray(schema?.required) ? schema.required : []) out[key] = sampleValue(props[key]);
  return out;
}

// Arguments for the real clients' file-writing tools, so `MOCK_TOOL <path>` makes Claude
// Code, Codex, opencode or Gemini CLI create <path> containing "hello from mock" in end-to-end runs.
function mockToolCall(tools, path) {
  const cmd = `printf %s '${MOCK_FILE_CONTENT}' > ${path}`;
  const byName = (n) => tools.find((t) => t.name === n);
  const known = [
    ['Write', { file_path: path, content: MOCK_FILE_CONTENT }],
    ['exec_command', { cmd }],
    ['shell_command', { command: cmd }],
    ['shell', { command: ['bash', '-lc', cmd] }],
    ['Bash', { command: cmd, description: 'Write the file' }],
    // opencode
    ['write', { filePath: path, content: MOCK_FILE_CONTENT }],
    // Gemini CLI
    ['write_file', { file_path: path, content: MOCK_FILE_CONTENT }],
  ];
  for (const [name, args] of known) if (byName(name)) return { name, args };
  return null;
}

/**
 * @param {object} conv normalized conversation:
 *   { userText, images, toolOutput (string|null), tools: [{name, schema}],
 *     toolChoice: {mode:'auto'|'none'|'required'|'named', name?}, maxTokens?, stop?: string[] }
 */
export function planReply(conv) {
  const tools = conv.tools ?? [];
  const choice = conv.toolChoice ?? { mode: 'auto' };
  const userText = (conv.userText ?? '').replace(REMINDER_RE, '').trim();
  const forced = choice.mode === 'required' || choice.mode === 'named';
  let text;
  let call = null;

  // A model that searches: "MOCK_SEARCH <query>" (or Claude Code's own WebSearch
  // sub-request, "Perform a web search for the query: <query>") with a search tool offered.
  // "MOCK_SEARCH_REPEAT <n> <query>" in the first user message: a model that searches
  // again after each result, n times in all.
  const repeat = /MOCK_SEARCH_REPEAT\s+(\d+)\s+(.+)/.exec(conv.firstUserText ?? '');
  const searchQuery = repeat
    ? (conv.searchCalls ?? 0) < Number(repeat[1]) ? `${repeat[2].trim()} ${(conv.searchCalls ?? 0) + 1}` : null
    : conv.toolOutput == null
      ? (/MOCK_SEARCH\s+(.+)/.exec(userText) ?? /Perform a web search for the query:\s*(.+)/.exec(userText))?.[1]?.trim()
      : null;
  let searchTool = searchQuery && choice.mode !== 'none' ? tools.find((t) => t.name === 'web_search' || t.name === 'WebSearch') : null;
  // Claude Code defers WebSearch behind its ToolSearch tool: the model loads it first
  // (`select:WebSearch`), then calls it once the schema came back in the tool result.
  const toolSearch = choice.mode !== 'none' ? tools.find((t) => t.name === 'ToolSearch') : null;
  const deferredSearch = /MOCK_SEARCH\s+(.+)/.exec(conv.firstUserText ?? '')?.[1]?.trim();
  let loadSearch = false;
  if (!searchTool && toolSearch && searchQuery) loadSearch = true;
  else if (
    !searchTool &&
    toolSearch &&
    deferredSearch &&
    (conv.loadedTools?.includes('WebSearch') || /"name":\s*"WebSearch"|Tool available: WebSearch/.test(conv.toolOutput ?? ''))
  ) {
    searchTool = { name: 'WebSearch' };
  }
  const query = searchTool && !searchQuery ? deferredSearch : searchQuery;

  const callName = conv.toolOutput == null ? /MOCK_CALL\s+(\S+)/.exec(userText)?.[1] : null;
  const callTool = callName ? tools.find((t) => t.name === callName || t.name.endsWith(`__${callName}`)) : null;
  const resumed = /Summary of the earlier part of this conversation/.test(userText);
  const wantsTool =
    !searchTool &&
    !resumed &&
    !loadSearch &&
    tools.length > 0 &&
    choice.mode !== 'none' &&
    (forced || (conv.toolOutput == null && (/use a tool/i.test(userText) || /MOCK_TOOL\s+\S+/.test(userText) || callTool)));

  if (loadSearch) {
    call = { name: 'ToolSearch', args: { query: 'select:WebSearch' } };
    text = "I'll load the WebSearch tool.";
  } else if (searchTool) {
    call = { name: searchTool.name, args: { query } };
    text = `I'll search the web for ${query}.`;
  } else if (wantsTool) {
    const named = choice.mode === 'named' ? tools.find((t) => t.name === choice.name) : callTool;
    const path = /MOCK_TOOL\s+([^\s"'<>]+)/.exec(userText)?.[1];
    call = (!named && path && mockToolCall(tools, path)) || null;
    if (!call) {
      const tool = named ?? tools[0];
      call = { name: tool.name, args: argsFromSchema(tool.schema) };
    }
    text = `I'll use the ${call.name} tool.`;
  } else if (conv.toolOutput != null) {
    text = `Tool result: ${conv.toolOutput.slice(0, 200)}`;
  } else {
    const n = conv.images ?? 0;
    text = `Echo: ${userText}${n ? ` [${n} image${n > 1 ? 's' : ''}]` : ''}`;
  }

  let stopReason = call ? 'tool_use' : 'end_turn';
  let stopSequence = null;
  for (const seq of conv.stop ?? []) {
    const at = seq ? text.indexOf(seq) : -1;
    if (at >= 0) {
      text = text.slice(0, at);
      stopReason = 'stop_sequence';
      stopSequence = seq;
      call = null;
      break;
    }
  }

  let tokens = tokenize(text);
  let json = call ? JSON.stringify(call.args) : null;
  let argDeltas = call ? jsonDeltas(json) : [];
  if (conv.maxTokens != null && tokens.length + argDeltas.length > conv.maxTokens) {
    tokens = tokens.slice(0, Math.max(0, conv.maxTokens));
    text = tokens.join('');
    call = null;
    json = null;
    argDeltas = [];
    stopReason = 'max_tokens';
  }

  return {
    text,
    deltas: toDeltas(tokens),
    toolCall: call ? { name: call.name, args: call.args, json, deltas: argDeltas } : null,
    stopReason,
    stopSequence,
    outputTokens: tokens.length + argDeltas.length,
  };
}

/**
 * Prompt-token accounting with a stand-in for prompt caching: the prompt is
 * ceil(len(JSON body)/4) tokens; a later request with the same prefix (model + the
 * first message/system part) reports the previous request's prompt as cached
 * (capped at prompt-1).
 */
export function promptUsage(state, { endpoint, model, prefix, body, cache = true }) {
  const prompt = estimateTokens(body);
  if (!cache) return { prompt, cached: 0 };
  const key = sha256(`${endpoint}\n${model}\n${JSON.stringify(prefix ?? null)}`);
  const prev = state.promptCache.get(key) ?? 0;
  state.promptCache.set(key, prompt);
  return { prompt, cached: Math.max(0, Math.min(prev, prompt - 1)) };
}
