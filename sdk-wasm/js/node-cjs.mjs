// Node ≥ 18, CommonJS: bundled by esbuild into node.cjs; __dirname is the
// folder of node.cjs there.
/* global __dirname */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as wasm from "./pvct.js";
import { createClientClass, createDiffWords, PvctError } from "./client.mjs";

wasm.initSync({ module: readFileSync(join(__dirname, "pvct_bg.wasm")) });
const engine = { Bundle: wasm.Bundle, diffWords: wasm.diffWords, readTextFile: (path) => readFile(path, "utf8") };

export const PromptClient = createClientClass(() => engine);
export const diffWords = createDiffWords(() => engine);
export const bucket = (seed, key) => wasm.bucket(String(seed), String(key));
export const ready = Promise.resolve();
export { PvctError };
