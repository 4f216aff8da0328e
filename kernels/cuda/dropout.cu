/*
 * dropout.cu: the CUDA twin of kernels/dropout.h, float32: the same mask as
 * the CPU twin for the same (seed, offset), since keep[i] comes from the
 * same Philox uniform (kernels/random.h), and y = x * keep * (1 / (1 - p))
 * in the same float operations, so y and keep match bit for bit.
 *
 * Versions:
 *   dropout_forward_kernel1  one thread per Philox block (4 consecutive
 *                            elements; one generator call for four lanes)
 *
 * Checked against the CPU twin by `ctest -L simt` (tests/parity_elementwise.h).
 */
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/dropout.h"
#include "kernels/random.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// Thread g (grid-stride) draws block offset + g and handles elements 4g .. 4g+3 (those below n).
__global__ void dropout_forward_kernel1(const float* x, float* y, float* keep, int64_t n, double p,
                                        float inv_keep, uint64_t seed, uint64_t offset) {
  const int64_t groups = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += step) {
    const Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(g), seed);
    for (int lane = 0; lane < 4; ++lane) {
      const int64_t i = 4 * g + lane;
      if (i < n) {
        const float k = philox_unit(r.v[lane]) >= p ? 1.0f : 0.0f;
        keep[i] = k;
        y[i] = x[i] * k * inv_keep;
      }
    }
  }
}

}  // namespace

void dropout_forward_cuda(const float* x, float* y, float* keep, int64_t n, double p, uint64_t seed,
                          uint64_t offset, cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "dropout_forward_cuda: n must be >= 0, got ", n);
  GESSO_CHECK(p >= 0.0 && p < 1.0, "dropout_forward_cuda: p must be in [0, 1), got ", p);
  if (n == 0) return;
  GESSO_CHECK(x != nullptr && y != nullptr && keep != nullptr, "dropout_forward_cuda: x, y and keep must be non-null");
  const int threads = block_threads(256);
  GESSO_CHECK(threads >= 1 && threads <= 1024, "dropout_forward_cuda: block size must be in [1, 1024], got ", threads);
  // The CPU twin's scale, computed the same way (in double, rounded to float).
  const float inv_keep = static_cast<float>(1.0 / (1.0 - p));
  GESSO_LAUNCH(dropout_forward_kernel1, grid_blocks((n + 3) / 4, threads), threads, 0, stream, x, y, keep, n, p,
               inv_keep, seed, offset);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
