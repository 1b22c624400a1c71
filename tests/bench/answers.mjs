// Canned upstream answers for the benchmark, in each Copilot API's own wire format:
// an SSE stream of N deltas (thinking, then text, then one tool call's arguments) and the
// same answer as one JSON body. Deterministic, so the Rust translator bench can replay the
// exact bytes the end-to-end bench serves (they are written to files by run.mjs).

const WORDS = [
  'the', 'gateway', 'reads', 'each', 'event', 'and', 'writes', 'it', 'back', 'to', 'client',
  'in', 'its', 'own', 'format', 'while', 'a', 'tool', 'call', 'streams', 'arguments', 'file',
  'src/main.rs', 'fn', 'main()', '{', '}', 'let', 'x', '=', '42;', 'über', 'naïve', '"quoted"',
];

/** Word-ish token `i` (deterministic), sometimes with a newline or a quote to escape. */
function word(i) {
  let w = WORDS[(i * 7 + 3) % WORDS.length];
  if (i % 41 === 40) w += '\n\n';
  else w += ' ';
  return w;
}

export const MODELS = {
  messages: 'claude-bench-4.5', // Claude, /v1/messages only
  responses: 'gpt-bench-codex', // /responses only
  chat: 'gemini-bench-pro', // /chat/completions only
};

/** How N deltas split: 20 % thinking, 60 % text, 20 % tool arguments. */
export function split(n) {
  const thinking = Math.round(n * 0.2);
  const tool = Math.round(n * 0.2);
  return { thinking, text: n - thinking - tool, tool };
}

function pieces(count, offset) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(word(i + offset));
  return out;
}

/** Tool arguments: a JSON object whose text is cut into `count` pieces of 8 characters. */
function argPieces(count) {
  const head = '{"command":"';
  const tail = '","description":"bench"}';
  const want = Math.max(count * 8, head.length + tail.length + 1);
  let body = '';
  let i = 0;
  while (body.length < want - head.length - tail.length) body += i++ % 9 === 8 ? '\\"x\\" ' : 'ls -la /home/user ';
  const json = head + body.slice(0, want - head.length - tail.length).replace(/\\$/, ' ') + tail;
  const out = [];
  for (let p = 0; p < json.length; p += 8) out.push(json.slice(p, p + 8));
  // Exactly `count` pieces: the last one takes the remainder.
  while (out.length > count && count > 0) out[out.length - 2] += out.pop();
  return { json, pieces: out };
}

const b64 = (n, seed) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[(i * 31 + seed * 17) % 64];
  return s;
};

const SIGNATURE = `EqQB${b64(796, 1)}`; // Anthropic thinking signature (opaque)
const ENCRYPTED = `gAAAAA${b64(1594, 2)}`; // OpenAI reasoning encrypted_content (Fernet)
const ITEM_ID = (k) => b64(128, 10 + k); // Copilot's connection-bound /responses item ids

const event = (name, obj) => `event: ${name}\ndata: ${JSON.stringify(obj)}\n\n`;
const data = (obj) => `data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`;

/**
 * @param {'messages'|'responses'|'chat'} api
 * @param {number} n deltas
 * @returns {{ frames: string[], json: string, deltas: number }}
 */
export function answer(api, n) {
  const s = split(n);
  const thinking = pieces(s.thinking, 0);
  const text = pieces(s.text, 100_003);
  const args = argPieces(s.tool);
  const out = { messages, responses, chat }[api]({ thinking, text, args });
  return { ...out, deltas: n };
}

const USAGE = { input: 31_000, output: 2_400 };

function messages({ thinking, text, args }) {
  const model = MODELS.messages;
  const id = 'msg_vrtx_01BenchBenchBenchBenchBen';
  const toolId = 'toolu_vrtx_01BenchBenchBenchBenchBe';
  const usage = { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: USAGE.input, output_tokens: USAGE.output };
  const f = [];
  const ev = (type, payload) => f.push(event(type, { type, ...payload }));
  ev('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
  });
  ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
  ev('ping', {});
  for (const t of thinking) ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: t } });
  ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: SIGNATURE } });
  ev('content_block_stop', { index: 0 });
  ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } });
  for (const t of text) ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: t } });
  ev('content_block_stop', { index: 1 });
  ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: toolId, name: 'Bash', input: {} } });
  ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '' } });
  for (const p of args.pieces) ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: p } });
  ev('content_block_stop', { index: 2 });
  ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: USAGE.output } });
  ev('message_stop', {});
  f.push(data('[DONE]')); // Copilot's stray OpenAI-style end on Anthropic streams
  const json = {
    id, type: 'message', role: 'assistant', model,
    content: [
      { type: 'thinking', thinking: thinking.join(''), signature: SIGNATURE },
      { type: 'text', text: text.join('') },
      { type: 'tool_use', id: toolId, name: 'Bash', input: JSON.parse(args.json) },
    ],
    stop_reason: 'tool_use', stop_sequence: null, usage,
  };
  return { frames: f, json: JSON.stringify(json) };
}

