#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a set time, two at a time (one libFuzzer process each).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds each, all targets
#   scripts/fuzz.sh 1800                       the release bar: 30 minutes per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on a stable toolchain through RUSTC_BOOTSTRAP=1.
# Builds with optimizations and debug assertions (overflow checks on), without a sanitizer: the crate
# forbids unsafe code, and fuzz/src/lib.rs aborts on any allocation over 64 MiB instead.
# Corpora live in fuzz/corpus/<target> (seeded from fixtures/golden and tests/fuzz_findings), crashes in
# fuzz/artifacts/<target>, logs in $FUZZ_LOG_DIR (default /tmp/fuzz-logs). Each target's last lines
# (executions, wall time) are printed at the end. A crash found becomes a regression input: copy it to
# tests/fuzz_findings/decode-<what>.aez with a .expect file (see tests/regressions.rs), and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-60}
shift || true
ALL=(container decode roundtrip buffer_independence)
if (($#)); then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
LOGS=${FUZZ_LOG_DIR:-/tmp/fuzz-logs}
NICE=${FUZZ_NICE:-10}
# RSS limit per target. ort 2.0.0-rc.14 leaks one OrtTypeInfo (56 bytes with ort-tract) per network run
# (Value::from_session_output_ptr never releases the type info of a tensor output), so the targets that
# run the network grow by ~1 KB per input; 8 GB keeps a 30-minute run clear of it.
RSS_MB=${FUZZ_RSS_MB:-8192}
mkdir -p "$LOGS"

export RUSTC_BOOTSTRAP=1
for t in "${TARGETS[@]}"; do
    (cd fuzz && cargo fuzz build -O -a -s none "$t")
done

# Seeds: the golden files and the regression inputs (the container targets start from valid streams).
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    case "$t" in
        container|buffer_independence)
            for f in fixtures/golden/*.aez tests/fuzz_findings/*.aez; do
                [ -e "$f" ] || continue
                if [ "$t" = buffer_independence ]; then
                    # 8 bytes of reader seed, then the stream.
                    { printf '\x2a\0\0\0\0\0\0\0'; cat "$f"; } > "fuzz/corpus/$t/seed-$(basename "$f")"
                else
                    cp "$f" "fuzz/corpus/$t/seed-$(basename "$f")"
                fi
            done ;;
        decode)
            for f in fixtures/golden/*.aez tests/fuzz_findings/*.aez; do
                [ -e "$f" ] || continue
                { printf '\x00'; cat "$f"; } > "fuzz/corpus/$t/seed-raw-$(basename "$f")"
            done ;;
    esac
done

# A dictionary of the format's fixed bytes helps the decode targets past the header.
DICT="$LOGS/aez.dict"
{
    echo 'magic="\x89AEZ\x01"'
    echo 'single_range="\x89AEZ\x01\x00"'
    echo 'batch_range="\x89AEZ\x01\x04"'
    echo 'batch_zstd="\x89AEZ\x01\x05"'
    echo 'side28="\x1c\x00\x1c\x00"'
    echo 'ext_head="\xff"'
    echo 'end="\x00"'
    echo 'zstd_magic="\x28\xb5\x2f\xfd"'
    for f in fixtures/golden/*.aez; do
        [ -e "$f" ] || continue
        id=$(od -An -tx1 -j6 -N7 "$f" | tr -d ' \n' | sed 's/../\\x&/g')
        echo "model_id=\"$id\""
        break
    done
} > "$DICT"

run_one() {
    local t=$1
    local log="$LOGS/$t.log"
    echo "fuzzing $t for ${SECONDS_EACH}s, log $log"
    local max_len=4096
    [ "$t" = roundtrip ] && max_len=2048
    nice -n "$NICE" "fuzz/target/x86_64-unknown-linux-gnu/release/$t" \
        "fuzz/corpus/$t" \
        -artifact_prefix="fuzz/artifacts/$t/" \
        -dict="$DICT" \
        -max_total_time="$SECONDS_EACH" \
        -max_len="$max_len" \
        -timeout=20 \
        -rss_limit_mb="$RSS_MB" \
        -print_final_stats=1 \
        > "$log" 2>&1 || echo "$t: libFuzzer exited with status $? (see $log)"
}

status=0
for ((i = 0; i < ${#TARGETS[@]}; i += 2)); do
    run_one "${TARGETS[i]}" &
    p1=$!
    p2=
    if ((i + 1 < ${#TARGETS[@]})); then
        run_one "${TARGETS[i + 1]}" &
        p2=$!
    fi
    wait "$p1"
    [ -n "$p2" ] && wait "$p2"
done

echo
echo "== summary"
for t in "${TARGETS[@]}"; do
    log="$LOGS/$t.log"
    echo "-- $t"
    grep -E "^Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "$log" || true
    if ls "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/oom-* "fuzz/artifacts/$t"/timeout-* >/dev/null 2>&1; then
        echo "FOUND:"; ls -l "fuzz/artifacts/$t"/
        status=1
    fi
done
exit $status
