/*
 * cpu_gemm_v2.cpp: C = A B, step 2 of the CPU GEMM ladder, in two moves:
 * (a) the loops reordered i, k, j, (b) then blocked for the caches.
 *
 * (a) What v1 got wrong: its inner loop walked down a column of B (stride N)
 * and summed into one float. In the order i, k, j the inner loop is
 *     C[i][j] += A[i][k] * B[k][j]   for j = 0 .. N-1
 * one scalar of A times a row of B into a row of C: both rows contiguous,
 * and the N updates independent, so the compiler turns the loop into 8-wide
 * AVX2 FMAs (__restrict tells it that C does not overlap A or B). Every
 * cache line of B now serves 16 multiply-adds instead of 1.
 * What is left: for every row of C the whole of B (K x N, 4 MiB at 1024)
 * streams through the caches, larger than this core's 2 MiB L2, so each
 * FMA waits on a vector of B from L3.
 *
 * (b) Blocking: cut B into tiles of KB x NB = 128 x 512 floats (256 KiB,
 * which fits the L2, here 2 MiB, on the AVX2 yardstick Zen 3 512 KiB), and
 * run every row of C against one tile before moving to the next:
 *     for each tile of B (j0, k0):  for i:  for k in the tile:  for j in the tile
 * The tile is read M times from L2 instead of from L3; the row segment of C
 * it updates (NB floats, 2 KiB) and of A (KB floats) stay in L1 across the
 * KB steps of k. C is zeroed first, since every K block adds to it.
 *
 * What is still wrong (v3 fixes it): every 8-wide FMA of the inner loop
 * loads a vector of C, loads a vector of B and stores C back: three memory
 * operations per FMA, where the core does two FMAs but only two or three
 * loads and one or two stores per cycle. The loop is bound by those loads
 * and stores at a third or so of the FMA peak, however well the tiles fit
 * (a 32 x 256 tile, 32 KiB, which fits the L1, measured no faster here).
 *
 * Build and run (from the repository root; CMake builds it as cpu_gemm_v2):
 *   g++ -O3 -march=x86-64-v3 -fopenmp bench/ladders/cpu_gemm/cpu_gemm_v2.cpp -o cpu_gemm_v2
 *   OMP_WAIT_POLICY=passive ./cpu_gemm_v2 [--n 1024] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * n = 1024, best run, measured FMA peak 96 GFLOP/s AVX2 on one thread):
 *   (a) i-k-j           1 thread: 14.4 GFLOP/s, 15% of the AVX2 peak (29x v1)
 *   (b) blocked 128x512 1 thread: 35.9 GFLOP/s, 37% of the AVX2 peak
 */
#include "cpu_gemm_common.h"

void gemm_v2_ikj(const float* __restrict A, const float* __restrict B, float* __restrict C, int64_t M, int64_t N,
                 int64_t K, int /*threads*/) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * N;
    for (int64_t j = 0; j < N; ++j) c[j] = 0.f;
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[i * K + k];
      const float* b = B + k * N;
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

constexpr int64_t kTileK = 128, kTileN = 512;  // a B tile of 256 KiB, for the L2

void gemm_v2_blocked(const float* __restrict A, const float* __restrict B, float* __restrict C, int64_t M,
                     int64_t N, int64_t K, int /*threads*/) {
  for (int64_t i = 0; i < M * N; ++i) C[i] = 0.f;
  for (int64_t j0 = 0; j0 < N; j0 += kTileN) {
    const int64_t j1 = std::min(N, j0 + kTileN);
    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
      const int64_t k1 = std::min(K, k0 + kTileK);
      for (int64_t i = 0; i < M; ++i) {
        float* c = C + i * N;
        for (int64_t k = k0; k < k1; ++k) {
          const float a = A[i * K + k];
          const float* b = B + k * N;
          for (int64_t j = j0; j < j1; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

int main(int argc, char** argv) {
  using cpu_gemm::Isa;
  return cpu_gemm::run_ladder_step("cpu_gemm_v2: loops i-k-j (vectorised), then cache-blocked",
                                   {{"v2a i-k-j", gemm_v2_ikj, Isa::avx2, false},
                                    {"v2b i-k-j, blocked 128x512", gemm_v2_blocked, Isa::avx2, false}},
                                   argc, argv);
}
