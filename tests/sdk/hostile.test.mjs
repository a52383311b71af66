// The npm package `pvct` (installed from its tarball) against an outside
// world that misbehaves: stub HTTP servers on 127.0.0.1 stand for a broken
// or hostile network path, or an overloaded worker. Answers that never end
// (a gzip bomb, an endless body) are cut at maxResponseBytes as they
// stream in; a 429 or 503 with Retry-After holds every request back until
// the time it gives, while the cached bundle keeps serving and telemetry
// waits in the buffer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createGzip } from "node:zlib";
import { installPackage } from "./package.mjs";

let pkg;
let pvct;

before(async () => {
  pkg = installPackage();
  pvct = await pkg.esm();
});
after(() => pkg?.remove());

const MB = 1024 * 1024;

/** A prompt document as GET /v1/bundle serves it. */
function promptDoc(slug, text, version = 1) {
  const uses = [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();
  return {
    slug, name: slug, kind: "text", environment: "production", version, version_id: `${slug}-v${version}`,
    content: { text }, model_params: {}, variables: { uses: [...new Set(uses)], declares: [] },
    content_hash: `h${version}`, deployment_id: `d${version}`, deployed_at: "2026-01-01T00:00:00.000Z",
  };
}
const bundleOf = (...docs) => ({ environment: "production", prompts: Object.fromEntries(docs.map((d) => [d.slug, d])) });

/**
 * A stub server: `handler(req, res, record)` answers each request; every
 * request is recorded ({ method, path, at: when it arrived, body }).
 */
async function stub(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const record = { method: req.method, path: req.url.split("?")[0], at: Date.now(), body };
      requests.push(record);
      handler(req, res, record);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    count: (path) => requests.filter((r) => r.path === path).length,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

/** Polls `cond` every 20 ms; fails after `ms` (a hang guard, not a measurement). */
async function until(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `bytes` of zeros gzipped (level 9) chunk by chunk, so the test itself never holds them. */
function gzippedZeros(bytes) {
  return new Promise((resolve, reject) => {
    const gz = createGzip({ level: 9 });
    const out = [];
    gz.on("data", (c) => out.push(c));
    gz.on("end", () => resolve(Buffer.concat(out)));
    gz.on("error", reject);
    const chunk = Buffer.alloc(MB);
    let left = bytes / MB;
    const write = () => {
      while (left > 0) {
        left--;
        if (!gz.write(chunk)) return gz.once("drain", write);
      }
      gz.end();
    };
    write();
  });
}

/** The highest RSS seen while `fn` runs, sampled every 5 ms, above the RSS before it. */
async function rssGrowth(fn) {
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    await fn();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage().rss) - base;
}

test("a gzip bomb (200 MB of zeros in ~200 KB) is cut at maxResponseBytes as it inflates: response_too_large, memory stays bounded, the fallback serves", async () => {
  const bomb = await gzippedZeros(200 * MB);
  assert.ok(bomb.length < 1 * MB, `the bomb is small on the wire (${bomb.length} bytes)`);
  const server = await stub((req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": bomb.length, etag: '"bomb"' });
    res.end(bomb);
  });
  try {
    // The default cap (32 MiB).
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, timeoutMs: 60_000 });
    let error;
    const growth = await rssGrowth(async () => {
      error = await client.get("greet").then(() => null, (e) => e);
    });
    assert.ok(error instanceof pvct.PvctError, `a PvctError (${error})`);
    assert.equal(error.code, "response_too_large");
    assert.equal(error.details.limit, 32 * MB);
    assert.ok(growth < 150 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB while the bomb was read`);
    await client.close();

    // A smaller cap; with a fallback the cold start serves it and reports the refusal.
    const errors = [];
    const fallback = bundleOf(promptDoc("greet", "Hello {{name}}"));
    const guarded = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, maxResponseBytes: 64 * 1024, fallback, onError: (e) => errors.push(e) });
    const p = await guarded.get("greet", { variables: { name: "Ada" } });
    assert.equal(p.text, "Hello Ada");
    assert.equal(p.source, "fallback");
    assert.deepEqual(errors.map((e) => [e.code, e.details.limit]), [["response_too_large", 64 * 1024]]);
    await guarded.close();
  } finally {
    await server.close();
  }
});

test("an endless plain body is cut: the client stops reading and the server is left with most of it unsent", async () => {
  const GB = 1024 * MB;
  let written = 0;
  let finished = false;
  const server = await stub((req, res) => {
    // Chunked (no content-length), as fast as the client reads, up to 1 GB.
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (written < GB && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) return res.once("drain", pump);
      }
      if (!res.destroyed) res.end(() => (finished = true));
    };
    res.on("close", () => res.destroy());
    pump();
  });
  try {
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, maxResponseBytes: 4 * MB, timeoutMs: 60_000 });
    let error;
    const growth = await rssGrowth(async () => {
      error = await client.get("greet").then(() => null, (e) => e);
    });
    assert.equal(error?.code, "response_too_large", String(error));
    assert.equal(error.details.limit, 4 * MB);
    await until(() => server.requests.length === 1 && written > 0, 10_000, "the request");
    // The server keeps writing only until the abandoned connection closes.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(finished, false, "the body was not read to its end");
    assert.ok(written < 256 * MB, `the server got to write ${(written / MB).toFixed(0)} MB of 1,024`);
    assert.ok(growth < 150 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB`);
    await client.close();
  } finally {
    await server.close();
  }
});

