// Cloudflare Workers (the "workerd" export condition): Workers cannot
// compile WASM from bytes at runtime, so the module is imported and the
// bundler (wrangler) uploads it alongside the script.
import module from "./pvct_bg.wasm";
import * as wasm from "./pvct.js";
import { createClientClass, createDiffWords, PvctError } from "./client.mjs";

wasm.initSync({ module });
const engine = { Bundle: wasm.Bundle, diffWords: wasm.diffWords };

export const PromptClient = createClientClass(() => engine);
export const diffWords = createDiffWords(() => engine);
export const bucket = (seed, key) => wasm.bucket(String(seed), String(key));
export const ready = Promise.resolve();
export { PvctError };
