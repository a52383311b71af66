#!/usr/bin/env bash
# Builds the web console (console/, Vite + React + TypeScript) into
# console/dist, which the worker serves as static assets (wrangler.toml
# [assets]). Its diffs come from the npm package's crate (pvct-sdk) built
# with the `versions` feature: the same core diff the API runs, plus
# diffVersions, which the npm package's own diff module leaves out.
# Type-checks first, then prints the sizes the console's budget is about.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$root/target/console-wasm"
cargo build --profile sdk-diff --target wasm32-unknown-unknown -p pvct-sdk --no-default-features --features versions 2>&1 \
  | grep -E '^(error|warning)' || true
wasm-bindgen target/wasm32-unknown-unknown/sdk-diff/pvct_sdk.wasm --target web --out-dir "$out" --out-name pvct_diff --no-typescript
node_modules/binaryen/bin/wasm-opt -O3 --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-multivalue --enable-reference-types \
  "$out/pvct_diff_bg.wasm" -o "$out/pvct_diff_bg.wasm.opt" && mv "$out/pvct_diff_bg.wasm.opt" "$out/pvct_diff_bg.wasm"
npx --no-install tsc -p console/tsconfig.json
npx --no-install vite build console --logLevel error
# The console's own JavaScript (every chunk but Monaco's) and Monaco's, gzipped.
wasm=$(gzip -9c console/dist/assets/pvct_diff_bg-*.wasm | wc -c)
own=0; monaco=0
for f in console/dist/assets/*.js; do
  n=$(gzip -9c "$f" | wc -c)
  case "$(basename "$f")" in monaco-*|editor.worker-*) monaco=$((monaco + n)) ;; *) own=$((own + n)) ;; esac
done
mkdir -p target
printf '{"own_js_gz_bytes": %d, "monaco_js_gz_bytes": %d, "diff_wasm_gz_bytes": %d}\n' "$own" "$monaco" "$wasm" > target/console-size.json
echo "console: own JS $((own / 1024)) KiB gzipped (budget 200), Monaco $((monaco / 1024)) KiB gzipped (editor only), diff WASM $((wasm / 1024)) KiB gzipped"
