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
export const PromptClient = createClientClass(() => engine);
export const diffWords = lazyDiffWords(diffWasm, () => diffModule);
export { bucket } from "./plan.mjs";
export const ready = Promise.resolve();
export { PvctError };
