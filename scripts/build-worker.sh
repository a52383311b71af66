#!/usr/bin/env bash
# Builds the worker with worker-build, pointing it at local copies of
# wasm-bindgen, wasm-opt (binaryen 132 from npm) and esbuild so it downloads
# nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$root/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/@esbuild/linux-x64/bin/esbuild"
cd "$root/worker"
worker-build --release 2>&1 | grep -vE '^\s*$' | tail -n 4
wasm="$root/worker/build/index_bg.wasm"
# worker-build's own wasm-opt pass keeps the name section; strip it and
# optimise for size (binaryen 132 from npm; Debian's 108 cannot read this wasm).
"$WASM_OPT_BIN" -Oz --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-multivalue --enable-reference-types --enable-exception-handling \
  "$wasm" -o "$wasm.opt" && mv "$wasm.opt" "$wasm"
echo "worker wasm: $(wc -c <"$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
