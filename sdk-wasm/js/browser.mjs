// Browsers (and bundlers that target them): the WASM modules are fetched
// beside this file and compiled asynchronously; PromptClient waits for the
// prompts module, and `ready` resolves once diffWords can be called.
import init, * as wasm from "./pvct.js";
import initDiff, * as diffWasm from "./pvct_diff.js";
import { createClientClass, createDiffWords, PvctError } from "./client.mjs";

let engine;
const prompts = init({ module_or_path: new URL("./pvct_bg.wasm", import.meta.url) }).then(() => {
  engine = { Bundle: wasm.Bundle, valueText: wasm.valueText };
  return engine;
});
let diffLoaded = false;
export const ready = Promise.all([
  prompts,
  initDiff({ module_or_path: new URL("./pvct_diff_bg.wasm", import.meta.url) }).then(() => (diffLoaded = true)),
]).then(() => undefined);

const need = (loaded, value) => {
  if (!loaded) throw new PvctError("not_loaded", "await ready before calling diffWords");
  return value;
};

export const PromptClient = createClientClass(() => prompts);
export const diffWords = createDiffWords(() => need(diffLoaded, diffWasm));
export { bucket } from "./plan.mjs";
export { PvctError };
