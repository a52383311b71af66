#!/usr/bin/env bash
# Schemathesis against /openapi.json of the real worker (wrangler dev, local
# D1/KV/Queue, fresh state): generated requests on every route; no 5xx, every
# response matches the documented schema, 405s carry Allow. Part of make test.
# Two checks are off: positive_data_acceptance (a schema cannot say "weights
# sum to 100" or "a snippet takes text", so such 400s are correct) and
# ensure_resource_availability (it reads any 404 after a create as the created
# object missing, even when the 404 names another missing object).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
SCHEMATHESIS_VERSION=4.32.5
if [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "==> pip install schemathesis==$SCHEMATHESIS_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=1
state="$(mktemp -d)"
key="pvct_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
scripts/local-db.sh "$key" "$state"
vars="$state/.dev.vars"
printf 'PVCT_ADMIN_KEY=%s\nPVCT_ENCRYPTION_KEY=%s\n' "$key" "$(head -c 32 /dev/urandom | base64)" >"$vars"
# wrangler.toml with the rate limits raised a thousandfold: the fuzzer sends
# thousands of requests (many without a key) and checks answers, not limits
# (tests/e2e/ratelimit.test.mjs does). Beside wrangler.toml, so its relative
# paths hold; removed on exit.
config="$root/.wrangler-fuzz.toml"
sed -E 's/^simple = \{ limit = ([0-9]+), period/simple = { limit = \1000, period/' wrangler.toml >"$config"
grep -q 'limit = 20000, period = 60' "$config" || { echo "api-fuzz: could not raise the rate limits in $config" >&2; exit 1; }
setsid npx --no-install wrangler dev -c "$config" --ip 127.0.0.1 --port "$port" --persist-to "$state" --env-file "$vars" \
  --show-interactive-dev-session=false >"$state/wrangler.log" 2>&1 &
pid=$!
trap 'kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$state" "$config"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 1 60); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.5; done
# Some data so path parameters can hit real objects.
h=(-H "Authorization: Bearer $key" -H "content-type: application/json")
curl -sf "${h[@]}" "$url/v1/prompts" -d '{"slug":"fuzz","name":"Fuzz","kind":"text"}' >/dev/null
curl -sf "${h[@]}" "$url/v1/prompts/fuzz/versions" -d '{"content":{"text":"Hello {{name}}"},"parent_version":null}' >/dev/null
curl -sf "${h[@]}" "$url/v1/prompts/fuzz/versions" -d '{"content":{"text":"Hi {{name}}"},"parent_version":1}' >/dev/null
curl -sf "${h[@]}" "$url/v1/prompts/fuzz/promote" -d '{"version":1,"environment":"production"}' >/dev/null
schemathesis run "$url/openapi.json" -H "Authorization: Bearer $key" --checks all --exclude-checks positive_data_acceptance,ensure_resource_availability \
  --max-examples "${FUZZ_EXAMPLES:-30}" --exclude-path /v1/workspaces --seed 1 --no-color 2>&1 | tee "${FUZZ_LOG:-/dev/null}" | tail -n 25
