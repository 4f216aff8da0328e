/*
 * random.cu: the CUDA twins of kernels/random.h, float32: Philox4x32-10
 * uniforms and normals, the same numbers as the CPU twins for the same
 * (seed, offset). Element i comes from counter offset + i/4, lane i%4,
 * computed with the very inline functions the CPU uses (philox4x32_10,
 * philox_unit, philox_normal_lane in kernels/random.h), in double, then
 * rounded to float.
 *
 * Versions:
 *   philox_uniform_kernel1, philox_normal_kernel1
 *       one thread per Philox block (4 consecutive elements): one
 *       generator call gives all four lanes, where a thread per element
 *       would run the 10 rounds four times.
 *
 * Checked against the CPU twins by `ctest -L simt` (tests/parity_elementwise.h):
 * uniforms bit for bit, normals within 1e-6.
 */
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/random.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// Thread g (grid-stride) draws block offset + g and writes elements 4g .. 4g+3 (those below n).
__global__ void philox_uniform_kernel1(uint64_t seed, uint64_t offset, float* out, int64_t n, double lo,
                                       double hi) {
  const int64_t groups = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += step) {
    const Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(g), seed);
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * g + lane;
      if (i < n) out[i] = static_cast<float>(lo + (hi - lo) * philox_unit(r.v[lane]));
    }
  }
}

// Thread g (grid-stride) draws block offset + g and writes elements 4g .. 4g+3 (those below n).
__global__ void philox_normal_kernel1(uint64_t seed, uint64_t offset, float* out, int64_t n, double mean,
                                      double std) {
  const int64_t groups = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += step) {
    const Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(g), seed);
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * g + lane;
      if (i < n) out[i] = static_cast<float>(mean + std * philox_normal_lane(r, lane));
    }
  }
}

int philox_threads(const char* who) {
  const int threads = block_threads(256);
  GESSO_CHECK(threads >= 1 && threads <= 1024, who, ": block size must be in [1, 1024], got ", threads);
  return threads;
}

}  // namespace

void philox_uniform_cuda(uint64_t seed, uint64_t offset, float* out, int64_t n, double lo, double hi,
                         cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "philox_uniform_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(out != nullptr, "philox_uniform_cuda: out must be non-null");
  const int threads = philox_threads("philox_uniform_cuda");
  GESSO_LAUNCH(philox_uniform_kernel1, grid_blocks((n + 3) / 4, threads), threads, 0, stream, seed, offset, out, n,
               lo, hi);
}

void philox_normal_cuda(uint64_t seed, uint64_t offset, float* out, int64_t n, double mean, double std,
                        cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "philox_normal_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(out != nullptr, "philox_normal_cuda: out must be non-null");
  const int threads = philox_threads("philox_normal_cuda");
  GESSO_LAUNCH(philox_normal_kernel1, grid_blocks((n + 3) / 4, threads), threads, 0, stream, seed, offset, out, n,
               mean, std);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
