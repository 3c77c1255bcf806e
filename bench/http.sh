#!/usr/bin/env bash
# HTTP load run: `brobygger serve` on loopback with N generated services (or the demo data), then wrk
# against /v1/search and /health; prints req/s and p99 of each and their ratio. Bounded: every wrk run
# lasts DURATION, and the server is stopped (by its pid) and its data dir removed on exit.
#
#   bench/http.sh [SERVICES (10000; 0 = the Aarhus demo data)] [DURATION (10s)] [CONNECTIONS (16)]
#
# Env: CARGO_TARGET_DIR (default /var/tmp/brobygger-target), PORT (18080), WRK_THREADS (1),
#      QUERIES_LUA=0 to hit one fixed search URL instead of rotating through a list of queries.
set -euo pipefail

SERVICES=${1:-10000}
DURATION=${2:-10s}
CONNECTIONS=${3:-16}
PORT=${PORT:-18080}
WRK_THREADS=${WRK_THREADS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/brobygger-target}
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package) …" >&2
    apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
fi
command -v curl >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q curl >/dev/null; }

echo "building brobygger (release) …" >&2
cargo build --release -q -p api
BIN="$CARGO_TARGET_DIR/release/brobygger"

DATA=$(mktemp -d /var/tmp/brobygger-http.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

SEED_FLAG=
if [ "$SERVICES" -gt 0 ]; then
    echo "generating and importing $SERVICES services …" >&2
    "$BIN" generate --services "$SERVICES" --seed 42 --out "$DATA/services.ndjson"
    started=$(date +%s)
    "$BIN" --data-dir "$DATA" import "$DATA/services.ndjson" >"$DATA/import.log" 2>&1
    echo "import took $(( $(date +%s) - started )) s" >&2
    SEED_FLAG=--no-seed
fi

"$BIN" --data-dir "$DATA" serve --addr "127.0.0.1:$PORT" $SEED_FLAG >"$DATA/serve.log" 2>&1 &
SERVER_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 600); do
    if curl -fs "$BASE/ready" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/serve.log" >&2; exit 1; }
    sleep 0.5
done
curl -fs "$BASE/ready" >/dev/null || { echo "server not ready after 300 s" >&2; tail -20 "$DATA/serve.log" >&2; exit 1; }
TOTAL=$(curl -fs "$BASE/v1/search?q=lektieh%C3%A6lp&near=Aarhus" | grep -o '"total":[0-9]*' | head -1 | cut -d: -f2)
echo "ready; /v1/search?q=lektiehjælp&near=Aarhus finds ${TOTAL:-?} services" >&2

# Queries rotated by the search run: text near a place, in Danish and English, one with a typo.
cat >"$DATA/search.lua" <<'LUA'
local paths = {
  "/v1/search?q=lektieh%C3%A6lp&near=Aarhus",
  "/v1/search?q=g%C3%A6ldsr%C3%A5dgivning&near=Aarhus",
  "/v1/search?q=sprogcaf%C3%A9&near=Aarhus",
  "/v1/search?q=debt%20advice&near=Aarhus",
  "/v1/search?q=bes%C3%B8gsven&near=Aarhus",
  "/v1/search?q=krisecenter&near=Aarhus&radius_km=25",
  "/v1/search?q=homework%20help&near=Aarhus",
  "/v1/search?q=psykolog&near=Aarhus",
  "/v1/search?q=g%C3%A6ldsr%C3%A5dgivnig&near=Aarhus",
  "/v1/search?q=fodbold&near=Aarhus&age=10",
}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA

run() { # name url [lua]
    local out
    if [ -n "${3:-}" ]; then
        out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$3" "$2")
    else
        out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$2")
    fi
    echo "$out" >"$DATA/$1.wrk"
    local rps p99 errors
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    echo "$1 $rps $p99 ${errors:-none}"
}

echo "wrk: $WRK_THREADS thread(s), $CONNECTIONS connections, $DURATION per URL …" >&2
HEALTH=$(run health "$BASE/health")
if [ "${QUERIES_LUA:-1}" = 0 ]; then
    SEARCH=$(run search "$BASE/v1/search?q=lektieh%C3%A6lp&near=Aarhus")
else
    SEARCH=$(run search "$BASE/v1/search" "$DATA/search.lua")
fi
read -r _ HRPS HP99 HERR <<<"$HEALTH"
read -r _ SRPS SP99 SERR <<<"$SEARCH"
RSS=$(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$SERVER_PID/status")

echo
echo "| endpoint | req/s | p99 | errors |"
echo "|---|---|---|---|"
echo "| /health | $HRPS | $HP99 | $HERR |"
echo "| /v1/search (10 queries near Aarhus, rotated) | $SRPS | $SP99 | $SERR |"
echo
awk -v s="$SRPS" -v h="$HRPS" 'BEGIN { printf "search / health req/s = %.1f %% (target >= 50 %%)\n", 100 * s / h }'
echo "services: ${SERVICES} (0 = demo data), server peak RSS: $RSS, machine: $(nproc) cores, wrk on the same machine"
