// Browsers (and bundlers that target them): the WASM is fetched beside this
// file and compiled asynchronously; PromptClient waits for it, and `ready`
// resolves once diffWords and bucket can be called.
import init, * as wasm from "./pvct.js";
import { createClientClass, createDiffWords, PvctError } from "./client.mjs";

let engine;
export const ready = init({ module_or_path: new URL("./pvct_bg.wasm", import.meta.url) }).then(() => {
  engine = { Bundle: wasm.Bundle, diffWords: wasm.diffWords };
  return undefined;
});

const loaded = () => {
  if (!engine) throw new PvctError("not_loaded", "await ready before calling diffWords or bucket");
  return engine;
};

export const PromptClient = createClientClass(() => ready.then(() => engine));
export const diffWords = createDiffWords(loaded);
export const bucket = (seed, key) => (loaded(), wasm.bucket(String(seed), String(key)));
export { PvctError };
