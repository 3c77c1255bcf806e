#!/usr/bin/env bash
# Generated clients in CI (issue 14): generates a Python client and TypeScript types from the committed
# openapi/openapi.json, type-checks them, runs clients/smoke.py (the generated Python client only) against a
# real server with fresh demo data, then Schemathesis against the served spec for every role.
#
#   bash clients/run.sh path/to/brobygger        # from the repository root
#
# Installs what is missing: openapi-python-client (pinned) and its runtime libraries with pip, and
# openapi-typescript + typescript (pinned in clients/typescript/package.json) with npm into a cache
# directory outside the work tree ($BROBYGGER_CLIENTS_CACHE, default ~/.cache/brobygger-clients).
# Exits non-zero when the generator warns, tsc fails, or the smoke test has any failure.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: bash clients/run.sh PATH_TO_BROBYGGER_BINARY" >&2
  exit 2
fi
BIN=$(realpath "$1")
[[ -x "$BIN" ]] || { echo "clients/run.sh: $BIN is not an executable" >&2; exit 2; }
[[ -f openapi/openapi.json && -f clients/smoke.py ]] || {
  echo "clients/run.sh: run it from the repository root" >&2
  exit 2
}

PYTHON_CLIENT_VERSION=0.29.1
CACHE=${BROBYGGER_CLIENTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brobygger-clients}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/brobygger-clients.XXXXXX")
SERVER_PID=""
failures=()

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "${KEEP_TMP:-}" ]]; then
    echo "clients/run.sh: kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------------
step "tools"
if ! openapi-python-client --version 2>/dev/null | grep -q "version: $PYTHON_CLIENT_VERSION\$" ||
   ! python3 -c 'import httpx, attrs, dateutil' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check \
    "openapi-python-client==$PYTHON_CLIENT_VERSION" httpx attrs python-dateutil
fi
openapi-python-client --version

mkdir -p "$CACHE/node"
if ! cmp -s clients/typescript/package.json "$CACHE/node/package.json" ||
   [[ ! -x "$CACHE/node/node_modules/.bin/tsc" || ! -x "$CACHE/node/node_modules/.bin/openapi-typescript" ]]; then
  cp clients/typescript/package.json "$CACHE/node/package.json"
  (cd "$CACHE/node" && npm install --no-audit --no-fund --loglevel=error)
fi
NODE_BIN="$CACHE/node/node_modules/.bin"
echo "openapi-typescript $("$NODE_BIN/openapi-typescript" --version 2>/dev/null | tail -n1), tsc $("$NODE_BIN/tsc" --version)"

# --- Python client ---------------------------------------------------------------------------------
step "generate the Python client"
mkdir -p "$TMP/python"
if ! openapi-python-client generate --path openapi/openapi.json --output-path "$TMP/python/brobygger_client" \
     --meta none --fail-on-warning >"$TMP/generate.log" 2>&1; then
  cat "$TMP/generate.log"
  echo "clients/run.sh: openapi-python-client failed" >&2
  exit 1
fi
cat "$TMP/generate.log"
# Anything but the "Generating ..." line is the generator dropping or misreading part of the spec.
if grep -v '^Generating ' "$TMP/generate.log" | grep -Eiq 'warn|skip|remov|unable|cannot|could not|unsupported|error'; then
  echo "clients/run.sh: openapi-python-client warned about the spec (above)" >&2
  exit 1
fi

step "byte-compile and import the Python client"
python3 -m compileall -q "$TMP/python/brobygger_client"
PYTHONPATH="$TMP/python" python3 - <<'PY'
import importlib, pkgutil
import brobygger_client, brobygger_client.api, brobygger_client.models
count = 0
for tag in pkgutil.iter_modules(brobygger_client.api.__path__):
    package = importlib.import_module(f"brobygger_client.api.{tag.name}")
    for module in pkgutil.iter_modules(package.__path__):
        assert hasattr(importlib.import_module(f"{package.__name__}.{module.name}"), "sync_detailed")
        count += 1
print(f"brobygger_client: {count} operations, {len(brobygger_client.models.__all__)} models")
PY

# --- TypeScript types ------------------------------------------------------------------------------
step "generate and type-check the TypeScript types"
mkdir -p "$TMP/ts"
"$NODE_BIN/openapi-typescript" openapi/openapi.json -o "$TMP/ts/schema.d.ts" 2>&1 | tee "$TMP/ts.log"
if grep -Eiq 'warn|error' "$TMP/ts.log"; then
  failures+=("openapi-typescript warned about the spec")
