#!/usr/bin/env bash
# Builds the npm package `pvct` into sdk-wasm/dist: the core compiled to
# WASM (wasm-bindgen --target web: ESM with initSync, which loads in Node,
# workerd and browsers), optimised by binaryen 132, the JS client and its
# platform entry points, a CommonJS build made by esbuild, and the types.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$root/sdk-wasm"
dist="$pkg/dist"
cd "$root"
rm -rf "$dist" && mkdir -p "$dist"
# Two modules from one crate: `prompts` (routing + rendering) and `diff`.
for module in prompts diff; do
  # prompts: every app loads it, so it is built for size; diff: for speed.
  if [ "$module" = prompts ]; then name=pvct profile=release opt=-Oz; else name=pvct_diff profile=sdk-diff opt=-O3; fi
  cargo build --profile "$profile" --target wasm32-unknown-unknown -p pvct-sdk --no-default-features --features "$module" 2>&1 \
    | grep -E '^(error|warning)' || true
  wasm-bindgen "target/wasm32-unknown-unknown/$profile/pvct_sdk.wasm" --target web --out-dir "$dist" --out-name "$name" --no-typescript
  wasm="$dist/${name}_bg.wasm"
  "$root/node_modules/binaryen/bin/wasm-opt" "$opt" --converge --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-multivalue --enable-reference-types \
    "$wasm" -o "$wasm.opt" && mv "$wasm.opt" "$wasm"
  echo "$(gzip -9c "$wasm" | wc -c)" > "$root/target/sdk-$module-wasm-gz-bytes"
  echo "sdk $module wasm: $(wc -c <"$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
done
cp "$pkg"/js/{client.mjs,plan.mjs,node.mjs,workerd.mjs,browser.mjs,cli.mjs,index.d.ts} "$dist/"
chmod +x "$dist/cli.mjs"
# CommonJS: one file with the glue and the client; the .wasm stays beside it.
cp "$pkg/js/node-cjs.mjs" "$dist/"
"$root/node_modules/@esbuild/linux-x64/bin/esbuild" "$dist/node-cjs.mjs" --bundle --format=cjs --platform=node \
  --log-level=error --outfile="$dist/node.cjs"
rm "$dist/node-cjs.mjs"
