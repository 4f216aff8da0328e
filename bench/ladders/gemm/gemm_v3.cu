/*
 * gemm_v3.cu: C = A B, step 3 of the GEMM ladder: 1-d register tiling.
 * Each thread computes TM = 8 elements of one column of C.
 *
 * Block (bx, by) computes the BM x BN tile C[by*BM ..][bx*BN ..]; thread t
 * owns column t % BN and rows (t / BN) * TM .. + TM of it. Per step of K the
 * block stages a BM x BK tile of A and a BK x BN tile of B in shared memory;
 * per k, each thread reads one value of B into a register and multiplies it
 * by TM values of A (the same for the whole warp: broadcasts).
 *
 * What it fixes in v2: shared loads per multiply-add fall from 2 to
 * (TM + 1) / TM = 1.125, and global loads per multiply-add fall with the
 * larger tile (each element of A serves BN FMAs, each of B serves BM).
 * What is still wrong (v4 fixes it): the A values a thread needs for one k
 * are reloaded for every column it does not own; a thread could reuse each
 * loaded value of A across several columns as it reuses b across rows: a
 * 2-d tile of results per thread.
 */
#include "bench/ladders/gemm/gemm_common.h"

template <int BM, int BN, int BK, int TM>
__global__ void gemm_kernel3(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kThreads = BM * BN / TM;
  // As[m][k] = A[m0 + m][k0 + k], Bs[k][n] = B[k0 + k][n0 + n].
  __shared__ float As[BM][BK];
  __shared__ float Bs[BK][BN];
  const int t = threadIdx.x;
  const int col = t % BN, row0 = (t / BN) * TM;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[TM] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    // Each thread stages (BM*BK + BK*BN) / kThreads elements; consecutive
    // threads take consecutive elements of a row (coalesced), zero outside.
    for (int i = t; i < BM * BK; i += kThreads) {
      const int m = i / BK, k = i % BK;
      As[m][k] = (m0 + m < M && k0 + k < K) ? A[static_cast<size_t>(m0 + m) * K + k0 + k] : 0.f;
    }
    for (int i = t; i < BK * BN; i += kThreads) {
      const int k = i / BN, n = i % BN;
      Bs[k][n] = (k0 + k < K && n0 + n < N) ? B[static_cast<size_t>(k0 + k) * N + n0 + n] : 0.f;
    }
    // Barrier: the tiles are complete before anyone reads them.
    __syncthreads();
    for (int k = 0; k < BK; ++k) {
      const float b = Bs[k][col];
      LADDER_UNROLL
      for (int i = 0; i < TM; ++i) acc[i] += As[row0 + i][k] * b;
    }
    // Barrier: everyone has finished reading before the next step overwrites the tiles.
    __syncthreads();
  }
  for (int i = 0; i < TM; ++i)
    if (m0 + row0 + i < M && n0 + col < N) C[static_cast<size_t>(m0 + row0 + i) * N + n0 + col] = acc[i];
}

template <int BM, int BN>
std::string launch3(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kBK = 8, kTM = 8;
  GESSO_LAUNCH((gemm_kernel3<BM, BN, kBK, kTM>), dim3((N + BN - 1) / BN, (M + BM - 1) / BM), BM * BN / kTM, 0,
               nullptr, A, B, C, M, N, K);
  return "tile " + std::to_string(BM) + "x" + std::to_string(BN) + ", " + std::to_string(BM * BN / kTM) +
         " threads, 8x1/thread";
}

// 64x64 tiles with 512 threads when --threads allows, else 64x32 (256) or 32x16 (64).
std::string gemm_v3(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  if (threads >= 512) return launch3<64, 64>(A, B, C, M, N, K);
  if (threads >= 256) return launch3<64, 32>(A, B, C, M, N, K);
  return launch3<32, 16>(A, B, C, M, N, K);
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v3", gemm_v3, argc, argv); }
