#!/usr/bin/env bash
# PyTorch anchors with their peak memory: runs /work/shared/perf/bench_torch.py once per workload under
# /usr/bin/time and adds "peak_rss_mb" and "openblas_threads" to its JSON line, so that
# `npm run bench -- --anchors FILE` can compare keiko's peak RSS with PyTorch's.
#   bench/torch-anchors.sh THREADS [OPENBLAS_THREADS] [WORKLOADS]     (needs run-anchors.sh's scratch folder)
# OpenBLAS's own thread count changes PyTorch's speed a lot on a shared 2-core machine: PERF.md asks for the
# best setting, so run it with 1 and with THREADS and keep the faster line.
set -euo pipefail
# glibc's malloc returns every large freed block to the kernel (mmap above 128 KiB, heap trimming), so
# PyTorch, which allocates fresh activations every batch, pays page faults on every tensor: measured here
# (2026-11-29), a 16→16 3×3 conv on 100×28×28 trained at 18 GFLOP/s, and 89 with these settings that make
# malloc keep and reuse its memory. They are PyTorch's best setting on this machine, so they are the default
# (set KEIKO_ANCHOR_MALLOC=default to measure glibc's defaults).
if [ "${KEIKO_ANCHOR_MALLOC:-tuned}" = tuned ]; then
  export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432} MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4294967296} MALLOC_TOP_PAD_=${MALLOC_TOP_PAD_:-268435456}
fi
T=${1:-1}
OB=${2:-$T}
W=${3:-mlp,simple,deep,alexnet}
work="${ANCHORS_WORKDIR:-${TMPDIR:-/tmp}/keiko-anchors}"
[ -f "$work/data/x.f32" ] || bash /work/shared/perf/run-anchors.sh 1 >/dev/null
cd "$work"
for w in ${W//,/ }; do
  out=$(mktemp)
  line=$( { OPENBLAS_NUM_THREADS=$OB /usr/bin/time -f '%M' -o "$out" /usr/bin/python3 bench_torch.py --threads "$T" --workloads "$w"; } | grep '^{' || true)
  kb=$(cat "$out"); rm -f "$out"
  [ -n "$line" ] && echo "${line%\}}, \"peak_rss_mb\": $((kb / 1024)), \"openblas_threads\": $OB}"
done
