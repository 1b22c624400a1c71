// Models: Copilot's catalog with limits, capability badges and the path each client API
// takes (native or translated), plus a playground that streams a chat through the gateway.
import { api, postStream, sseEvents } from "../api.js";
import { h, clear, icon, empty, errorBox, spinner, badge, fmtCompact, fmtInt, toast, confirmDialog } from "../dom.js";

const APIS = [
  ["messages", "Messages"],
  ["responses", "Responses"],
  ["chat_completions", "Chat"],
];

export function modelsPage(main, app) {
  let alive = true;
  let models = [];
  let filter = "";
  const isAdmin = app.session.role === "admin";
  const listBox = h("div", spinner("Loading models…"));
  const search = h("input#model-search.input", {
    type: "search", placeholder: "Filter by name or capability", autocomplete: "off",
    oninput: (e) => { filter = e.target.value.trim().toLowerCase(); renderList(); },
  });
  const playBox = h("div");
  let play = null;

  main.append(
    h("div.page-head", h("div",
      h("h1", "Models"),
      h("p.lead", "What Copilot offers this gateway. Each client API reaches a model either natively or translated through another Copilot API; translation keeps streaming, tools and thinking."),
    )),
    isAdmin ? playBox : null,
    h("section.card.table-card", { "aria-labelledby": "catalog-h" },
      h("div.card-head", h("h2#catalog-h.card-title", "Catalog"), h("div.push"), h("label.visually-hidden", { for: "model-search" }, "Filter models"), search),
      listBox,
    ),
    isAdmin ? aliasSection(() => { app.modelsPromise = null; }) : null,
  );

  async function load() {
    try {
      models = await app.models();
      if (!alive) return;
      renderList();
      if (isAdmin) play = playground(playBox, models);
    } catch (e) {
      if (alive) clear(listBox, errorBox(e, load));
    }
  }

  function matches(m) {
    if (!filter) return true;
    const caps = capabilityNames(m).join(" ");
    return [m.id, m.display_name, m.model_type, caps].join(" ").toLowerCase().includes(filter);
  }

  function renderList() {
    const list = models.filter(matches);
    if (!models.length) return clear(listBox, empty("No models", "Connect a GitHub account with Copilot to see its models."));
    if (!list.length) return clear(listBox, empty("Nothing matches", `No model matches “${filter}”.`));
    clear(listBox, h("div.table-scroll", h("table.table.models-table",
      h("thead", h("tr",
        h("th", { scope: "col" }, "Model"),
        h("th.num", { scope: "col" }, "Context"),
        h("th.num", { scope: "col" }, "Prompt"),
        h("th.num", { scope: "col" }, "Output"),
        h("th", { scope: "col" }, "Capabilities"),
        APIS.map(([, label]) => h("th", { scope: "col" }, label)),
      )),
      h("tbody", list.map((m) => h("tr", { "data-model": m.id },
        h("td", { "data-label": "Model" },
          h("div.model-id", h("code", m.id), m.preview ? badge("Preview", "warn") : null),
          m.display_name && m.display_name !== m.id ? h("div.muted.small", m.display_name) : null),
        h("td.num", { "data-label": "Context" }, tokens(m.context_window)),
        h("td.num", { "data-label": "Prompt" }, tokens(m.max_prompt_tokens)),
        h("td.num", { "data-label": "Output" }, tokens(m.max_output_tokens)),
        h("td", { "data-label": "Capabilities" }, h("div.badges", capabilityNames(m).map((c) => badge(c, c === "Embeddings" ? "muted" : "cap")))),
        APIS.map(([api, label]) => h("td", { "data-label": label }, route(m.routes?.[api]))),
      ))),
    )));
  }

  load();
  return () => {
    alive = false;
    play?.abort();
  };
}

function tokens(n) {
  return n ? h("span", { title: `${fmtInt(n)} tokens` }, fmtCompact(n)) : h("span.muted", "—");
}

function capabilityNames(m) {
  const c = m.capabilities ?? {};
  if (m.model_type === "embeddings") return ["Embeddings"];
  return [c.vision && "Vision", c.tool_calls && "Tools", c.thinking && "Thinking"].filter(Boolean);
}