function responses({ thinking, text, args }) {
  const model = MODELS.responses;
  const respId = `resp_${'b'.repeat(48)}`;
  const created = 1_790_000_000;
  const summary = thinking.join('');
  const fullText = text.join('');
  const callId = 'call_BenchBenchBenchBenchBench';
  const items = [
    { type: 'reasoning', summary: [{ type: 'summary_text', text: summary }], encrypted_content: ENCRYPTED },
    { type: 'message', status: 'completed', content: [{ type: 'output_text', annotations: [], logprobs: [], text: fullText }], role: 'assistant' },
    { type: 'function_call', status: 'completed', arguments: args.json, call_id: callId, name: 'Bash' },
  ];
  // Copilot announces one id in output_item.added and another in .done (the relay syncs them).
  const added = items.map((_, k) => ITEM_ID(k));
  const done = items.map((_, k) => ITEM_ID(k + 5));
  const usage = {
    input_tokens: USAGE.input, input_tokens_details: { cached_tokens: USAGE.input - 12 },
    output_tokens: USAGE.output, output_tokens_details: { reasoning_tokens: thinking.length }, total_tokens: USAGE.input + USAGE.output,
  };
  const response = (status, output, u) => ({
    id: respId, object: 'response', created_at: created, status, background: false, error: null,
    incomplete_details: null, instructions: null, max_output_tokens: null, model, output,
    parallel_tool_calls: true, previous_response_id: null, reasoning: { effort: 'medium', summary: 'auto' },
    store: false, temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: 'auto',
    tools: [], top_p: 1, truncation: 'disabled', usage: u, user: null, metadata: {},
  });
  const f = [];
  let seq = 0;
  const ev = (type, payload) => f.push(event(type, { type, sequence_number: seq++, ...payload }));
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  // reasoning
  ev('response.output_item.added', { output_index: 0, item: { id: added[0], type: 'reasoning', summary: [] } });
  let at = { item_id: added[0], output_index: 0, summary_index: 0 };
  ev('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } });
  for (const d of thinking) ev('response.reasoning_summary_text.delta', { ...at, delta: d });
  ev('response.reasoning_summary_text.done', { ...at, text: summary });
  ev('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text: summary } });
  ev('response.output_item.done', { output_index: 0, item: { id: done[0], ...items[0] } });
  // message
  ev('response.output_item.added', { output_index: 1, item: { id: added[1], type: 'message', status: 'in_progress', content: [], role: 'assistant' } });
  at = { item_id: added[1], output_index: 1, content_index: 0 };
  ev('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
  for (const d of text) ev('response.output_text.delta', { ...at, delta: d, logprobs: [] });
  ev('response.output_text.done', { ...at, text: fullText, logprobs: [] });
  ev('response.content_part.done', { ...at, part: items[1].content[0] });
  ev('response.output_item.done', { output_index: 1, item: { id: done[1], ...items[1] } });
  // function call
  ev('response.output_item.added', {
    output_index: 2, item: { id: added[2], type: 'function_call', status: 'in_progress', arguments: '', call_id: callId, name: 'Bash' },
  });
  for (const d of args.pieces) ev('response.function_call_arguments.delta', { item_id: added[2], output_index: 2, delta: d });
  ev('response.function_call_arguments.done', { item_id: added[2], output_index: 2, arguments: args.json });
  ev('response.output_item.done', { output_index: 2, item: { id: done[2], ...items[2] } });
  const output = items.map((it, k) => ({ id: done[k], ...it }));
  ev('response.completed', { response: response('completed', output, usage) });
  return { frames: f, json: JSON.stringify(response('completed', output, usage)) };
}

function chat({ thinking, text, args }) {
  const model = MODELS.chat;
  const id = 'chatcmpl-BenchBenchBenchBenchBenchBench';
  const created = 1_790_000_000;
  const callId = 'call_BenchBenchBenchBenchBench';
  const usage = {
    prompt_tokens: USAGE.input, completion_tokens: USAGE.output, total_tokens: USAGE.input + USAGE.output,
    prompt_tokens_details: { cached_tokens: USAGE.input - 12 },
  };
  const filter = [{ content_filter_results: { hate: { filtered: false, severity: 'safe' } }, prompt_index: 0 }];
  const chunk = (choices, extra = {}) => data({ id, object: 'chat.completion.chunk', created, model, choices, ...extra });
  const delta = (d) => chunk([{ index: 0, delta: d, finish_reason: null }]);
  const f = [];
  f.push(data({ choices: [], created: 0, id: '', prompt_filter_results: filter }));
  let first = true;
  const role = (d) => (first ? ((first = false), { role: 'assistant', ...d }) : d);
  for (const t of thinking) f.push(delta(role({ reasoning_text: t })));
  for (const t of text) f.push(delta(role({ content: t })));
  f.push(delta(role({ tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: 'Bash', arguments: '' } }] })));
  for (const p of args.pieces) f.push(delta({ tool_calls: [{ index: 0, function: { arguments: p } }] }));
  f.push(chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]));
  const usageFrame = chunk([], { usage });
  f.push(usageFrame);
  f.push(data('[DONE]'));
  const json = {
    id, object: 'chat.completion', created, model,
    choices: [{
      index: 0,
      message: {
        role: 'assistant', content: text.join(''), reasoning_text: thinking.join(''),
        tool_calls: [{ id: callId, type: 'function', function: { name: 'Bash', arguments: args.json } }],
      },
      finish_reason: 'tool_calls', logprobs: null,
    }],
    usage, prompt_filter_results: filter,
  };
  return { frames: f, json: JSON.stringify(json), usageFrame };
}
