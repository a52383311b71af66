// Cloudflare Workers (the "workerd" export condition): Workers cannot
// compile WASM from bytes at runtime, so the modules are imported and the
// bundler (wrangler) uploads them alongside the script.
import module from "./pvct_bg.wasm";
import diffModule from "./pvct_diff_bg.wasm";
import * as wasm from "./pvct.js";
import * as diffWasm from "./pvct_diff.js";
import { createClientClass, lazyDiffWords, PvctError } from "./client.mjs";

wasm.initSync({ module });
const engine = { Bundle: wasm.Bundle, valueText: wasm.valueText };
// Live updates are off unless asked for (`live: true`): a Worker's
// connections belong to the request that opened them, so a channel opened
// by one request hears nothing once that request is done, and a client made
// per request would open one per request. Where the context lives on (a
// Durable Object, a long-running request), `live: true` works as elsewhere.
export const PromptClient = createClientClass(() => engine, { defaults: { live: false } });
export const diffWords = lazyDiffWords(diffWasm, () => diffModule);
export { bucket } from "./plan.mjs";
export const ready = Promise.resolve();
export { PvctError };
