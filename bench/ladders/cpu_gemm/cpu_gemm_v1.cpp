/*
 * cpu_gemm_v1.cpp: C = A B, step 1 of the CPU GEMM ladder: the definition,
 * three loops i, j, k, one dot product per element of C.
 *
 * What is wrong with it (v2 fixes the first two):
 *  - The inner loop walks down a column of B: stride N floats, so every
 *    multiply-add touches a new cache line and uses 4 of its 64 bytes. At
 *    N = 1024 the stride is 4 KiB, so all those lines fall into the same set
 *    of the L1 (and a handful of L2 sets): only ~12 of them stay, and a
 *    column of B is re-read from L3 for every element of C.
 *  - It does not vectorise: the sum into one float is a chain the compiler
 *    may not reorder (without -ffast-math), one FMA at a time, each waiting 4
 *    cycles for the previous one. At best 1/64 of the AVX2 peak (8 lanes x 2
 *    units x 4 cycles of latency), far less with the cache misses.
 *  - Nothing is reused from registers: two loads per multiply-add.
 *
 * Build and run (from the repository root; CMake builds it as cpu_gemm_v1):
 *   g++ -O3 -march=x86-64-v3 -fopenmp bench/ladders/cpu_gemm/cpu_gemm_v1.cpp -o cpu_gemm_v1
 *   OMP_WAIT_POLICY=passive ./cpu_gemm_v1 [--n 1024] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * n = 1024, best run, measured FMA peak 96 GFLOP/s AVX2 on one thread):
 *   1 thread: 0.5 GFLOP/s, 0.5% of the AVX2 peak (4.4 s a product).
 */
#include "cpu_gemm_common.h"

void gemm_v1(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int /*threads*/) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float sum = 0.f;
      for (int64_t k = 0; k < K; ++k) sum += A[i * K + k] * B[k * N + j];
      C[i * N + j] = sum;
    }
}

int main(int argc, char** argv) {
  return cpu_gemm::run_ladder_step("cpu_gemm_v1: naive i-j-k triple loop",
                                   {{"v1 naive i-j-k", gemm_v1, cpu_gemm::Isa::avx2, false}}, argc, argv);
}
