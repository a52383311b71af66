// The control of the hot-path benchmark: the smallest Worker that does what
// the hot path does at its core, one KV read per request, on the same local
// runtime (Miniflare/workerd, same compatibility date and KV). Errors the
// load clients report against this worker as well as against ours belong
// to the local runtime, not to PromptVault.
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname !== "/kv") return Response.json({ ok: true });
    return Response.json({ value: await env.KV.get("control") });
  },
};