fi
cp clients/typescript/check.ts clients/typescript/tsconfig.json "$TMP/ts/"
if "$NODE_BIN/tsc" -p "$TMP/ts/tsconfig.json" --noEmit --strict; then
  echo "tsc --noEmit --strict: clients/typescript/check.ts OK"
else
  failures+=("tsc: clients/typescript/check.ts does not type-check against the generated types")
fi

# --- a server with fresh demo data -----------------------------------------------------------------
step "start the server"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
# Unlimited: Schemathesis sends thousands of requests a minute from one key. Webhooks to loopback allowed:
# the smoke test subscribes a closed local port.
BROBYGGER_RATE_LIMIT=0 BROBYGGER_WEBHOOK_ALLOW_PRIVATE=true "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$TMP/data" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  if curl -sf "$BASE/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 30 "$TMP/server.log"
    echo "clients/run.sh: the server exited" >&2
    exit 1
  fi
  sleep 0.5
done
curl -sf "$BASE/ready" >/dev/null || { tail -n 30 "$TMP/server.log"; echo "clients/run.sh: not ready" >&2; exit 1; }
echo "ready at $BASE (pid $SERVER_PID, data $TMP/data)"

key() { "$BIN" --data-dir "$TMP/data" keys create "$@" 2>>"$TMP/keys.log" | tail -n 1; }
ADMIN=$(key --role admin --label smoke-admin)
CASEWORKER=$(key --role caseworker --label smoke-caseworker)
READER=$(key --role reader --label smoke-reader)
PARTNER_ORG=$(curl -sf "$BASE/v1/organizations?per_page=1" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
PARTNER=$(key --role partner --organization "$PARTNER_ORG" --label smoke-partner)
SPARE=$(key --role reader --label smoke-spare)   # revoked by smoke.py through the keys API
for secret in "$ADMIN" "$CASEWORKER" "$READER" "$PARTNER" "$SPARE"; do
  [[ "$secret" == bb_* ]] || { cat "$TMP/keys.log"; echo "clients/run.sh: no key made" >&2; exit 1; }
done
echo "keys: admin, caseworker, reader, partner of $PARTNER_ORG"

# --- smoke -----------------------------------------------------------------------------------------
step "smoke test through the generated Python client"
if ! python3 clients/smoke.py --client-dir "$TMP/python" --base-url "$BASE" \
     --admin "$ADMIN" --caseworker "$CASEWORKER" --partner "$PARTNER" --partner-org "$PARTNER_ORG" \
     --reader "$READER"; then
  failures+=("clients/smoke.py failed (table above)")
fi

step "Schemathesis against the served spec, as anonymous, reader, caseworker, partner and admin"
SCHEMATHESIS_VERSION=4.32.5
if ! schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
printf '%-11s %9s  %s\n' role generated result
for role in anonymous reader caseworker partner admin; do
  case $role in
    anonymous) auth=() ;;
    reader) auth=(-H "Authorization: Bearer $READER") ;;
    caseworker) auth=(-H "Authorization: Bearer $CASEWORKER") ;;
    partner) auth=(-H "Authorization: Bearer $PARTNER") ;;
    admin) auth=(-H "Authorization: Bearer $ADMIN") ;;
  esac
  log="$TMP/schemathesis-$role.log"
  # One worker: with two, Schemathesis 4.32 on Python 3.11 now and then fails inside itself ("AST constructor
  # recursion depth mismatch") in its coverage phase, a runtime error that says nothing about the API.
  status=0
  NO_COLOR=1 schemathesis run "$BASE/openapi.json" "${auth[@]}" --checks "$CHECKS" \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-20}" --workers 1 --seed 1 >"$log" 2>&1 || status=$?
  generated=$(grep -Eo '[0-9]+ generated' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
  if [[ $status -ne 0 ]]; then
    printf '%-11s %9s  %s\n' "$role" "$generated" FAILED
    grep -v '^\s*$' "$log" | tail -n 80
    failures+=("schemathesis as $role found failures")
  elif [[ $generated -lt 2000 ]]; then
    printf '%-11s %9s  %s\n' "$role" "$generated" "too few requests"
    failures+=("schemathesis as $role generated only $generated test cases")
  else
    printf '%-11s %9s  %s\n' "$role" "$generated" "0 server errors, 0 schema mismatches"
  fi
done

if grep -q 'ERROR' "$TMP/server.log"; then
  echo "server errors logged during the run:"
  grep 'ERROR' "$TMP/server.log" | tail -n 20
fi

step "result"
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "clients: generated Python client and TypeScript types OK, smoke OK, schemathesis OK"
