// The Vercel AI SDK as an app uses it: `generateText` (or `streamText`) with a tool whose
// `execute` writes a file, run until the model has answered the tool's result. Run by
// clients.test.mjs with the Node the SDK needs; the case comes as JSON in argv[2]:
// { provider: "anthropic" | "openai" | "openai-chat", model, baseURL, apiKey, prompt, stream }.
// Prints one JSON line: { text, steps: [{ toolCalls, toolResults, finishReason }], usage }.
import { generateText, streamText, tool, jsonSchema, stepCountIs } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { writeFileSync } from "node:fs";

const c = JSON.parse(process.argv[2]);
const model =
  c.provider === "anthropic"
    ? createAnthropic({ baseURL: c.baseURL, apiKey: c.apiKey })(c.model)
    : c.provider === "openai-chat"
      ? createOpenAI({ baseURL: c.baseURL, apiKey: c.apiKey }).chat(c.model)
      : createOpenAI({ baseURL: c.baseURL, apiKey: c.apiKey }).responses(c.model);

// Named and shaped like Claude Code's Write, so the mock's `MOCK_TOOL <path>` calls it.
const Write = tool({
  description: "Write a file to the local filesystem.",
  inputSchema: jsonSchema({
    type: "object",
    properties: { file_path: { type: "string" }, content: { type: "string" } },
    required: ["file_path", "content"],
    additionalProperties: false,
  }),
  execute: async ({ file_path, content }) => {
    writeFileSync(file_path, content);
    return `File created successfully at: ${file_path}`;
  },
});

const args = { model, prompt: c.prompt, tools: { Write }, stopWhen: stepCountIs(4), maxRetries: 0 };
let result;
if (c.stream) {
  const s = streamText({ ...args, onError: ({ error }) => { throw error; } });
  await s.consumeStream();
  result = { text: await s.text, steps: await s.steps, usage: await s.totalUsage };
} else {
  result = await generateText(args);
}
console.log(
  JSON.stringify({
    text: result.text,
    steps: result.steps.map((s) => ({
      toolCalls: s.toolCalls.map((t) => ({ toolName: t.toolName, input: t.input })),
      toolResults: s.toolResults.map((t) => ({ toolName: t.toolName, output: t.output })),
      finishReason: s.finishReason,
    })),
    usage: result.usage ?? result.totalUsage,
  }),
);
