/*
 * gemm_v4.cu: C = A B, step 4 of the GEMM ladder: 2-d register tiling.
 * Each thread computes a TM x TN = 8 x 8 block of C in 64 registers.
 *
 * Block (bx, by) computes the BM x BN tile C[by*BM ..][bx*BN ..] with
 * (BM/TM) * (BN/TN) threads; thread (tx, ty) = (t % (BN/TN), t / (BN/TN))
 * owns rows ty*TM .. + TM and columns tx*TN .. + TN of it. Per k it loads a
 * column of 8 values of A and a row of 8 values of B from shared memory
 * into registers and does their 64 products (an outer product).
 *
 * What it fixes in v3: 16 shared loads per 64 multiply-adds (0.25 per FMA,
 * v3 had 1.125), and with 128x128 tiles each float loaded from global
 * memory serves 128 FMAs. This is the step that makes the kernel compute-bound.
 * What is still wrong (v5 fixes it):
 *   - every load is a scalar 4-byte instruction, global and shared alike:
 *     the load instructions compete with the FMAs for issue slots;
 *   - a thread's 8 values of A for one k lie BK floats apart in As
 *     (row-major), and its 8 values of B are 8 consecutive floats at a stride
 *     of 8 floats between threads, so a warp's reads of Bs hit the same
 *     banks several times over (bank conflicts serialise them);
 *   - C is written 8 scalars at a time, with lanes 8 floats apart.
 */
#include "bench/ladders/gemm/gemm_common.h"

template <int BM, int BN, int BK, int TM, int TN>
__global__ void gemm_kernel4(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  // As[m][k] = A[m0 + m][k0 + k], Bs[k][n] = B[k0 + k][n0 + n].
  __shared__ float As[BM][BK];
  __shared__ float Bs[BK][BN];
  const int t = threadIdx.x;
  const int tx = t % (BN / TN), ty = t / (BN / TN);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[TM][TN] = {};
  float a[TM], b[TN];
  for (int k0 = 0; k0 < K; k0 += BK) {
    // Each thread stages (BM + BN) * BK / kThreads elements, zero outside.
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
      LADDER_UNROLL
      for (int i = 0; i < TM; ++i) a[i] = As[ty * TM + i][k];
      LADDER_UNROLL
      for (int j = 0; j < TN; ++j) b[j] = Bs[k][tx * TN + j];
      LADDER_UNROLL
      for (int i = 0; i < TM; ++i)
        LADDER_UNROLL
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    // Barrier: everyone has finished reading before the next step overwrites the tiles.
    __syncthreads();
  }
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty * TM + i;
    if (m >= M) break;
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tx * TN + j;
      if (n < N) C[static_cast<size_t>(m) * N + n] = acc[i][j];
    }
  }
}

template <int BM, int BN>
std::string launch4(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kBK = 8, kT = 8;
  constexpr int kThreads = (BM / kT) * (BN / kT);
  GESSO_LAUNCH((gemm_kernel4<BM, BN, kBK, kT, kT>), dim3((N + BN - 1) / BN, (M + BM - 1) / BM), kThreads, 0,
               nullptr, A, B, C, M, N, K);
  return "tile " + std::to_string(BM) + "x" + std::to_string(BN) + ", " + std::to_string(kThreads) +
         " threads, 8x8/thread";
}

// 128x128 tiles (256 threads) when --threads allows, else 64x64 (64 threads).
std::string gemm_v4(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  if (threads >= 256) return launch4<128, 128>(A, B, C, M, N, K);
  return launch4<64, 64>(A, B, C, M, N, K);
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v4", gemm_v4, argc, argv); }
