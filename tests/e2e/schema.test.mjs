// The Worker brings its own D1 schema: started on an empty database it applies the
// migrations on first use (once, however many requests arrive together), recorded in
// wrangler's own table; a database wrangler migrated is left alone, an older one brought
// forward, and a migration that cannot apply changes nothing and says why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { startGateway } from "./harness.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const MIGRATIONS = readdirSync(path.join(root, "migrations")).filter((f) => f.endsWith(".sql")).sort();
const migrationSql = (name) => readFileSync(path.join(root, "migrations", name), "utf8");
const tables = (gw) => gw.d1("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map((r) => r.name);

/** A database as `wrangler d1 migrations apply` leaves it after the first `n` migrations. */
const migratedUpTo = (n) => (sql) => {
  sql("CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)");
  for (const name of MIGRATIONS.slice(0, n)) {
    sql(migrationSql(name));
    sql(`INSERT INTO d1_migrations (name) VALUES ('${name}')`);
  }
};

test("on an empty database, the first requests (all at once) get the schema applied once, and everything works", async () => {
  const gw = await startGateway({ schema: "empty" });
  try {
    assert.ok(!tables(gw).includes("api_keys"), "the database starts empty");
    const at = (p, init) => gw.fetch(`${gw.base}${p}`, init).then(async (r) => ({ status: r.status, body: await r.text() }));
    const first = await Promise.all([
      ...Array.from({ length: 4 }, () => at("/api/keys", { headers: { authorization: `Bearer ${gw.adminKey}` } })),
      ...Array.from({ length: 4 }, () => at("/v1/chat/completions", { method: "POST", headers: { authorization: "Bearer cgw_not_a_key", "content-type": "application/json" }, body: "{}" })),
      at("/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: gw.adminKey }) }),
    ]);
    assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200, 401, 401, 401, 401, 200], JSON.stringify(first));
    const applied = gw.d1("SELECT name, COUNT(*) AS n FROM d1_migrations GROUP BY name ORDER BY name");
    assert.deepEqual(applied.map((r) => r.name), MIGRATIONS, "every migration, recorded in wrangler's table");
    assert.ok(applied.every((r) => r.n === 1), "each once");
    // The whole product works on the schema the Worker made.
    await gw.connectAccount();
    const key = await gw.createKey("first-run");
    const r = await gw.fetch(`${gw.base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "hello" }] }),
    });
    assert.equal(r.status, 200);
  } finally {
    await gw.finish();
  }
});

test("a database wrangler migrated is recognised and left alone", async () => {
  const gw = await startGateway();
  try {
    const before = gw.d1("SELECT id, name, applied_at FROM d1_migrations ORDER BY id");
    assert.equal(before.length, MIGRATIONS.length);
    assert.equal((await gw.admin("GET", "/api/keys")).status, 200);
    assert.deepEqual(gw.d1("SELECT id, name, applied_at FROM d1_migrations ORDER BY id"), before);
  } finally {
    await gw.finish();
  }
});

test("an older schema is brought forward, its data kept", async () => {
  const gw = await startGateway({
    schema: (sql) => {
      migratedUpTo(3)(sql);
      // A key made by an older deployment.
      sql("INSERT INTO api_keys (id, name, key_hash, prefix, created_at) VALUES ('old-key', 'from before', '" + "a".repeat(64) + "', 'cgw_aaaaaaaa', '2026-06-01T00:00:00Z')");
    },
  });
  try {
    const keys = await gw.admin("GET", "/api/keys");
    assert.equal(keys.status, 200);
    assert.deepEqual(keys.body.map((k) => k.name), ["from before"]);
    assert.deepEqual(gw.d1("SELECT name FROM d1_migrations ORDER BY id").map((r) => r.name), MIGRATIONS);
    assert.ok(tables(gw).includes("search_usage"), "the newer tables exist");
  } finally {
    await gw.finish();
  }
});

test("a migration that cannot apply changes nothing and answers 503 naming it, in each caller's format", async () => {
  const last = MIGRATIONS.length - 1;
  const gw = await startGateway({
    schema: (sql) => {
      migratedUpTo(last)(sql);
      // Something in the way of the last migration, so that one of its statements fails.
      const text = migrationSql(MIGRATIONS[last]);
      const created = /CREATE TABLE (\w+)/.exec(text);
      const added = /ALTER TABLE (\w+) ADD COLUMN (\w+)/.exec(text);
      if (created) sql(`CREATE TABLE ${created[1]} (blocking INTEGER)`);
      else if (added) sql(`ALTER TABLE ${added[1]} ADD COLUMN ${added[2]} INTEGER`);
      else throw new Error(`no way to block ${MIGRATIONS[last]}`);
    },
  });
  try {
    const before = tables(gw);
    const admin = await gw.admin("GET", "/api/keys");
    assert.equal(admin.status, 503);
    assert.match(admin.body.error.message, new RegExp(`migration ${MIGRATIONS[last].replace(".", "\\.")} failed`));
    const chat = await gw.fetch(`${gw.base}/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer cgw_x", "content-type": "application/json" }, body: "{}" });
    assert.equal(chat.status, 503);
    assert.match((await chat.json()).error.message, /could not be brought up to date/);
    const messages = await gw.fetch(`${gw.base}/v1/messages`, { method: "POST", headers: { "x-api-key": "cgw_x", "content-type": "application/json" }, body: "{}" });
    assert.equal((await messages.json()).type, "error");
    assert.deepEqual(tables(gw), before, "nothing of the failed migration was applied");
    assert.equal(gw.d1("SELECT COUNT(*) AS n FROM d1_migrations")[0].n, last);
  } finally {
    await gw.finish();
  }
});
