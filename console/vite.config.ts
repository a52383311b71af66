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
        // Monaco is big and only the editor needs it: its own chunk, loaded
        // by the lazy Editor import.
        manualChunks(id) {
          if (id.includes("node_modules/monaco-editor")) return "monaco";
          if (id.includes("node_modules/uplot")) return "charts";
        },
      },
    },
  },
  worker: { format: "es" },
  server: {
    // `npx vite console` while `make dev` runs: the API is proxied to it.
    proxy: { "/v1": "http://127.0.0.1:8787", "/healthz": "http://127.0.0.1:8787" },
  },
});
