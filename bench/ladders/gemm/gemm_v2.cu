/*
 * gemm_v2.cu: C = A B, step 2 of the GEMM ladder: TILE x TILE tiles of A and
 * B staged in shared memory (cuda-samples' matrixMul).
 *
 * Block (bx, by) computes the TILE x TILE tile C[by*TILE ..][bx*TILE ..],
 * one element per thread, walking K in steps of TILE: the block loads a tile
 * of A and a tile of B (one element each per thread), waits, and every
 * thread does TILE multiply-adds from shared memory.
 *
 * What it fixes in v1: each element loaded from global memory now serves
 * TILE multiply-adds (TILE threads of the block read it from shared memory),
 * so global traffic drops TILE-fold.
 * What is still wrong (v3 fixes it): each multiply-add reads 2 floats from
 * shared memory. Shared memory is fast, but not 2 loads per FMA fast: the
 * kernel is now bound by shared-memory bandwidth and load instructions, and
 * each thread holds a single accumulator, so there is little work per load
 * to hide latency with.
 */
#include "bench/ladders/gemm/gemm_common.h"

template <int TILE>
__global__ void gemm_kernel2(const float* A, const float* B, float* C, int M, int N, int K) {
  // As[r][c] = A[row0 + r][k0 + c], Bs[r][c] = B[k0 + r][col0 + c].
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += TILE) {
    // One element of each tile per thread, zero outside the matrices, so
    // the loop below needs no bounds checks (and no thread returns early:
    // every thread must reach both barriers).
    As[ty][tx] = (row < M && k0 + tx < K) ? A[static_cast<size_t>(row) * K + k0 + tx] : 0.f;
    Bs[ty][tx] = (k0 + ty < K && col < N) ? B[static_cast<size_t>(k0 + ty) * N + col] : 0.f;
    // Barrier: the tiles are complete before anyone reads them.
    __syncthreads();
    for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
    // Barrier: everyone has finished reading before the next step overwrites the tiles.
    __syncthreads();
  }
  if (row < M && col < N) C[static_cast<size_t>(row) * N + col] = acc;
}

// 32x32 tiles (1024 threads) when --threads allows, else 16x16 (256) or 8x8 (64).
std::string gemm_v2(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  if (threads >= 1024) {
    GESSO_LAUNCH(gemm_kernel2<32>, dim3((N + 31) / 32, (M + 31) / 32), dim3(32, 32), 0, nullptr, A, B, C, M, N, K);
    return "tile 32x32, 1024 threads";
  }
  if (threads >= 256) {
    GESSO_LAUNCH(gemm_kernel2<16>, dim3((N + 15) / 16, (M + 15) / 16), dim3(16, 16), 0, nullptr, A, B, C, M, N, K);
    return "tile 16x16, 256 threads";
  }
  GESSO_LAUNCH(gemm_kernel2<8>, dim3((N + 7) / 8, (M + 7) / 8), dim3(8, 8), 0, nullptr, A, B, C, M, N, K);
  return "tile 8x8, 64 threads";
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v2", gemm_v2, argc, argv); }
