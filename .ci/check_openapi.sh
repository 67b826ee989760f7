#!/usr/bin/env bash
# The described API: docs/openapi.json is a valid OpenAPI 3.1 document, and
# a real koogate keeps it: schemathesis sends bounded generated requests to
# every /app-api and /admin/api operation (with their tokens, with none,
# with malformed parameters) and checks each answer's status, content type,
# headers and body against the document; no 5xx.
#   check_openapi.sh KOOGATE_BINARY VENV
set -euo pipefail
cd "$(dirname "$0")/.."
koogate="$1"
venv="$2"

"$venv/bin/openapi-spec-validator" docs/openapi.json

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
env -i PATH="$PATH" HOME="$HOME" \
  KOOGATE__SERVER__BIND="127.0.0.1:$port" KOOGATE__SERVER__PUBLIC_URL="$base" \
  KOOGATE__DATABASE__URL="sqlite://$work/koogate.db?mode=rwc" \
  KOOGATE__MARKETPLACE__ACCESS_KEY=ci-access-key \
  KOOGATE__MARKETPLACE__RSA_PRIVATE_KEY_FILE="$PWD/tests/data/isv-test-private.pem" \
  KOOGATE__UPSTREAM__API_TOKEN=ci-app-api-token KOOGATE__ADMIN__API_TOKEN=ci-admin-api-token \
  KOOGATE__UPSTREAM__WEBHOOK_URL="http://127.0.0.1:9/unreachable" \
  KOOGATE__UPSTREAM__WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)" \
  "$koogate" serve >"$work/serve.log" 2>&1 &
serve=$!
finish() {
  kill "$serve" 2>/dev/null || true
  wait "$serve" 2>/dev/null || true
  rm -rf "$work"
}
trap finish EXIT
for _ in $(seq 1 50); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done

# Something to read: a tenant's whole life but its release (instances,
# departments, users, calls, webhooks waiting in the outbox).
KOOGATE_SIM_ACCESS_KEY=ci-access-key "$koogate" sim story --url "$base/koogallery" \
  --domain openapi.example --isv-public-key tests/data/isv-test-public.pem --keep >/dev/null

run() {
  local paths="$1" token="$2"
  "$venv/bin/schemathesis" run "$base/openapi.json" --include-path-regex "$paths" \
    -H "Authorization: Bearer $token" --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance --max-examples 30 --seed 16 \
    --no-color --warnings off
}
status=0
run '^/app-api/' ci-app-api-token || status=$?
run '^/admin/api/' ci-admin-api-token || status=$?
if grep -q "panicked" "$work/serve.log"; then
  grep -A2 "panicked" "$work/serve.log" | head -n 20
  status=1
fi
exit "$status"
