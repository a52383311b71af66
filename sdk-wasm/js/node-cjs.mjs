// Node ≥ 18, CommonJS: bundled by esbuild into node.cjs; __dirname is the
// folder of node.cjs there. The diff module compiles when diffWords is first called.
/* global __dirname */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as wasm from "./pvct.js";
import * as diffWasm from "./pvct_diff.js";
import { webcrypto } from "node:crypto";
import diagnosticsChannel from "node:diagnostics_channel";
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { createClientClass, lazyDiffWords, nodeLive, PvctError, useCrypto } from "./client.mjs";

// Node 18 has no global Web Crypto.
useCrypto(webcrypto);

wasm.initSync({ module: readFileSync(join(__dirname, "pvct_bg.wasm")) });
const engine = { Bundle: wasm.Bundle, valueText: wasm.valueText, readTextFile: (path) => readFile(path, "utf8") };
// The live channel's long poll and WebSocket never keep the process alive.
export const PromptClient = createClientClass(() => engine, nodeLive({ http, https, Readable, diagnosticsChannel }));
export const diffWords = lazyDiffWords(diffWasm, () => readFileSync(join(__dirname, "pvct_diff_bg.wasm")));
export { bucket } from "./plan.mjs";
export const ready = Promise.resolve();
export { PvctError };
