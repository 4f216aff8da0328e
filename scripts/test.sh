#!/usr/bin/env bash
# test.sh: the whole test suite from a fresh clone: installs dependencies,
# builds, runs every ctest (labels cpu and simt; gpu tests report "skipped"
# with the reason when there is no GPU), runs the SIMT tests again under
# ThreadSanitizer and AddressSanitizer+UBSan, checks that no CUDA kernel spills
# registers (scripts/ptxas_report.sh, when nvcc is there), then runs each benchmark binary
# for a moment so that bench/ cannot rot. README's test command and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
export OMP_WAIT_POLICY=passive
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
bash scripts/test_simt_sanitizers.sh
if command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  # Build hygiene: no CUDA kernel spills registers at sm_80 or sm_90 (exit 1 if one does).
  echo "== ptxas report (registers, shared memory, spills per kernel)"
  bash scripts/ptxas_report.sh | tail -n 3
else
  echo "== ptxas report skipped: no nvcc (the CUDA build was skipped too)"
fi
echo "== benchmark smoke run (each benchmark once, minimal time; figures are not meaningful here)"
for b in build/bench/bench_*; do
  [ -x "$b" ] || continue
  "$b" --benchmark_min_time=0.001 --benchmark_filter="${GESSO_BENCH_SMOKE_FILTER:-.}" > /dev/null \
    || { echo "benchmark $b failed"; exit 1; }
  echo "ok $b"
done