function route(r) {
  if (!r) return h("span.muted", { title: "Not available on this API" }, "—");
  if (r === "native") return h("span.badge.badge-ok", { title: "Served by Copilot's own API of this kind" }, "Native");
  const names = { "/v1/messages": "Messages", "/messages": "Messages", "/responses": "Responses", "/chat/completions": "Chat" };
  const path = r.replace(/^via /, "");
  return h("span.badge.badge-via", { title: `Translated: Copilot's ${path}` }, `via ${names[path] ?? path}`);
}

// ---- aliases ----

/** Names the admin gives models: each stands for the first of its models Copilot offers. */
function aliasSection(onChange) {
  const box = h("div", spinner("Loading aliases…"));
  const name = h("input#alias-name.input", { placeholder: "team-default", autocomplete: "off", required: true, pattern: "[A-Za-z0-9._:@\\-]{1,100}" });
  const targets = h("input#alias-models.input", { placeholder: "claude-sonnet-4.5, gpt-5-mini", autocomplete: "off", required: true });
  const form = h("form.alias-form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const models = targets.value.split(",").map((m) => m.trim()).filter(Boolean);
      try {
        await api.put(`/api/model-aliases/${encodeURIComponent(name.value.trim())}`, { models });
        toast(`Saved alias “${name.value.trim()}”`);
        name.value = "";
        targets.value = "";
        onChange();
        load();
      } catch (x) {
        toast(x.message, "error");
      }
    },
  },
    h("label.label", { for: "alias-name" }, "Alias"), name,
    h("label.label", { for: "alias-models" }, "Models, in order of preference"), targets,
    h("button.btn.btn-primary", { type: "submit" }, "Save alias"),
  );

  async function load() {
    try {
      const { data } = await api.get("/api/model-aliases");
      if (!data.length) return clear(box, empty("No aliases", "Give your team a model name of its own: requests for the alias go to the first of its models Copilot offers."));
      clear(box, h("div.table-scroll", h("table.table.aliases-table",
        h("thead", h("tr", h("th", { scope: "col" }, "Alias"), h("th", { scope: "col" }, "Models"), h("th", { scope: "col" }, "Serves now"), h("th", { scope: "col" }, h("span.visually-hidden", "Actions")))),
        h("tbody", data.map((a) => h("tr", { "data-alias": a.alias },
          h("td", { "data-label": "Alias" }, h("code", a.alias)),
          h("td", { "data-label": "Models" }, a.models.join(" → ")),
          h("td", { "data-label": "Serves now" }, a.serves ? h("code", a.serves) : h("span.muted", { title: "None of its models is available" }, "—")),
          h("td", h("button.btn.btn-ghost.btn-sm", { type: "button", "aria-label": `Delete alias ${a.alias}`, onclick: () => remove(a.alias) }, "Delete")),
        ))),
      )));
    } catch (e) {
      clear(box, errorBox(e, load));
    }
  }

  async function remove(alias) {
    const ok = await confirmDialog({ title: `Delete alias “${alias}”?`, body: "Agents that ask for it get a “model not found” error from now on.", confirmLabel: "Delete alias", danger: true });
    if (!ok) return;
    try {
      await api.del(`/api/model-aliases/${encodeURIComponent(alias)}`);
      toast(`Deleted alias “${alias}”`);
      onChange();
      load();
    } catch (x) {
      toast(x.message, "error");
    }
  }

  load();
  return h("section.card", { "aria-labelledby": "aliases-h" },
    h("div.card-head", h("h2#aliases-h.card-title", "Aliases")),
    h("p.muted.small", "Listed in /v1/models next to the catalog and applied before routing. An alias may not take the name of a catalog model."),
    form,
    box,
  );
}

// ---- playground ----

