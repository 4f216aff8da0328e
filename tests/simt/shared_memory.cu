/*
 * shared_memory.cu: test kernels for the SIMT runtime. A 3-point stencil
 * through dynamic shared memory (correct), and two bugs the runtime must
 * catch (docs/SIMT.md):
 *   stencil3 without the halo   reads dynamic shared memory no thread wrote:
 *                               NaN in the result
 *   shift_left_static_shared    s[threadIdx.x + 1] past a static shared
 *                               array: UBSan out-of-bounds report
 * Real CUDA: compiled by nvcc, and as C++ for the runtime.
 */
#include "kernels/cuda/launch.h"
#include "tests/simt/kernels.h"

namespace simt_test {
namespace {

// y[i] = x[i-1] + 2 x[i] + x[i+1]. Each block stages its blockDim.x elements
// at s[1 .. blockDim.x] and one halo element on each side, in blockDim.x + 2
// floats of dynamic shared memory.
__global__ void stencil3_kernel(const float* x, float* y, int n) {
  GESSO_DYNAMIC_SHARED(float, s);
  const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t + 1] = i < n ? x[i] : 0.0f;
  if (t == 0) s[0] = (i > 0 && i - 1 < n) ? x[i - 1] : 0.0f;
  if (t == int(blockDim.x) - 1) s[t + 2] = i + 1 < n ? x[i + 1] : 0.0f;
  __syncthreads();  // the tile and both halo elements are staged
  if (i < n) y[i] = s[t] + 2.0f * s[t + 1] + s[t + 2];
}

__global__ void stencil3_no_halo_kernel(const float* x, float* y, int n) {
  GESSO_DYNAMIC_SHARED(float, s);
  const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t + 1] = i < n ? x[i] : 0.0f;
  // BUG: s[0] and s[blockDim.x + 1] (the halo) are never written.
  __syncthreads();
  if (i < n) y[i] = s[t] + 2.0f * s[t + 1] + s[t + 2];
}

// Blocks of 32 threads.
__global__ void shift_left_kernel(const float* x, float* y, int n) {
  __shared__ float s[32];
  const int t = threadIdx.x, i = blockIdx.x * 32 + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();  // the block's 32 elements are staged
  if (i < n) y[i] = s[threadIdx.x + 1];  // [mark:shift_read] BUG: thread 31 reads s[32]
}

}  // namespace

void stencil3(const float* x, float* y, int n, int threads, bool with_halo) {
  const int blocks = (n + threads - 1) / threads;
  const size_t smem = (threads + 2) * sizeof(float);
  if (with_halo) GESSO_LAUNCH(stencil3_kernel, blocks, threads, smem, 0, x, y, n);
  else GESSO_LAUNCH(stencil3_no_halo_kernel, blocks, threads, smem, 0, x, y, n);
}

void shift_left_static_shared(const float* x, float* y, int n) {
  GESSO_LAUNCH(shift_left_kernel, (n + 31) / 32, 32, 0, 0, x, y, n);
}

}  // namespace simt_test
