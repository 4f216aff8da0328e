/*
 * gemm_v1.cu: C = A B, step 1 of the GEMM ladder: one thread per element of
 * C, the definition moved to the GPU as it is.
 *
 * Thread (tx, ty) of block (bx, by) computes C[by*BY + ty][bx*BX + tx]: a
 * dot product of a row of A and a column of B, K multiply-adds.
 *
 * What is right: threadIdx.x runs along a row of C, so a warp reads 32
 * consecutive floats of B (one coalesced line) and one float of A (a
 * broadcast), and writes 32 consecutive floats of C.
 * What is wrong (v2 fixes it): every thread loads 2 floats from global
 * memory per multiply-add. Each element of A is read by all N/BX blocks of
 * its block row and each element of B by all M/BY blocks of its column, and
 * the caches hold only a fraction of that reuse: the kernel is bound by
 * memory traffic, far from the arithmetic the GPU can do.
 */
#include "bench/ladders/gemm/gemm_common.h"

__global__ void gemm_kernel1(const float* A, const float* B, float* C, int M, int N, int K) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (row >= M || col >= N) return;  // no barrier in this kernel
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[static_cast<size_t>(row) * K + k] * B[static_cast<size_t>(k) * N + col];
  C[static_cast<size_t>(row) * N + col] = acc;
}

// Blocks of 32 x (threads / 32): a warp is one row segment of C.
std::string gemm_v1(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  const dim3 block(32, threads / 32);
  const dim3 grid((N + 31) / 32, (M + block.y - 1) / block.y);
  GESSO_LAUNCH(gemm_kernel1, grid, block, 0, nullptr, A, B, C, M, N, K);
  return "block 32x" + std::to_string(block.y) + ", 1 element/thread";
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v1", gemm_v1, argc, argv); }
