#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a set time, two at a time (one libFuzzer process each).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds each, all targets
#   scripts/fuzz.sh 1800                       the release bar: 30 minutes per target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on a stable toolchain through RUSTC_BOOTSTRAP=1.
# FUZZ_TARGET_DIR (default fuzz/target) puts the build elsewhere, e.g. one shared by several checkouts.
# Builds with optimizations and debug assertions (overflow checks on), without a sanitizer: the crate
# forbids unsafe code, and fuzz/src/lib.rs aborts on any allocation over 64 MiB instead.
# Corpora live in fuzz/corpus/<target> (seeded from the golden files of both container versions,
# fixtures/golden, fixtures/golden-v2 and fixtures/golden-v2-codec, and tests/fuzz_findings), crashes in
# fuzz/artifacts/<target>, logs in $FUZZ_LOG_DIR (default /tmp/fuzz-logs). Each target's last lines
# (executions, wall time) are printed at the end. A crash found becomes a regression input: copy it to
# tests/fuzz_findings/decode-<what>.aez with a .expect file (see tests/regressions.rs), and fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-60}
shift || true
ALL=(container decode decode_hyper decode_sets manifest roundtrip buffer_independence dense_onnx)
if (($#)); then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi
LOGS=${FUZZ_LOG_DIR:-/tmp/fuzz-logs}
NICE=${FUZZ_NICE:-10}
# RSS limit per target. ort 2.0.0-rc.14 leaks one OrtTypeInfo (56 bytes with ort-tract) per network run
# (Value::from_session_output_ptr never releases the type info of a tensor output), so the targets that
# run the network grow by ~1 KB per input; 8 GB keeps a 30-minute run clear of it.
RSS_MB=${FUZZ_RSS_MB:-8192}
mkdir -p "$LOGS"

export RUSTC_BOOTSTRAP=1
TARGET_DIR=$(realpath -m "${FUZZ_TARGET_DIR:-fuzz/target}")
for t in "${TARGETS[@]}"; do
    (cd fuzz && cargo fuzz build -O -a -s none --target-dir "$TARGET_DIR" "$t")
done

# Seeds: the golden files and the regression inputs (the container targets start from valid streams).
SEEDS=(fixtures/golden/*.aez fixtures/golden-v2/*.aez fixtures/golden-v2-codec/*.aez fixtures/golden-hyper/*.aez tests/fuzz_findings/*.aez)
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    case "$t" in
        container|buffer_independence)
            for f in "${SEEDS[@]}"; do
                [ -e "$f" ] || continue
                if [ "$t" = buffer_independence ]; then
                    # 8 bytes of reader seed, then the stream.
                    { printf '\x2a\0\0\0\0\0\0\0'; cat "$f"; } > "fuzz/corpus/$t/seed-$(basename "$f")"
                else
                    cp "$f" "fuzz/corpus/$t/seed-$(basename "$f")"
                fi
            done ;;
        decode)
            for f in "${SEEDS[@]}"; do
                [ -e "$f" ] || continue
                { printf '\x00'; cat "$f"; } > "fuzz/corpus/$t/seed-raw-$(basename "$f")"
            done
            # The version-2 structured modes (see fuzz_targets/decode.rs): header descriptor, per image,
            # none, raw descriptor bytes; each with bytes that make a small valid image.
            for m in 11 13 19 31 33 51 91 b1; do
                { printf "\x$m"; printf '\x01\x07\x05\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08'; } \
                    > "fuzz/corpus/$t/seed-v2-$m"
            done ;;
        decode_sets)
            # Structured modes (see fuzz_targets/decode_sets.rs): packed or not, range or zstd, with bytes
            # for a few images; and the golden files as raw input.
            for m in 01 03 05 07; do
                { printf "\x$m\x03"; printf 'aez table sets seed %.0s' 1 2 3 4 5 6; } > "fuzz/corpus/$t/seed-$m"
            done
            for f in "${SEEDS[@]}"; do
                [ -e "$f" ] || continue
                { printf '\x00'; cat "$f"; } > "fuzz/corpus/$t/seed-raw-$(basename "$f")"
            done ;;
        dense_onnx)
            cp fixtures/onnx/dense-tiny.onnx "fuzz/corpus/$t/seed-dense-tiny.onnx" ;;
        manifest)
            # The repository's manifests as raw bytes (first byte 0x7b '{' picks the first packed field),
            # and valid packed strings for each field the target replaces: a field pick, then base64.
            for f in fixtures/models/*/model.json; do
                cp "$f" "fuzz/corpus/$t/seed-$(basename "$(dirname "$f")").json"
            done
            for p in 0 1 2 3; do
                { printf "\x0$p"; printf 'AAAAAAAAgD8AAIC/'; } > "fuzz/corpus/$t/seed-packed-$p"
            done ;;
        roundtrip)
            # width, height, layout, coder/limit, then samples: each colour layout, banded or not.
            for l in 0 1 2 3 4 5; do
                { printf "\x0f\x0b\x0$l\x0$l"; head -c 64 /dev/zero | tr '\0' '\155'; } \
                    > "fuzz/corpus/$t/seed-layout-$l"
            done ;;
    esac
done

# A dictionary of the format's fixed bytes helps the decode targets past the header.
DICT="$LOGS/aez.dict"
{
    echo 'magic="\x89AEZ\x01"'
    echo 'magic_v2="\x89AEZ\x02"'
    echo 'v2_single_desc="\x89AEZ\x02\x00"'
    echo 'v2_batch_desc="\x89AEZ\x02\x0c"'
    echo 'v2_batch_per_image="\x89AEZ\x02\xcc"'
    echo 'v2_batch_model="\x89AEZ\x02\x3c"'
    echo 'desc_len4="\x84"'
    echo 'desc_len6="\x06"'
    echo 'desc_gray_alpha="\x07\x05\x01\x00"'
    echo 'desc_rgba_tiled="\x10\x0c\x07\x00\x01\x03"'
    echo 'varint_16384="\x80\x80\x01"'
    echo 'single_range="\x89AEZ\x01\x00"'
    echo 'batch_range="\x89AEZ\x01\x04"'
    echo 'batch_zstd="\x89AEZ\x01\x05"'
    echo 'side28="\x1c\x00\x1c\x00"'
    echo 'ext_head="\xff"'
    echo 'end="\x00"'
    echo 'zstd_magic="\x28\xb5\x2f\xfd"'
    for f in fixtures/golden/fmnist-t10k-00000.aez fixtures/golden-v2-codec/single-rgb.aez; do
        [ -e "$f" ] || continue
        id=$(od -An -tx1 -j6 -N7 "$f" | tr -d ' \n' | sed 's/../\\x&/g')
        echo "model_id_$(basename "$f" .aez | tr -c 'a-z0-9\n' _)=\"$id\""
    done
} > "$DICT"

run_one() {
    local t=$1
    local log="$LOGS/$t.log"
    echo "fuzzing $t for ${SECONDS_EACH}s, log $log"
    local max_len=4096
    [ "$t" = roundtrip ] && max_len=2048
    nice -n "$NICE" "$TARGET_DIR/x86_64-unknown-linux-gnu/release/$t" \
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
