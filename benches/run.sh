#!/usr/bin/env bash
# The one command that regenerates BENCHMARKS.md and benches/results/ (rd.csv, results.json, headline.md,
# SVG + PNG rate-distortion plots), and the README's benchmark section between its
# <!-- benchmarks:start --> and <!-- benchmarks:end --> markers.
#
#   benches/run.sh [aez-bench all options...]     e.g. --reps 3, --limit 1000 (quick, not a full run)
#
# Steps: release build; criterion stage benches (~40 s); `aez-bench all` (rate-distortion on both datasets,
# every model under models/ including each quality level of version-2 bundles; speed; photo speed of the
# version-2 RGB bundle, photo-conv, on kodim01 and a 6000x4000 photo, when there is one; one image at a time:
# whole `aez compress`/`decompress` processes interleaved with `cwebp -m 6`/`dwebp`, with the ratio, when
# Debian's webp is installed; report). Outputs
# are overwritten. Parts alone, printed and no report written: `aez-bench rd`, `aez-bench speed`,
# `aez-bench photo-speed` (each takes --models DIR, e.g. fixtures/models for the tiny-conv test bundle), `aez-bench startup -v`.
#
# Data: AEZ_BENCH_FMNIST (default ../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz) and
# AEZ_BENCH_KODAK (default ../shared/data/kodak). ONNX Runtime: ORT_DYLIB_PATH, else the library of the
# Python onnxruntime package when it is installed; without it the ONNX Runtime rows are skipped with a note.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  dir=$(python3 -c "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))" 2>/dev/null || true)
  if [ -n "$dir" ]; then
    lib=$(ls "$dir"/capi/libonnxruntime.so* 2>/dev/null | head -n 1 || true)
    if [ -n "$lib" ]; then export ORT_DYLIB_PATH="$lib"; fi
  fi
fi
AEZ_BENCH_RUSTC="$(rustc -V 2>/dev/null || echo unknown)"
export AEZ_BENCH_RUSTC

t0=$(date +%s)
cargo build --release -p aez -p aez-bench
t1=$(date +%s)
echo "run.sh: release build took $((t1 - t0)) s" >&2

target="${CARGO_TARGET_DIR:-target}"
# Stage benchmarks (criterion), on tract; stale results are removed first so that only this run's are reported.
rm -rf "$target/criterion/stages"
AEZ_BACKEND=tract cargo bench -p aez-bench --bench stages -- --warm-up-time 1 --measurement-time 3 >&2
"$target/release/aez-bench" all --command "benches/run.sh $*" --build-seconds "$((t1 - t0))" \
  --criterion-dir "$target/criterion" --readme README.md "$@" > /dev/null
t2=$(date +%s)
echo "run.sh: total $((t2 - t0)) s (build $((t1 - t0)) s, benchmarks $((t2 - t1)) s)" >&2
