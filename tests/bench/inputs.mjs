// Benchmark inputs: the recorded client requests in tests/fixtures/, a Claude Code-sized
// Chat Completions request built from the Claude Code one (no agent speaks Chat, so none
// was recorded), and 500 KB / 1 MB conversations grown from each by appending realistic
// turns (a tool call and a ~4 KB tool result each; Claude turns carry thinking).
import { readFileSync } from 'node:fs';
import path from 'node:path';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const load = (f) => JSON.parse(readFileSync(path.join(fixtures, f), 'utf8')).body;

export const SIZES = { small: 0, agent: 0, '500k': 500 * 1024, '1m': 1024 * 1024 };

/** Claude Code's request as an OpenAI Chat Completions client would send it. */
export function chatFromMessages(m) {
  const text = (c) => (typeof c === 'string' ? c : c.filter((b) => b.type === 'text').map((b) => b.text).join('\n\n'));
  const messages = [{ role: 'system', content: text(m.system) }];
  for (const msg of m.messages) {
    if (typeof msg.content === 'string') {
      messages.push({ role: msg.role, content: msg.content });
      continue;
    }
    if (msg.role === 'assistant') {
      const calls = msg.content.filter((b) => b.type === 'tool_use');
      const out = { role: 'assistant', content: text(msg.content) || null };
      if (calls.length) {
        out.tool_calls = calls.map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input) } }));
      }
      messages.push(out);
      continue;
    }
    for (const b of msg.content.filter((x) => x.type === 'tool_result')) {
      messages.push({ role: 'tool', tool_call_id: b.tool_use_id, content: typeof b.content === 'string' ? b.content : text(b.content) });
    }
    const parts = msg.content.filter((b) => b.type === 'text').map((b) => ({ type: 'text', text: b.text }));
    if (parts.length) messages.push({ role: 'user', content: parts });
  }
  return {
    model: m.model,
    messages,
    tools: m.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema } })),
    max_completion_tokens: m.max_tokens,
    reasoning_effort: 'high',
    stream: true,
    stream_options: { include_usage: true },
  };
}

/** ~4 KB pieces of realistic text (the fixture's own prompts and tool docs). */
function textSource() {
  const cc = load('claude-code.messages.request.json');
  const all = [...cc.system.map((b) => b.text), ...cc.tools.map((t) => t.description)].join('\n');
  let at = 0;
  return (n = 4000) => {
    if (at + n > all.length) at = 0;
    const s = all.slice(at, at + n);
    at += n;
    return s;
  };
}

const sig = (k) => `EqQB${Buffer.from(`bench-signature-${k}-`.repeat(40)).toString('base64').slice(0, 796)}`;
const enc = (k) => `gAAAAA${Buffer.from(`bench-reasoning-${k}-`.repeat(80)).toString('base64').slice(0, 1594)}`;

/** Appends turns until the compact JSON body reaches `bytes`. */
function grow(api, body, bytes) {
  const next = textSource();
  const b = structuredClone(body);
  for (let k = 0; JSON.stringify(b).length < bytes; k++) {
    const cmd = { command: `sed -n '1,120p' src/module_${k}.rs`, description: `Read module ${k}` };
    if (api === 'messages') {
      b.messages.push(
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: next(300), signature: sig(k) },
            { type: 'text', text: `Let me read module ${k}.` },
            { type: 'tool_use', id: `toolu_bench${k}`, name: 'Bash', input: cmd },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_bench${k}`, content: next() }] },
      );
    } else if (api === 'responses') {
      b.input.push(
        { type: 'reasoning', id: `rs_bench${k}`, summary: [{ type: 'summary_text', text: next(300) }], content: null, encrypted_content: enc(k) },
        { type: 'function_call', status: 'completed', id: `fc_bench${k}`, name: 'exec_command', arguments: JSON.stringify({ cmd: cmd.command }), call_id: `call_bench${k}` },
        { type: 'function_call_output', call_id: `call_bench${k}`, output: next() },
      );
    } else {
      b.messages.push(
        { role: 'assistant', content: `Let me read module ${k}.`, tool_calls: [{ id: `call_bench${k}`, type: 'function', function: { name: 'Bash', arguments: JSON.stringify(cmd) } }] },
        { role: 'tool', tool_call_id: `call_bench${k}`, content: next() },
      );
    }
  }
  return b;
}

/**
 * Client bodies per source API and size, with `"model":"__MODEL__"` as a placeholder (the
 * benchmark picks the model that routes to each target).
 * @returns {Record<'messages'|'responses'|'chat', Record<string, {body: object, from: string}>>}
 */
export function clientBodies() {
  const agent = {
    messages: { body: load('claude-code.messages.tool_result.request.json'), from: 'Claude Code 2.1.332 (2nd turn)' },
    responses: { body: load('codex.responses.tool_output.request.json'), from: 'Codex CLI 0.169.0 (2nd turn)' },
    chat: { body: chatFromMessages(load('claude-code.messages.tool_result.request.json')), from: 'Claude Code 2nd turn as Chat' },
  };
  const small = {
    messages: { body: load('anthropic-sdk.messages.request.json'), from: 'anthropic SDK' },
    responses: { body: load('openai-sdk.responses.request.json'), from: 'openai SDK' },
    chat: { body: load('openai-sdk.chat.request.json'), from: 'openai SDK' },
  };
  const out = {};
  for (const api of ['messages', 'responses', 'chat']) {
    out[api] = {
      small: small[api],
      agent: agent[api],
      '500k': { body: grow(api, agent[api].body, SIZES['500k']), from: `${agent[api].from} + history` },
      '1m': { body: grow(api, agent[api].body, SIZES['1m']), from: `${agent[api].from} + history` },
    };
    for (const v of Object.values(out[api])) v.body = { ...v.body, model: '__MODEL__' };
  }
  return out;
}

/** The compact JSON text of a body for one model and streaming choice. */
export function bodyText(body, model, stream) {
  const b = { ...body, model, stream };
  if (!stream) delete b.stream_options;
  return JSON.stringify(b);
}
