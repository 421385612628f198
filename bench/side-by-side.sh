#!/usr/bin/env bash
# Every system of PERF.md in one sitting, then keiko's table with the ratios:
#   bash bench/side-by-side.sh [OUT_DIR] [WORKLOADS]         (default bench-results, mlp,simple,deep,alexnet)
# Runs, per thread count (1, 2): NumPy and TF.js through run-anchors.sh, PyTorch under /usr/bin/time with
# OpenBLAS at 1 thread and at THREADS (bench/torch-anchors.sh; the table keeps the faster: PERF.md's "best
# setting"), then keiko and TF.js (`npm run bench -- --anchors`). The references' JSON lines land in
# OUT_DIR/anchors.jsonl, the table in OUT_DIR/table.txt. Needs Debian's python3-torch, python3-numpy and
# libopenblas0-pthread (see docs/PERFORMANCE.md). Takes about 10 minutes; run it on a quiet machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
perf="${KEIKO_PERF_DIR:-$root/../shared/perf}"
out="${1:-bench-results}"
W="${2:-mlp,simple,deep,alexnet}"
mkdir -p "$out"
: > "$out/anchors.jsonl"
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" > "$out/table.txt"
for t in 1 2; do
  # run-anchors.sh with glibc malloc keeping its memory (see torch-anchors.sh: PyTorch and NumPy allocate
  # fresh arrays every batch and otherwise pay page faults on each; their best setting here).
  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=268435456 \
    bash "$perf/run-anchors.sh" "$t" >> "$out/anchors.jsonl" 2>/dev/null || true
  for ob in 1 "$t"; do
    bash "$root/bench/torch-anchors.sh" "$t" "$ob" "$W" >> "$out/anchors.jsonl" || true
    [ "$ob" = "$t" ] && break
  done
done
cd "$root"
npm run --silent bench -- --workloads "$W" --tfjs-workloads mlp,simple --anchors "$out/anchors.jsonl" >> "$out/table.txt"
echo "# done $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/table.txt"
cat "$out/table.txt"
