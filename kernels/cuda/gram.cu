/*
 * gram.cu: the Gram matrix G = scale * X X^T of one image's features, on the
 * GPU and, compiled as C++, on the SIMT runtime. CPU twin and layouts:
 * kernels/gram.h (x is (C, HW) row-major, g is (C, C), written with `=`).
 *
 * Versions:
 *   kernel1  one TILE x TILE tile of G per block; the TILE rows of X that
 *            the tile's i range and j range need are staged through shared
 *            memory TILE columns at a time: cuda-samples' matrixMul with
 *            B = A^T.
 *
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++; checked
 * against the CPU twin by `ctest -L simt` (tests/test_simt_ops.cpp) and, on
 * a machine with a GPU, by `ctest -L gpu`.
 */
#include "kernels/cuda/launch.h"
#include "kernels/gram.h"

namespace gesso::kernels::GESSO_CUDA_NS {

// Block (bx, by) computes G[by*TILE .. +TILE][bx*TILE .. +TILE]; thread
// (tx, ty) owns one element, g[i0 + ty][j0 + tx].
template <int TILE>
__global__ void gram_forward_kernel1(const float* x, float* g, int C, int HW, float scale) {
  // rows_i[r][c] = x[i0 + r][k0 + c], rows_j[r][c] = x[j0 + r][k0 + c]; the
  // +1 column keeps the column-wise reads of rows_j off one shared bank.
  __shared__ float rows_i[TILE][TILE + 1];
  __shared__ float rows_j[TILE][TILE + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int i0 = blockIdx.y * TILE, j0 = blockIdx.x * TILE;
  float acc = 0.f;
  for (int k0 = 0; k0 < HW; k0 += TILE) {
    // Thread (tx, ty) stages column k0 + tx of rows i0 + ty and j0 + ty,
    // zero past the edges so that the inner loop needs no bounds checks.
    const int k = k0 + tx;
    rows_i[ty][tx] = (i0 + ty < C && k < HW) ? x[static_cast<size_t>(i0 + ty) * HW + k] : 0.f;
    rows_j[ty][tx] = (j0 + ty < C && k < HW) ? x[static_cast<size_t>(j0 + ty) * HW + k] : 0.f;
    // Barrier: the loop below reads values that other threads just staged.
    __syncthreads();
    for (int c = 0; c < TILE; ++c) acc += rows_i[ty][c] * rows_j[tx][c];
    // Barrier: the next pass overwrites the tiles, which slower threads may
    // still be reading.
    __syncthreads();
  }
  if (i0 + ty < C && j0 + tx < C) g[static_cast<size_t>(i0 + ty) * C + j0 + tx] = scale * acc;
}

void gram_forward_cuda(const float* x, float* g, int C, int HW, float scale, cudaStream_t stream) {
  GESSO_CHECK(x != nullptr && g != nullptr, "gram_forward_cuda: x and g must be non-null");
  GESSO_CHECK(C > 0 && HW > 0, "gram_forward_cuda: C and HW must be positive, got C=", C, " HW=", HW);
  if (block_threads(256) >= 256) {
    const dim3 block(16, 16), grid((C + 15) / 16, (C + 15) / 16);
    GESSO_LAUNCH(gram_forward_kernel1<16>, grid, block, 0, stream, x, g, C, HW, scale);
  } else {
    const dim3 block(8, 8), grid((C + 7) / 8, (C + 7) / 8);
    GESSO_LAUNCH(gram_forward_kernel1<8>, grid, block, 0, stream, x, g, C, HW, scale);
  }
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
