/*
 * sgemm.cu: test kernels for the SIMT runtime. A 16x16 tiled SGEMM
 * (C = A B, A is (M, K), B is (K, N), C is (M, N), row-major, float) and four
 * copies of it, each with one bug the runtime must catch (docs/SIMT.md):
 *   no_second_sync  next tile written while others read this one: wrong
 *                   result, TSan race between the store and the read of the tile
 *   no_first_sync   tile read before it is written: wrong result, TSan race
 *   early_return    `return` before the barriers: error with arrived/exited counts
 *   no_k_check      loads past K: ASan heap-buffer-overflow at the loads
 * Real CUDA: compiled by nvcc, and as C++ for the runtime (tests/simt/CMakeLists.txt).
 */
#include "kernels/cuda/launch.h"
#include "tests/simt/kernels.h"

namespace simt_test {
namespace {

constexpr int kTile = 16;

// A block computes one 16x16 tile of C, one thread per element, walking K in
// steps of 16 through a tile of A and a tile of B staged in shared memory.
__global__ void sgemm_tiled_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();  // the tiles are complete before anyone reads them
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();  // everyone has finished reading before the next load overwrites them
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

__global__ void sgemm_no_second_sync_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;  // [mark:nss_store]
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;  // [mark:nss_store_b]
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];  // [mark:nss_read]
    // BUG: no __syncthreads() here: a fast thread overwrites the tiles with
    // the next step's values while slower ones still read this step's.
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

__global__ void sgemm_no_first_sync_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;  // [mark:nfs_store]
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;  // [mark:nfs_store_b]
    // BUG: no __syncthreads() here: the tiles are read before the other
    // threads have written their elements.
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];  // [mark:nfs_read]
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

__global__ void sgemm_early_return_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  if (row >= M || col >= N) return;  // BUG: these threads never reach the barriers below
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    As[ty][tx] = k0 + tx < K ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = k0 + ty < K ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();  // [mark:er_barrier]
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  C[row * N + col] = acc;
}

__global__ void sgemm_no_k_check_kernel(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * kTile + ty, col = blockIdx.x * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += kTile) {
    // BUG: no `k0 + tx < K` / `k0 + ty < K`: the last step reads past K.
    As[ty][tx] = row < M ? A[row * K + k0 + tx] : 0.0f;          // [mark:nkc_load_a]
    Bs[ty][tx] = col < N ? B[(k0 + ty) * N + col] : 0.0f;        // [mark:nkc_load_b]
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

}  // namespace

void sgemm(Sgemm variant, const float* A, const float* B, float* C, int M, int N, int K) {
  const dim3 block(kTile, kTile);
  const dim3 grid((N + kTile - 1) / kTile, (M + kTile - 1) / kTile);
  switch (variant) {
    case Sgemm::tiled: GESSO_LAUNCH(sgemm_tiled_kernel, grid, block, 0, 0, A, B, C, M, N, K); break;
    case Sgemm::no_second_sync: GESSO_LAUNCH(sgemm_no_second_sync_kernel, grid, block, 0, 0, A, B, C, M, N, K); break;
    case Sgemm::no_first_sync: GESSO_LAUNCH(sgemm_no_first_sync_kernel, grid, block, 0, 0, A, B, C, M, N, K); break;
    case Sgemm::early_return: GESSO_LAUNCH(sgemm_early_return_kernel, grid, block, 0, 0, A, B, C, M, N, K); break;
    case Sgemm::no_k_check: GESSO_LAUNCH(sgemm_no_k_check_kernel, grid, block, 0, 0, A, B, C, M, N, K); break;
  }
}

}  // namespace simt_test