test("a declared content-length over the cap is refused before the body is read; answers under the cap are served", async () => {
  const big = JSON.stringify(bundleOf(promptDoc("greet", `Hello {{name}}${" ".repeat(2 * MB)}`)));
  const small = JSON.stringify(bundleOf(promptDoc("greet", "Hello {{name}}")));
  const server = await stub((req, res) => {
    const body = req.headers["x-want"] === "small" ? small : big;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), etag: '"b"' });
    res.end(body);
  });
  try {
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, maxResponseBytes: 1 * MB });
    await assert.rejects(client.get("greet"), (e) => e.code === "response_too_large" && e.details.status === 200);
    await client.close();
    const ok = new pvct.PromptClient({
      apiKey: "pvct_x", baseUrl: server.url, maxResponseBytes: 1 * MB,
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, "x-want": "small" } }),
    });
    assert.equal((await ok.get("greet", { variables: { name: "Ada" } })).text, "Hello Ada");
    await ok.close();
  } finally {
    await server.close();
  }
});

test("telemetry answered 429 with Retry-After is kept, not resent before the time given, then delivered whole", async () => {
  const RETRY_AFTER_S = 2;
  let limitedAt = null;
  const server = await stub((req, res, { at, body }) => {
    if (req.url.startsWith("/v1/executions") && limitedAt === null) {
      limitedAt = at;
      return json(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": String(RETRY_AFTER_S) });
    }
    json(res, 202, { accepted: JSON.parse(body).executions?.length ?? 1, rejected: [] });
  });
  try {
    const errors = [];
    // A long interval: only flush() and the Retry-After timer send.
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, flushIntervalMs: 600_000, onError: (e) => errors.push(e) });
    const log = (i) => client.log({ id: `exec-${i}`, promptVersionId: "greet-v1", latencyMs: 10 + i });
    for (let i = 0; i < 3; i++) log(i);
    await client.flush();
    assert.equal(server.count("/v1/executions"), 1);
    assert.deepEqual(errors.map((e) => [e.code, e.details.status, e.details.retryAfterMs]), [["rate_limited", 429, RETRY_AFTER_S * 1000]]);
    let stats = client.stats();
    assert.equal(stats.rateLimited, 1);
    assert.equal(stats.buffered, 3, "the batch is kept");
    assert.equal(stats.sent + stats.dropped + stats.failedBatches, 0);

    // The app keeps logging and flushing; nothing goes out meanwhile.
    for (let i = 3; i < 23; i++) {
      log(i);
      await client.flush();
    }
    const early = server.requests.filter((r) => r.path === "/v1/executions" && r.at < limitedAt + RETRY_AFTER_S * 1000);
    assert.equal(early.length, 1, "only the request that was answered 429 came before Retry-After ran out");
    assert.equal(client.stats().buffered, 23);

    // Once it runs out, the held records go without another flush call.
    await until(() => client.stats().sent + client.stats().dropped === 23, 20_000, "the held batch to be sent");
    const later = server.requests.filter((r) => r.path === "/v1/executions").slice(1);
    assert.ok(later.length >= 1);
    assert.ok(later.every((r) => r.at >= limitedAt + RETRY_AFTER_S * 1000), "nothing was resent before the Retry-After");
    const delivered = later.flatMap((r) => JSON.parse(r.body).executions.map((e) => e.id));
    assert.deepEqual(new Set(delivered), new Set(Array.from({ length: 23 }, (_, i) => `exec-${i}`)), "every record arrives, the held ones included");
    stats = client.stats();
    assert.equal(stats.sent, 23);
    assert.equal(stats.dropped, 0);
    await client.close();
  } finally {
    await server.close();
  }
});

