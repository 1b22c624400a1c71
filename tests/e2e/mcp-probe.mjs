// A minimal MCP server over stdio (newline-delimited JSON-RPC) with one tool, `echo`, for
// the client tests: Codex offers an MCP server's tools to the model in a namespace
// (`mcp__probe`). Each call is appended to the file named by the first argument, so a
// test sees that the agent really ran the tool the model called.
import readline from "node:readline";
import { appendFileSync } from "node:fs";

const log = process.argv[2];
const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
const result = (id, r) => send({ jsonrpc: "2.0", id, result: r });

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined) return; // notifications
  switch (m.method) {
    case "initialize":
      return result(m.id, {
        protocolVersion: m.params?.protocolVersion ?? "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "probe", version: "1.0.0" },
      });
    case "tools/list":
      return result(m.id, {
        tools: [{
          name: "echo",
          description: "Echo the text back.",
          inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
        }],
      });
    case "tools/call":
      if (log) appendFileSync(log, `${JSON.stringify(m.params)}\n`);
      return result(m.id, { content: [{ type: "text", text: `probe echo: ${m.params?.arguments?.text}` }] });
    default:
      return send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: `no method ${m.method}` } });
  }
});
