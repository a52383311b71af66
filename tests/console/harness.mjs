// The console's browser tests run against the worker exactly as `make dev`
// serves it: scripts/dev.sh on a free port with state of its own, the
// console from Workers static assets at /, and Debian's Chromium driven by
// playwright-core. Each test file starts one with `startConsole()`.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { chromium } from "playwright-core";
import { newKey, root } from "../e2e/harness.mjs";

export { root };

/** Where the tests save screenshots for review (target/ is git-ignored). */
export const SCREENSHOTS = path.join(root, "target/console-screenshots");

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * `vars`: more of the worker's vars (e.g. ACCESS_TEAM_DOMAIN and ACCESS_AUD
 * from tests/e2e/access-stub.mjs, for sign-in through Cloudflare Access),
 * handed to scripts/dev.sh as PVCT_DEV_VARS lines `KEY=value`.
 */
export async function startConsole({ vars = {} } = {}) {
  const adminKey = newKey();
  const state = mkdtempSync(path.join(tmpdir(), "pvct-console-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dev = spawn(path.join(root, "scripts/dev.sh"), [], {
    cwd: root,
    detached: true, // its own process group, so stopping it takes workerd along
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      PVCT_STATE: state,
      PVCT_ADMIN_KEY: adminKey,
      PVCT_NO_BUILD: "1",
      ...(Object.keys(vars).length ? { PVCT_DEV_VARS: Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") } : {}),
    },
  });
  let log = "";
  dev.stdout.on("data", (d) => (log += d));
  dev.stderr.on("data", (d) => (log += d));
  const stopDev = async () => {
    if (dev.pid && dev.exitCode === null) {
      try {
        process.kill(-dev.pid, "SIGTERM");
      } catch {}
      await new Promise((r) => (dev.exitCode !== null ? r() : dev.once("exit", r)));
    }
    rmSync(state, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {}
      if (i > 240 || dev.exitCode !== null) throw new Error(`make dev did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    await stopDev();
    throw e;
  }
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

  /** A page signed in with `key`, and the page errors it collects. */
  async function signedIn(key = adminKey, viewport = { width: 1366, height: 900 }) {
    const page = await browser.newPage({ viewport });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url + "/");
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Prompts" }).waitFor();
    return { page, errors };
  }

  /**
   * A page in a browser context of its own, opened at `at` without the key
   * prompt: `cookies` are set on the console's origin first (e.g.
   * CF_Authorization, the cookie Cloudflare Access keeps), `permissions`
   * granted (e.g. "clipboard-read"). Returns the page, its context (close
   * that when done) and the page errors it collects.
   */
  async function openPage({ cookies = [], permissions = [], at = "/", viewport = { width: 1366, height: 900 } } = {}) {
    const context = await browser.newContext({ viewport, permissions });
    if (cookies.length) await context.addCookies(cookies.map((c) => ({ url, ...c })));
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url + at);
    return { page, context, errors };
  }

  /** Saves a full-page screenshot as target/console-screenshots/<name>.png. */
  async function screenshot(page, name) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  return {
    url,
    adminKey,
    browser,
    signedIn,
    openPage,
    screenshot,
    async stop() {
      await browser.close();
      await stopDev();
    },
  };
}
