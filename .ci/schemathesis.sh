#!/usr/bin/env bash
# API contract testing: docs/openapi.json is checked to be valid OpenAPI 3.1
# (openapi-spec-validator), then schemathesis generates requests from it
# (fetched from the daemon at /v1/openapi.json) and checks every answer against
# it: no 5xx, documented status codes, content types, headers and schemas,
# rejection of invalid input, 405 + Allow for undocumented methods, auth enforced.
#
# It runs `trackd demo` (daemon + in-process carrier simulator, a few parcels)
# on an OS-chosen loopback port, with read and write tokens configured, and
# exits non-zero on any failure. Knobs: SCHEMATHESIS_MAX_EXAMPLES (default 30
# per operation), SCHEMATHESIS_SEED (default 1), SCHEMATHESIS_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-30}
SEED=${SCHEMATHESIS_SEED:-1}
TARGET=${CARGO_TARGET_DIR:-target}
VENV=${SCHEMATHESIS_VENV:-$TARGET/schemathesis-venv}
OUT=$TARGET/schemathesis
export SCHEMATHESIS_OUT=$OUT
export HYPOTHESIS_STORAGE_DIRECTORY=$OUT/hypothesis-storage   # not ./.hypothesis
READ_TOKEN=schemathesis-read
WRITE_TOKEN=schemathesis-write
mkdir -p "$OUT"

installed="$("$VENV/bin/schemathesis" --version 2>/dev/null || true) $("$VENV/bin/pip" show openapi-spec-validator 2>/dev/null || true)"
if [[ "$installed" != *"version $SCHEMATHESIS_VERSION"* || "$installed" != *"Version: $SPEC_VALIDATOR_VERSION"* ]]; then
    echo "== installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $SPEC_VALIDATOR_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi

echo "== docs/openapi.json is a valid OpenAPI 3.1 document"
"$VENV/bin/openapi-spec-validator" docs/openapi.json

echo "== building trackd"
cargo build --quiet --bin trackd
TRACKD=$TARGET/debug/trackd

DATA=$(mktemp -d)
LOG=$OUT/daemon.log
rm -f "$LOG"
: >"$LOG"
PID=
stop_daemon() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        wait "$PID" || true
    fi
    PID=
    rm -rf "$DATA"
}
trap stop_daemon EXIT

echo "== starting trackd demo (tokens configured)"
TRACKD_API__READ_TOKENS=$READ_TOKEN TRACKD_API__WRITE_TOKENS=$WRITE_TOKEN TRACKD_LOG__LEVEL=error TRACKD_API__STREAM_HEARTBEAT=1s \
    "$TRACKD" demo --listen 127.0.0.1:0 --parcels 60 --data-dir "$DATA" >"$LOG" 2>&1 &
PID=$!

URL=
for _ in $(seq 1 600); do
    URL=$(sed -n 's#^  event stream:  curl -N \(http://[^/]*\)/v1/events/stream$#\1#p' "$LOG" | head -n1)
    [[ -n "$URL" ]] && break
    kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "trackd demo exited early" >&2; exit 1; }
    sleep 0.2
done
[[ -n "$URL" ]] || { cat "$LOG"; echo "trackd demo did not report its URL" >&2; exit 1; }
ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$URL/readyz" 2>/dev/null; }
for _ in $(seq 1 600); do
    ready && break
    sleep 0.2
done
ready || { cat "$LOG"; echo "trackd is not ready" >&2; exit 1; }
echo "   daemon at $URL"

# Every check, every phase, every operation. The endless SSE stream is read for
# at most 3 messages or 2 s per case (see .ci/schemathesis.toml, which also
# lists the few state-dependent refusals of schema-valid input). One worker:
# Python 3.11 before 3.11.9 has a thread-safety bug in ast.parse (CPython
# gh-106905) that hypothesis trips over with several workers.
echo "== schemathesis $SCHEMATHESIS_VERSION (max $MAX_EXAMPLES examples per operation, seed $SEED)"
START=$(date +%s)
set +e
"$VENV/bin/schemathesis" --config-file .ci/schemathesis.toml run "$URL/v1/openapi.json" \
    --url "$URL" \
    --header "Authorization: Bearer $WRITE_TOKEN" \
    --checks all \
    --mode all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers 1 \
    --request-timeout 20 \
    --generation-database "$OUT/hypothesis" \
    --no-color \
    --report junit,ndjson --report-dir "$OUT" \
    2>&1 | tee "$OUT/run.log"
STATUS=${PIPESTATUS[0]}
set -e
ELAPSED=$(($(date +%s) - START))

# The case count is the "Test cases: N generated" line of the summary.
CASES=$(sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' "$OUT/run.log" | tail -n1)
echo "== schemathesis: exit $STATUS after ${ELAPSED}s, ${CASES:-0} test cases"

stop_daemon
if grep -q "panicked" "$LOG"; then
    echo "the daemon panicked during the run (see $LOG)" >&2
    exit 1
fi
exit "$STATUS"