test("a bundle fetch answered 429 with Retry-After: the cached bundle keeps serving and no fetch is sent before the time given", async () => {
  const RETRY_AFTER_S = 1;
  let phase = "ok";
  let limitedAt = null;
  const server = await stub((req, res, { at }) => {
    if (phase === "limited") {
      limitedAt ??= at;
      return json(res, 429, { error: { code: "rate_limited", message: "slow down" } }, { "retry-after": String(RETRY_AFTER_S) });
    }
    const text = phase === "ok" ? "Hello {{name}}" : "Welcome {{name}}";
    json(res, 200, bundleOf(promptDoc("greet", text, phase === "ok" ? 1 : 2)), { etag: `"${phase}"` });
  });
  try {
    const errors = [];
    // live: false: every request this stub sees is a bundle fetch (no long poll), as the test counts them.
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, cacheTtlMs: 30, live: false, onError: (e) => errors.push(e) });
    assert.equal((await client.get("greet", { variables: { name: "Ada" } })).text, "Hello Ada");
    phase = "limited";
    // Stale after 30 ms: the next calls revalidate once, get 429, and keep serving.
    await until(() => {
      client.getSync("greet", { variables: { name: "Ada" } });
      return limitedAt !== null && errors.length > 0;
    }, 10_000, "the revalidation");
    assert.deepEqual(errors.map((e) => [e.code, e.details.status, e.details.retryAfterMs]), [["rate_limited", 429, RETRY_AFTER_S * 1000]]);
    for (let i = 0; i < 50; i++) {
      const p = await client.get("greet", { variables: { name: "Bo" } });
      assert.equal(p.text, "Hello Bo", "the cached bundle serves");
      await new Promise((r) => setImmediate(r));
    }
    // An explicit refresh is refused without a request.
    await assert.rejects(client.refresh(), (e) => e.code === "rate_limited" && e.details.retryAfterMs > 0);
    const early = server.requests.filter((r) => r.at >= limitedAt && r.at < limitedAt + RETRY_AFTER_S * 1000);
    assert.equal(early.length, 1, "only the request answered 429 came before Retry-After ran out");
    assert.equal(client.stats().rateLimited, 1);

    // After it, the client fetches again and picks up the change.
    phase = "changed";
    await until(() => client.getSync("greet", { variables: { name: "Cy" } }).text === "Welcome Cy", 20_000, "the next bundle");
    const after = server.requests.filter((r) => r.at > limitedAt);
    assert.ok(after.every((r) => r.at >= limitedAt + RETRY_AFTER_S * 1000), "no fetch before the Retry-After ran out");
    await client.close();

    // A cold start answered 429 rejects with the code, and later calls send nothing until the time given.
    phase = "limited";
    limitedAt = null;
    const before = server.requests.length;
    const cold = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url });
    await assert.rejects(cold.get("greet"), (e) => e instanceof pvct.PvctError && e.code === "rate_limited" && e.details.retryAfterMs === 1000);
    for (let i = 0; i < 10; i++) await assert.rejects(cold.get("greet"), (e) => e.code === "rate_limited");
    const coldEarly = server.requests.slice(before).filter((r) => r.at < limitedAt + RETRY_AFTER_S * 1000);
    assert.equal(coldEarly.length, 1);
    await cold.close();
  } finally {
    await server.close();
  }
});

