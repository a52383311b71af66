// Packs the npm package `pvct` (sdk-wasm, built by `make build-sdk`) with
// `npm pack` and installs the tarball into a scratch project, so tests use
// it exactly as a user would: through its package.json exports.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "../e2e/harness.mjs";

export function installPackage() {
  const dir = mkdtempSync(path.join(tmpdir(), "pvct-sdk-"));
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: path.join(root, "sdk-wasm"), encoding: "utf8" }),
  )[0];
  const project = path.join(dir, "app");
  execFileSync("mkdir", ["-p", project]);
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", path.join(dir, packed.filename)], {
    cwd: project,
    stdio: "pipe",
  });
  // A module inside the project, so "pvct" resolves through node_modules and the exports map.
  writeFileSync(path.join(project, "esm.mjs"), 'export * from "pvct";\n');
  return {
    dir,
    project,
    packed,
    installed: readdirSync(path.join(project, "node_modules")),
    esm: () => import(pathToFileURL(path.join(project, "esm.mjs")).href),
    cjs: () => createRequire(path.join(project, "index.cjs"))("pvct"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs the installed `pvct` bin of `pkg` against `url` with `key`, without blocking the event loop (stub servers in the
 * same process keep answering): { code, out, err, json }. */
export function runPvct(pkg, url, key, args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(pkg.project, "node_modules/.bin/pvct"), args, {
      cwd: pkg.project,
      env: { ...process.env, PVCT_URL: url, PVCT_API_KEY: key, NO_COLOR: "1", ...extraEnv },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      let json = null;
      try {
        json = JSON.parse(out);
      } catch {
        // not --json
      }
      resolve({ code, out, err, json });
    });
  });
}
