#!/usr/bin/env bash
# test_simt_sanitizers.sh: the SIMT runtime's acceptance tests under the
# sanitizers (docs/SIMT.md): configures build-simt-tsan (ThreadSanitizer) and
# build-simt-asan (AddressSanitizer + UndefinedBehaviorSanitizer), builds only
# the simt test targets in each, and runs `ctest -L simt` there. In these
# builds the tests also check the sanitizer reports of the broken kernels:
# TSan races at the lines of a missing barrier or __syncwarp, an ASan
# heap-buffer-overflow, a UBSan out-of-bounds index.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD"
jobs="${GESSO_JOBS:-$(nproc)}"

# TSan maps its shadow memory at fixed addresses; with more address-space
# randomisation than its layout expects (vm.mmap_rnd_bits > 28 on some
# kernels), it dies with "unexpected memory mapping". Running without
# randomisation avoids that.
tsan_prefix=()
bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
if [ "$bits" -gt 28 ] && command -v setarch >/dev/null; then
  tsan_prefix=(setarch "$(uname -m)" -R)
fi

run() {  # run DIR SANITIZERS [PREFIX...]
  local dir=$1 sanitize=$2
  shift 2
  echo "== $dir (GESSO_SANITIZE=$sanitize)"
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGESSO_WITH_CUDA=OFF \
        -DGESSO_SANITIZE="$sanitize" > "$dir/configure.log" 2>&1 \
    || { cat "$dir/configure.log"; exit 1; }
  # Every test labelled simt: the runtime's own acceptance tests and the
  # parity tests of gesso's kernels (tests/test_simt_*.cpp).
  local targets
  targets=$(ctest --test-dir "$dir" -L simt -N 2>/dev/null | sed -n 's/^ *Test *#[0-9]*: *\([A-Za-z0-9_]*\).*/\1/p' \
            | grep -v '^simt_nvcc_compiles$' || true)
  # A test may run a program under another name (ladders): build the tests
  # that are targets, and everything else the simt tests need is their deps.
  local known
  known=$(cmake --build "$dir" --target help | sed -n 's/^\([A-Za-z0-9_]*\): .*/\1/p')
  targets=$(comm -12 <(echo "$targets" | sort -u) <(echo "$known" | sort -u) | tr '\n' ' ')
  # The ladders' tests run bench/ladders' <kernel>_vN_simt programs.
  targets="$targets $(echo "$known" | grep '_simt$' | tr '\n' ' ')"
  # shellcheck disable=SC2086
  cmake --build "$dir" --target simt_kernel_runner $targets -j"$jobs"
  "$@" ctest --test-dir "$dir" -L simt --output-on-failure
}

start=$SECONDS
# One OpenMP thread under TSan: Debian's libgomp is not built with TSan, so
# the CPU references' OpenMP loops would be reported as false races; the
# CUDA threads being checked are the SIMT runtime's fibers, not OpenMP's.
run build-simt-tsan thread env OMP_NUM_THREADS=1 "${tsan_prefix[@]}"
run build-simt-asan address,undefined
echo "== simt sanitizer tests passed in $((SECONDS - start)) s"