test("a 503 with Retry-After holds telemetry back the same way; a 503 without it is retried as a failure, then counted as dropped", async () => {
  let withRetryAfter = true;
  const server = await stub((req, res, { body }) => {
    const executions = JSON.parse(body).executions;
    if (executions[0].id === "plain") return json(res, 503, { error: { code: "unavailable", message: "busy" } });
    if (withRetryAfter) {
      withRetryAfter = false;
      return json(res, 503, { error: { code: "unavailable", message: "busy" } }, { "retry-after": "1" });
    }
    json(res, 202, { accepted: executions.length, rejected: [] });
  });
  try {
    const errors = [];
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, flushIntervalMs: 600_000, maxRetries: 2, onError: (e) => errors.push(e) });
    client.log({ id: "a", promptVersionId: "v", latencyMs: 1 });
    await client.flush();
    await client.flush();
    assert.equal(server.count("/v1/executions"), 1);
    assert.equal(client.stats().buffered, 1);
    assert.deepEqual(errors.map((e) => [e.code, e.details.retryAfterMs]), [["unavailable", 1000]]);
    await until(() => client.stats().sent === 1, 20_000, "the held record");
    assert.ok(server.requests[1].at >= server.requests[0].at + 1000);

    // Without Retry-After: the first try and maxRetries more, then dropped and counted.
    client.log({ id: "plain", promptVersionId: "v", latencyMs: 1 });
    await client.flush();
    assert.equal(server.requests.filter((r) => JSON.parse(r.body).executions[0].id === "plain").length, 3);
    const stats = client.stats();
    assert.equal(stats.failedBatches, 1);
    assert.equal(stats.dropped, 1);
    assert.equal(stats.rateLimited, 1);
    await client.close();
  } finally {
    await server.close();
  }
});

test("bodies that are not bundles, or hold a broken prompt: the core's error codes, and the other prompts still serve", async () => {
  let answer = "not json {";
  const server = await stub((req, res) => {
    res.writeHead(200, { "content-type": "application/json", etag: `"${answer.length}"` });
    res.end(answer);
  });
  try {
    const cold = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url });
    await assert.rejects(cold.get("greet"), (e) => e instanceof pvct.PvctError && e.code === "malformed_json");
    answer = JSON.stringify({ environment: "production", prompts: [] });
    await assert.rejects(cold.refresh(), (e) => e.code === "malformed_json");
    await cold.close();

    // One prompt's document is broken (an unclosed variable): only that prompt refuses.
    const broken = promptDoc("broken", "Hi {{name");
    answer = JSON.stringify(bundleOf(promptDoc("greet", "Hello {{name}}"), broken, promptDoc("bye", "Bye {{name}}")));
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url });
    assert.equal((await client.get("greet", { variables: { name: "Ada" } })).text, "Hello Ada");
    assert.equal((await client.get("bye", { variables: { name: "Ada" } })).text, "Bye Ada");
    await assert.rejects(client.get("broken", { variables: { name: "Ada" } }), (e) => e instanceof pvct.PvctError && e.code === "template_syntax");
    await assert.rejects(client.get("absent"), (e) => e.code === "not_deployed" && /absent/.test(e.message));
    await assert.rejects(client.get("__proto__"), (e) => e.code === "not_deployed");
    assert.equal(client.route("greet").versionId, "greet-v1");
    await client.close();
  } finally {
    await server.close();
  }
});

test("a refreshed bundle serves every change: changed prompts are compiled again, unchanged ones carried over", async () => {
  let docs = [promptDoc("greet", "Hello {{name}}"), promptDoc("bye", "Bye {{name}}")];
  let etag = 1;
  const server = await stub((req, res) => json(res, 200, bundleOf(...docs), { etag: `"${etag}"` }));
  try {
    const client = new pvct.PromptClient({ apiKey: "pvct_x", baseUrl: server.url, cacheTtlMs: 3_600_000 });
    assert.equal((await client.get("greet", { variables: { name: "Ada" } })).text, "Hello Ada");
    assert.equal((await client.get("bye", { variables: { name: "Ada" } })).text, "Bye Ada");
    const greet = client.route("greet");

    docs = [docs[0], promptDoc("bye", "Farewell {{name}}", 2)];
    etag++;
    await client.refresh();
    assert.equal((await client.get("bye", { variables: { name: "Ada" } })).text, "Farewell Ada");
    assert.equal(client.route("bye").version, 2);
    assert.equal((await client.get("greet", { variables: { name: "Ada" } })).text, "Hello Ada");
    assert.equal(client.route("greet"), greet, "the unchanged prompt's compiled version is the same object");

    // Down to one prompt, then that prompt changes.
    docs = [promptDoc("greet", "Hi {{name}}", 3)];
    etag++;
    await client.refresh();
    assert.equal((await client.get("greet", { variables: { name: "Bo" } })).text, "Hi Bo");
    await assert.rejects(client.get("bye"), (e) => e.code === "not_deployed");
    docs = [promptDoc("greet", "Hey {{name}}", 4)];
    etag++;
    await client.refresh();
    assert.equal((await client.get("greet", { variables: { name: "Cy" } })).text, "Hey Cy");
    await client.close();
  } finally {
    await server.close();
  }
});
