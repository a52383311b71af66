// Packs the npm package `pvct` (sdk-wasm, built by `make build-sdk`) with
// `npm pack` and installs the tarball into a scratch project, so tests use
// it exactly as a user would: through its package.json exports.
import { execFileSync } from "node:child_process";
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
