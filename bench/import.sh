#!/usr/bin/env bash
# Import at scale: `brobygger import` of N generated services into an empty database (fresh), the same
# file again (unchanged re-import) and the file with 10 % of the descriptions revised (10 %-changed
# re-import, `generate --change-percent 10`), each timed from process start to exit (so the search
# index catch-up after the import is included). SQLite in a temp data dir, or with a PostgreSQL server
# URL a fresh database on it (dropped at the end).
#
#   bench/import.sh [SERVICES (100000)] [POSTGRES_SERVER_URL, e.g. postgres://postgres@127.0.0.1:5432/test]
#
# Env: BIN (default $CARGO_TARGET_DIR/release/brobygger, built when absent), FILES (directory for the
#      NDJSON files, default /var/tmp/brobygger-import-files; kept and reused: generating takes a minute).
set -euo pipefail

SERVICES=${1:-100000}
SERVER=${2:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/brobygger-target}
cd "$(dirname "$0")/.."
BIN=${BIN:-$CARGO_TARGET_DIR/release/brobygger}
[ -x "$BIN" ] || cargo build --release -q -p api --bin brobygger
FILES=${FILES:-/var/tmp/brobygger-import-files}
mkdir -p "$FILES"
BASE="$FILES/base-$SERVICES.ndjson"
CHANGED="$FILES/changed-$SERVICES.ndjson"
[ -s "$BASE" ] || "$BIN" generate --services "$SERVICES" --seed 42 --out "$BASE" 2>/dev/null
[ -s "$CHANGED" ] || "$BIN" generate --services "$SERVICES" --seed 42 --change-percent 10 --out "$CHANGED" 2>/dev/null

DATA=$(mktemp -d /var/tmp/brobygger-import.XXXXXX)
DB=""
cleanup() {
    rm -rf "$DATA"
    if [ -n "$DB" ]; then psql -q "$SERVER" -c "DROP DATABASE IF EXISTS $DB" >/dev/null; fi
}
trap cleanup EXIT
if [ -n "$SERVER" ]; then
    DB="brobygger_import_$$"
    psql -q "$SERVER" -c "CREATE DATABASE $DB" >/dev/null
    export DATABASE_URL="${SERVER%/*}/$DB"
else
    unset DATABASE_URL
fi

run() {
    local label=$1 file=$2 start end
    start=$(date +%s.%N)
    "$BIN" --data-dir "$DATA" import "$file" 2>"$DATA/stderr" | sed "s|^$FILES/||"
    end=$(date +%s.%N)
    grep '^search index' "$DATA/stderr" || true
    printf '%-22s %7.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}
echo "$("$BIN" --version), $([ -n "$SERVER" ] && echo PostgreSQL || echo SQLite), $SERVICES services"
run fresh "$BASE"
run "unchanged re-import" "$BASE"
run "10 %-changed re-import" "$CHANGED"
