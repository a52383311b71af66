// Helpers for the Langfuse-compatibility suite: keys with their Langfuse
// public key, and the native view (slug, what an environment serves) of a
// prompt the official clients wrote through /api/public/.
import assert from "node:assert/strict";

/**
 * A new API key of `role` in the workspace of `api` (an admin client), with the
 * Langfuse credentials the official clients need: the key is the secret key,
 * `public_key` (pk-pvct-...) the public key.
 */
export async function langfuseKey(w, api, role, name = `${role}-${Math.random().toString(16).slice(2, 8)}`) {
  const res = await api.post("/v1/keys", { name, role });
  assert.equal(res.status, 201, `POST /v1/keys: ${res.status} ${JSON.stringify(res.body)}`);
  const publicKey = res.body.public_key;
  if (typeof publicKey !== "string" || !/^pk-pvct-./.test(publicKey)) {
    throw new Error(
      `POST /v1/keys answered no "public_key" (pk-pvct-<key id>) for the Langfuse-compatible API; ` +
        `this build does not have it. Answer: ${JSON.stringify({ ...res.body, key: "<redacted>" })}`,
    );
  }
  return { secretKey: res.body.key, publicKey, api: w.client(res.body.key) };
}

/** The native prompt (slug, name, kind) whose name is the Langfuse name, or null. */
export async function nativePrompt(api, name) {
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const res = await api.get(`/v1/prompts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(res.status, 200, `GET /v1/prompts: ${JSON.stringify(res.body)}`);
    const hit = res.body.items.find((p) => p.name === name);
    if (hit) return hit;
    if (!res.body.next_cursor) return null;
    cursor = res.body.next_cursor;
  }
  throw new Error("GET /v1/prompts does not end");
}

export async function slugOf(api, name) {
  const p = await nativePrompt(api, name);
  assert.ok(p, `GET /v1/prompts has no prompt named ${JSON.stringify(name)}`);
  return p.slug;
}

/** What `environment` serves natively for the prompt named `name`: { version, content, ... } or the error body. */
export async function served(api, name, environment = "production") {
  const slug = await slugOf(api, name);
  const res = await api.get(`/v1/resolve/${slug}?environment=${environment}`, { "cache-control": "no-cache" });
  return { status: res.status, ...res.body };
}

/** Sorted copy, for label sets whose order the contract leaves open. */
export const sorted = (xs) => [...(xs ?? [])].sort();
