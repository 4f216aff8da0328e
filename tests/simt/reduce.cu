/*
 * reduce.cu: test kernels for the SIMT runtime. A warp-shuffle block
 * reduction (correct), and three bugs the runtime must catch (docs/SIMT.md):
 *   block_sum with blockDim 48   "reads lane 16 which does not exist"
 *   warp_sum_divergent           deadlock report: lanes 0-15 wait at one
 *                                shuffle, lanes 16-31 at the next
 *   block_sum_warp_synchronous   wrong result, TSan race in the
 *                                unsynchronised warp tail
 * Real CUDA: compiled by nvcc, and as C++ for the runtime.
 */
#include "kernels/cuda/launch.h"
#include "tests/simt/kernels.h"

namespace simt_test {
namespace {

// Sum over a full warp by shuffles; lane 0 ends with the total.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);  // [mark:warp_sum]
  return v;
}

// Grid-stride: each thread sums its elements, each warp reduces by shuffles,
// the first warp reduces the per-warp partials, and one atomic per block adds
// the block's sum. blockDim.x must be a multiple of 32.
__global__ void block_sum_kernel(const float* x, float* out, int n) {
  __shared__ float partial[32];
  float v = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
  const int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();  // every warp's partial is written before warp 0 reads them
  if (warp == 0) {
    const int nwarps = (blockDim.x + warpSize - 1) / warpSize;
    v = lane < nwarps ? partial[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) atomicAdd(out, v);
  }
}

// One warp per block of 32 threads.
__global__ void warp_sum_divergent_kernel(const float* x, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % warpSize;
  float v = i < n ? x[i] : 0.0f;
  // BUG: the full mask names lanes 16-31, which never execute this line.
  if (lane < 16) v += __shfl_down_sync(0xffffffffu, v, 16);  // [mark:div_shfl]
  for (int offset = 8; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);  // [mark:div_rest]
  if (lane == 0) atomicAdd(out, v);
}

// The pre-Volta idiom: a shared-memory tree, finished by the first warp
// "in lockstep". Blocks of 128 threads.
__global__ void block_sum_warp_synchronous_kernel(const float* x, float* out, int n) {
  __shared__ float s[128];
  const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();  // all 128 values are staged
  if (t < 64) s[t] += s[t + 64];
  __syncthreads();  // the 64 partial sums are written
  if (t < 32) {
    // BUG: no __syncwarp() between the steps: lanes of a warp do not run in
    // lockstep (Volta and later), so a lane may read a neighbour's element
    // before or after the neighbour updated it.
    volatile float* vs = s;
    vs[t] += vs[t + 32];  // [mark:ws_first]
    vs[t] += vs[t + 16];
    vs[t] += vs[t + 8];
    vs[t] += vs[t + 4];
    vs[t] += vs[t + 2];
    vs[t] += vs[t + 1];  // [mark:ws_last]
  }
  if (t == 0) atomicAdd(out, s[0]);
}

}  // namespace

void block_sum(const float* x, float* out, int n, int blocks, int threads) {
  GESSO_LAUNCH(block_sum_kernel, blocks, threads, 0, 0, x, out, n);
}

void warp_sum_divergent(const float* x, float* out, int n) {
  GESSO_LAUNCH(warp_sum_divergent_kernel, (n + 31) / 32, 32, 0, 0, x, out, n);
}

void block_sum_warp_synchronous(const float* x, float* out, int n) {
  GESSO_LAUNCH(block_sum_warp_synchronous_kernel, (n + 127) / 128, 128, 0, 0, x, out, n);
}

}  // namespace simt_test
