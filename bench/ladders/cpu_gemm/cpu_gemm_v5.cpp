/*
 * cpu_gemm_v5.cpp: C = A B, step 5 of the CPU GEMM ladder: v4's threaded
 * loop nest around an AVX-512 micro-kernel, 14 x 32 floats of C in 28 zmm
 * registers, chosen at run time.
 *
 * What v4 left: on a CPU with AVX-512 (this one; not the AVX2-only Zen 3
 * yardstick) half of each FMA unit idles, since a ymm FMA is 8 lanes and a
 * zmm FMA 16, at the same rate of two per cycle here (the probe says so:
 * compare the avx2 and avx512 peaks).
 *
 * The micro-kernel, scaled to AVX-512's 32 registers of 16 floats: a tile
 * of MR x NR = 14 x 32 (two zmm per row of C) in 28 accumulators; per step of
 * k it loads two zmm of B and, for each of the 14 rows, broadcasts one float
 * of A and does 2 FMAs: 28 + 2 + 1 = 31 of the 32 registers (GCC 12 keeps
 * all of them in registers, no spills: check with objdump -d). That is 16
 * loads per 28 FMAs, and 28 independent chains, plenty for latency 4 x 2
 * units.
 * The blocking follows: a B sliver is KC x 32 floats, so KC = 192 keeps it at
 * 24 KiB, half of this L1d (48 KiB), the other half for the A panel going
 * past (14 x 192 x 4 = 10.5 KiB); MC = 336 (24 panels) makes the A block 252
 * KiB of the 2 MiB L2.
 *
 * Run-time choice: the build targets AVX2 (x86-64-v3), so the kernel alone
 * is compiled for AVX-512, with __attribute__((target(...))), and called only
 * when __builtin_cpu_supports says the CPU has avx512f, bw, dq and vl (and
 * GESSO_CPU_ISA is not avx2). Elsewhere this program says "skipped" and why
 * (and exits 77, which ctest reports as a skipped test). v4 runs beside it,
 * in the same process, for comparison.
 *
 * Build and run (from the repository root; CMake builds it as cpu_gemm_v5):
 *   g++ -O3 -march=x86-64-v3 -fopenmp bench/ladders/cpu_gemm/cpu_gemm_v5.cpp -o cpu_gemm_v5
 *   OMP_WAIT_POLICY=passive ./cpu_gemm_v5 [--n 1024] [--threads T] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * n = 1024, best runs with the threads on a core; README.md has the details):
 *   1 thread:  147.9 GFLOP/s, 83% of the AVX-512 peak measured in the same run (178)
 *   2 threads: 281.1 GFLOP/s, 80% of the AVX-512 peak on two threads (350)
 *   (1.8x v4 on both; the AVX-512 peak is about 1.85x the AVX2 one here)
 */
#ifndef CPU_GEMM_TOP_STEP
#define CPU_GEMM_TOP_STEP 5
#endif
#include "cpu_gemm_v4.cpp"

struct Avx512Kernel14x32 {
  static constexpr int MR = 14, NR = 32;
  static constexpr int64_t KC = 192, MC = 336, NC = 4096;  // MC a multiple of MR, NC of NR

  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) static void run(int64_t kc, const float* a,
                                                                                 const float* b, float* c,
                                                                                 int64_t ldc, bool accumulate) {
    __m512 acc[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
      for (int r = 0; r < MR; ++r) {
        const __m512 a_rk = _mm512_set1_ps(a[r]);
        acc[r][0] = _mm512_fmadd_ps(a_rk, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a_rk, b1, acc[r][1]);
      }
      a += MR;
      b += NR;
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; ++r) {
      float* row = c + r * ldc;
      if (accumulate) {
        acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(row));
        acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, acc[r][0]);
      _mm512_storeu_ps(row + 16, acc[r][1]);
    }
  }
};

void gemm_v5(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int threads) {
  gemm_packed_threaded<Avx512Kernel14x32>(A, B, C, M, N, K, threads);
}

#if CPU_GEMM_TOP_STEP == 5
int main(int argc, char** argv) {
  using cpu_gemm::Isa;
  const std::string no_avx512 = cpu_gemm::avx512_skip_reason();
  if (!no_avx512.empty()) {
    std::printf("cpu_gemm_v5: skipped: %s\n", no_avx512.c_str());
    return 77;
  }
  return cpu_gemm::run_ladder_step("cpu_gemm_v5: v4 with an AVX-512 14x32 micro-kernel (chosen at run time)",
                                   {{"v4 packed, avx2 6x16, threaded", gemm_v4, Isa::avx2, true},
                                    {"v5 packed, avx512 14x32, threaded", gemm_v5, Isa::avx512, true}},
                                   argc, argv);
}
#endif
