// The web console: built into console/dist, which the worker serves as
// Workers static assets (wrangler.toml [assets]) at /, same origin as the API.
// Everything comes from npm: Monaco and the npm package's WASM diff module are
// bundled, nothing is fetched from a CDN.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

// Built by scripts/build-console.sh from the npm package's crate.
const diffModule = fileURLToPath(new URL("../target/console-wasm/pvct_diff.js", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  resolve: {
    // The WASM diff module (pvct-sdk with the `versions` feature), so the
    // console diffs with the same core as GET /v1/prompts/{slug}/diff.
    alias: { "pvct-diff": diffModule },
  },
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      output: {
        // Monaco is reachable only from the lazily imported editor, so Rollup
        // keeps it out of the entry by itself; the chunk holding it is named
        // monaco-* so the size budget can tell it apart. (A manualChunks
        // rule for it would also pull Vite's preload helper, which the
        // entry needs, into that chunk and load Monaco on every page.)
        chunkFileNames: (chunk) =>
          chunk.moduleIds.some((id) => id.includes("node_modules/monaco-editor"))
            ? "assets/monaco-[hash].js"
            : "assets/[name]-[hash].js",
      },
    },
  },
  worker: { format: "es" },
  server: {
    // `npx vite console` while `make dev` runs: the API is proxied to it.
    proxy: { "/v1": "http://127.0.0.1:8787", "/healthz": "http://127.0.0.1:8787" },
  },
});