function playground(host, models) {
  const chat = models.filter((m) => m.routes?.chat_completions && m.model_type !== "embeddings");
  if (!chat.length) {
    clear(host, h("section.card.playground", h("h2.card-title", "Playground"), empty("No chat models", "Connect a GitHub account with Copilot to try its models here.")));
    return { abort() {} };
  }
  let controller = null;
  const messages = [];
  const prefer = chat.find((m) => /sonnet/.test(m.id)) ?? chat[0];
  const modelSel = h("select#play-model.input.input-sm", chat.map((m) => h("option", { value: m.id, selected: m === prefer }, m.id)));
  const system = h("textarea#play-system.input", { rows: 2, placeholder: "Optional system prompt" });
  const log = h("div.chat-log", { "aria-live": "polite", "data-testid": "playground-log" });
  const input = h("textarea#play-input.input.chat-input", {
    rows: 2, placeholder: "Ask something… (Enter to send, Shift+Enter for a new line)",
    onkeydown: (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    },
  });
  const sendBtn = h("button.btn.btn-primary", { type: "submit" }, icon("send"), h("span", "Send"));
  const stopBtn = h("button.btn", { type: "button", hidden: true, onclick: () => controller?.abort() }, icon("stop"), h("span", "Stop"));
  const clearBtn = h("button.btn.btn-ghost.btn-sm", {
    type: "button",
    onclick: () => { controller?.abort(); messages.length = 0; clear(log, intro()); input.focus(); },
  }, "New chat");
  const intro = () => h("p.muted.chat-empty", "Send a message to stream an answer from the chosen model through the gateway. Usage is recorded under the key “playground”.");
  log.append(intro());

  const form = h("form.chat-form", {
    onsubmit: async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text || controller) return;
      log.querySelector(".chat-empty")?.remove();
      input.value = "";
      messages.push({ role: "user", content: text });
      log.append(h("div.msg.msg-user", h("div.msg-role", "You"), h("div.msg-text", text)));
      const thinking = h("div.msg-thinking", { hidden: true });
      const textNode = document.createTextNode("");
      const out = h("div.msg-text", textNode, h("span.cursor", { "aria-hidden": "true" }));
      const meta = h("div.msg-meta");
      const bubble = h("div.msg.msg-assistant", { "data-testid": "assistant-message" }, h("div.msg-role", modelSel.value), thinking, out, meta);
      log.append(bubble);
      log.scrollTop = log.scrollHeight;
      controller = new AbortController();
      sendBtn.hidden = true;
      stopBtn.hidden = false;
      let answer = "";
      const t0 = performance.now();
      let usage = null;
      try {
        const body = {
          model: modelSel.value,
          stream: true,
          stream_options: { include_usage: true },
          messages: [...(system.value.trim() ? [{ role: "system", content: system.value.trim() }] : []), ...messages],
        };
        const res = await postStream("/api/playground", body, { signal: controller.signal });
        for await (const ev of sseEvents(res)) {
          if (ev.data === "[DONE]") break;
          let j;
          try { j = JSON.parse(ev.data); } catch { continue; }
          if (j.error) throw new Error(j.error.message ?? "The stream ended with an error");
          if (j.usage) usage = j.usage;
          const d = j.choices?.[0]?.delta;
          if (!d) continue;
          const r = d.reasoning_text ?? d.reasoning_content ?? d.reasoning;
          if (typeof r === "string" && r) {
            thinking.hidden = false;
            thinking.textContent += r;
          }
          if (typeof d.content === "string" && d.content) {
            answer += d.content;
            textNode.data = answer;
            log.scrollTop = log.scrollHeight;
          }
        }
        messages.push({ role: "assistant", content: answer });
        const secs = ((performance.now() - t0) / 1000).toFixed(1);
        meta.textContent = usage ? `${fmtInt(usage.prompt_tokens)} in · ${fmtInt(usage.completion_tokens)} out · ${secs} s` : `${secs} s`;
        bubble.dataset.done = "true";
      } catch (err) {
        if (err.name === "AbortError") {
          meta.textContent = "Stopped.";
          if (answer) messages.push({ role: "assistant", content: answer });
          else messages.pop();
        } else {
          messages.pop();
          bubble.append(h("div.callout.callout-error", icon("alert"), h("span", err.message)));
        }
        bubble.dataset.done = "error";
      } finally {
        out.querySelector(".cursor")?.remove();
        controller = null;
        sendBtn.hidden = false;
        stopBtn.hidden = true;
        input.focus();
      }
    },
  },
    h("label.visually-hidden", { for: "play-input" }, "Message"),
    input,
    h("div.chat-actions", sendBtn, stopBtn),
  );

  clear(host, h("section.card.playground", { "aria-labelledby": "play-h" },
    h("div.card-head",
      h("h2#play-h.card-title", "Playground"),
      h("div.push"),
      h("label.label.label-inline", { for: "play-model" }, "Model"), modelSel,
      clearBtn,
    ),
    h("details.system-prompt", h("summary", "System prompt"), h("label.visually-hidden", { for: "play-system" }, "System prompt"), system),
    log,
    form,
  ));
  return { abort: () => controller?.abort() };
}
