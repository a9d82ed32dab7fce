#!/usr/bin/env bash
# Bounded coverage-guided fuzzing (cargo-fuzz + libFuzzer) of every carrier's
# answer parsing, the config loader and tracking-number detection; see the
# "Fuzzing" section of README.md and fuzz/src/lib.rs.
#
#   bash .ci/fuzz.sh                       # CI: FUZZ_SECONDS (default 15) per target
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh      # a longer run
#   FUZZ_TARGETS="parse_ups config_load" bash .ci/fuzz.sh
#
# Knobs (environment): FUZZ_SECONDS per target, FUZZ_PARALLEL targets at once
# (default 2, one per core), FUZZ_RSS_MB memory cap per target (libFuzzer
# -rss_limit_mb / -malloc_limit_mb), FUZZ_TIMEOUT seconds one input may take
# (-timeout, so a hang fails), FUZZ_SANITIZER (none; "address" for ASan on
# longer runs), FUZZ_TARGET_DIR (build cache outside the clone, so a rerun on
# the same machine does not rebuild the daemon's dependencies).
# Fails if any target finds a crash, panic, hang, leak of the memory cap, or if a
# carrier has no parse_<slug> target. Crashing inputs land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-2}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trackd/fuzz-target}
# cargo-fuzz passes -Z flags (sanitizer coverage); the stable toolchain accepts
# them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

started=$SECONDS
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
if ! command -v c++ >/dev/null 2>&1; then
    echo "libfuzzer-sys needs a C++ compiler (c++)" >&2
    exit 1
fi

all_targets=$(cargo fuzz list --fuzz-dir fuzz)
missing=0
for dir in carriers/*/; do
    slug=$(basename "$dir")
    case $slug in sdk | template | _*) continue ;; esac
    if ! grep -qx "parse_$slug" <<<"$all_targets"; then
        echo "carrier $slug has no fuzz target parse_$slug (add it to fuzz/Cargo.toml and fuzz/fuzz_targets/)" >&2
        missing=1
    fi
done
[ "$missing" = 0 ] || exit 1
targets=${FUZZ_TARGETS:-$all_targets}

echo "== seeding corpora from the fixtures"
python3 fuzz/seed_corpus.py

echo "== cargo fuzz build (release, debug assertions, sanitizer: $FUZZ_SANITIZER, target dir $FUZZ_TARGET_DIR)"
build_started=$SECONDS
cargo fuzz build --fuzz-dir fuzz --target-dir "$FUZZ_TARGET_DIR" -O -a -s "$FUZZ_SANITIZER"
echo "   built in $((SECONDS - build_started)) s"
bin_dir="$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release"

echo "== replaying the inputs that once crashed a target (fuzz/regressions)"
for dir in fuzz/regressions/*/; do
    t=$(basename "$dir")
    if ! "$bin_dir/$t" -runs=1 "$dir"* >"${TMPDIR:-/tmp}/trackd-fuzz-regress.log" 2>&1; then
        tail -n 40 "${TMPDIR:-/tmp}/trackd-fuzz-regress.log"
        echo "$t: a fixed crash is back (fuzz/regressions/$t)" >&2
        exit 1
    fi
    echo "   $t: $(ls "$dir" | wc -l) input(s) pass"
done

# Largest input per target: answers grow to four times the largest fixture
# (about 20 KB); config files and tracking numbers stay small.
max_len() {
    case $1 in
        parse_*) echo 81920 ;;
        config_load) echo 16384 ;;
        detect_number) echo 256 ;;
        *) echo 4096 ;;
    esac
}

logs=$(mktemp -d)
run_one() {
    local t=$1 rc=0
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    "$bin_dir/$t" "fuzz/corpus/$t" \
        -max_total_time="$FUZZ_SECONDS" \
        -rss_limit_mb="$FUZZ_RSS_MB" \
        -malloc_limit_mb="$FUZZ_RSS_MB" \
        -timeout="$FUZZ_TIMEOUT" \
        -max_len="$(max_len "$t")" \
        -artifact_prefix="fuzz/artifacts/$t/" \
        -print_final_stats=1 \
        >"$logs/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$logs/$t.rc"
}

echo "== fuzzing each target for ${FUZZ_SECONDS} s, $FUZZ_PARALLEL at a time"
running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$FUZZ_PARALLEL" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

failed=0
total_runs=0
printf '%-22s %12s %10s %8s %8s  %s\n' target executions exec/s cov corpus result
for t in $targets; do
    log="$logs/$t.log"
    rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    result=ok
    if [ "$rc" != 0 ]; then
        result="FAILED (exit $rc)"
        failed=1
    fi
    total_runs=$((total_runs + ${runs:-0}))
    printf '%-22s %12s %10s %8s %8s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${corp:-?}" "$result"
done
for t in $targets; do
    if [ "$(cat "$logs/$t.rc" 2>/dev/null || echo 1)" != 0 ]; then
        echo
        echo "== $t failed; the end of its log:"
        tail -n 40 "$logs/$t.log"
        echo "artifacts: $(ls fuzz/artifacts/"$t"/ 2>/dev/null | tr '\n' ' ')"
        echo "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -O -a -s none $t fuzz/artifacts/$t/<file>"
    fi
done
rm -rf "$logs"
echo "fuzzing: $total_runs executions over $(wc -w <<<"$targets") targets in $((SECONDS - started)) s (build included)"
exit "$failed"
