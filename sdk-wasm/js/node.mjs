// Node ≥ 18, ESM: the WASM is read from beside this file and compiled once;
// the diff module only when diffWords is first called.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
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

wasm.initSync({ module: readFileSync(new URL("./pvct_bg.wasm", import.meta.url)) });
const engine = { Bundle: wasm.Bundle, valueText: wasm.valueText, readTextFile: (path) => readFile(path, "utf8") };
// The live channel's long poll and WebSocket never keep the process alive.
export const PromptClient = createClientClass(() => engine, nodeLive({ http, https, Readable, diagnosticsChannel }));
export const diffWords = lazyDiffWords(diffWasm, () => readFileSync(new URL("./pvct_diff_bg.wasm", import.meta.url)));
export { bucket } from "./plan.mjs";
export const ready = Promise.resolve();
export { PvctError };
