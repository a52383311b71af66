// Node ≥ 18, ESM: the WASM is read from beside this file and compiled once.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as wasm from "./pvct.js";
import { createClientClass, createDiffWords, PvctError } from "./client.mjs";

wasm.initSync({ module: readFileSync(new URL("./pvct_bg.wasm", import.meta.url)) });
const engine = { Bundle: wasm.Bundle, diffWords: wasm.diffWords, readTextFile: (path) => readFile(path, "utf8") };

export const PromptClient = createClientClass(() => engine);
export const diffWords = createDiffWords(() => engine);
export const bucket = (seed, key) => wasm.bucket(String(seed), String(key));
export const ready = Promise.resolve();
export { PvctError };
