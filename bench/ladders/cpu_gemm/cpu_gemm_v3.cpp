/*
 * cpu_gemm_v3.cpp: C = A B, step 3 of the CPU GEMM ladder: packed panels in
 * the GotoBLAS / BLIS loop nest, around an explicit AVX2/FMA micro-kernel
 * that keeps a 6 x 16 tile of C in 12 ymm registers.
 *
 * What v2 left: its inner loop loads and stores C for every vector FMA, and
 * loads a vector of B too: three memory operations per FMA, where the core
 * can start two FMAs per cycle but only two or three loads and one or two
 * stores. It is bound by the L1, at about a third of the FMA peak.
 *
 * The fix is register blocking. The micro-kernel holds an MR x NR = 6 x 16
 * tile of C in registers for a whole run of kc steps of k; each step loads
 * 16 floats of B (two ymm), broadcasts 6 floats of A, and does 12 FMAs on
 * the 12 accumulators: 8 loads per 12 FMAs, no store at all until the end.
 * 12 accumulators are also enough independent chains to hide the FMA's
 * latency (4 cycles x 2 units = 8 needed). 12 + 2 (B) + 1 (A broadcast) =
 * 15 of the 16 ymm registers.
 *
 * For that to run at full speed the micro-kernel must find its operands in
 * cache, in the order it reads them. Hence the loop nest (BLIS's names):
 *
 *   for jc over N in steps of NC                 B block KC x NC lives in L3
 *     for pc over K in steps of KC
 *       pack B[pc:+KC, jc:+NC] into NR-column slivers
 *       for ic over M in steps of MC             A block MC x KC lives in L2
 *         pack A[ic:+MC, pc:+KC] into MR-row panels
 *         for jr over the block's columns in steps of NR   B sliver KC x NR lives in L1
 *           for ir over the block's rows in steps of MR
 *             micro-kernel: C tile (MR x NR) (+)= A panel (MR x KC) * B sliver (KC x NR)
 *
 * Sizes for this machine's caches (48 KiB L1d, 2 MiB L2 per core; the AVX2
 * yardstick, Zen 3, has 32 KiB and 512 KiB): a B sliver is KC x NR x 4 bytes
 * = 16 KiB, a third to a half of the L1, leaving room for the A panel that
 * streams past it; the A block MC x KC x 4 = 168 KiB sits in L2 with room to
 * spare; the B block (4 MiB at most) in L3. Packing copies each block once,
 * contiguous and in the micro-kernel's order (A panel: MR floats per k; B
 * sliver: NR floats per k), zero-padded to whole tiles, so that the
 * micro-kernel never sees a stride, a TLB miss or an edge. Its cost, M K
 * (N / NC) + K N floats copied, is small next to the 2 M N K flops.
 * Edge tiles of C (when M or N is not a multiple of 6 or 16) go through a
 * small buffer.
 *
 * What is still wrong (v4 fixes it): one thread. The other core idles.
 *
 * Build and run (from the repository root; CMake builds it as cpu_gemm_v3):
 *   g++ -O3 -march=x86-64-v3 -fopenmp bench/ladders/cpu_gemm/cpu_gemm_v3.cpp -o cpu_gemm_v3
 *   OMP_WAIT_POLICY=passive ./cpu_gemm_v3 [--n 1024] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * n = 1024, best run, measured FMA peak 96 GFLOP/s AVX2 on one thread):
 *   1 thread: 83.6 GFLOP/s, 87% of the AVX2 peak (2.3x v2b).
 *
 * (v4 and v5 #include this file for its packing and micro-kernel: they
 * define CPU_GEMM_TOP_STEP first, which leaves this file's main() out.)
 */
#include "cpu_gemm_common.h"

// Panels of A: rows [0, mc) x columns [0, kc) of A (row stride lda) as
// ceil(mc / MR) panels, each holding, for k = 0 .. kc-1, the MR values
// A[r][k] of its rows side by side. Rows past mc are zeros.
template <int MR>
void pack_a(const float* A, int64_t lda, int64_t mc, int64_t kc, float* packed) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - i0);
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < rows; ++r) packed[r] = A[(i0 + r) * lda + k];
      for (int64_t r = rows; r < MR; ++r) packed[r] = 0.f;
      packed += MR;
    }
  }
}

// One sliver of B: rows [0, kc) x columns [0, cols) of B (row stride ldb),
// cols <= NR, as kc rows of NR floats. Columns past cols are zeros.
template <int NR>
void pack_b_sliver(const float* B, int64_t ldb, int64_t kc, int64_t cols, float* packed) {
  for (int64_t k = 0; k < kc; ++k) {
    for (int64_t c = 0; c < cols; ++c) packed[c] = B[k * ldb + c];
    for (int64_t c = cols; c < NR; ++c) packed[c] = 0.f;
    packed += NR;
  }
}

// The micro-kernel and its blocking, for the loop nests of v3, v4 and v5.
// run(): C tile (MR x NR, row stride ldc) = (or += when `accumulate`) the
// product of a packed A panel and a packed B sliver, kc steps of k.
struct Avx2Kernel6x16 {
  static constexpr int MR = 6, NR = 16;
  static constexpr int64_t KC = 256, MC = 168, NC = 4096;  // MC a multiple of MR, NC of NR

  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
      for (int r = 0; r < MR; ++r) {
        const __m256 a_rk = _mm256_broadcast_ss(a + r);
        acc[r][0] = _mm256_fmadd_ps(a_rk, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(a_rk, b1, acc[r][1]);
      }
      a += MR;
      b += NR;
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      float* row = c + r * ldc;
      if (accumulate) {
        acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(row));
        acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, acc[r][0]);
      _mm256_storeu_ps(row + 8, acc[r][1]);
    }
  }
};

// The tile of C at c, of which mr x nr are inside C: whole tiles straight
// from the micro-kernel, edge tiles through a buffer (the packed operands are
// zero-padded, so the micro-kernel always computes a whole tile).
template <class Kernel>
void micro_tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                bool accumulate) {
  if (mr == Kernel::MR && nr == Kernel::NR) {
    Kernel::run(kc, a, b, c, ldc, accumulate);
    return;
  }
  alignas(64) float tile[Kernel::MR * Kernel::NR];
  Kernel::run(kc, a, b, tile, Kernel::NR, false);
  for (int64_t r = 0; r < mr; ++r)
    for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.f) + tile[r * Kernel::NR + j];
}

inline int64_t round_up(int64_t x, int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

// The loop nest above, on one thread. The first block of K writes C, the
// others add to it (C is never read before it is written).
template <class Kernel>
void gemm_packed(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  float* b_packed = cpu_gemm::scratch(0, Kernel::KC * round_up(std::min(N, Kernel::NC), NR));
  float* a_packed = cpu_gemm::scratch(1, Kernel::MC * Kernel::KC);
  for (int64_t jc = 0; jc < N; jc += Kernel::NC) {
    const int64_t nc = std::min(Kernel::NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += Kernel::KC) {
      const int64_t kc = std::min(Kernel::KC, K - pc);
      for (int64_t jr = 0; jr < nc; jr += NR)
        pack_b_sliver<NR>(B + pc * N + jc + jr, N, kc, std::min<int64_t>(NR, nc - jr), b_packed + jr * kc);
      for (int64_t ic = 0; ic < M; ic += Kernel::MC) {
        const int64_t mc = std::min(Kernel::MC, M - ic);
        pack_a<MR>(A + ic * K + pc, K, mc, kc, a_packed);
        for (int64_t jr = 0; jr < nc; jr += NR)
          for (int64_t ir = 0; ir < mc; ir += MR)
            micro_tile<Kernel>(kc, a_packed + ir * kc, b_packed + jr * kc, C + (ic + ir) * N + jc + jr, N,
                               std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), pc > 0);
      }
    }
  }
}

void gemm_v3(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int /*threads*/) {
  gemm_packed<Avx2Kernel6x16>(A, B, C, M, N, K);
}

#ifndef CPU_GEMM_TOP_STEP
int main(int argc, char** argv) {
  return cpu_gemm::run_ladder_step("cpu_gemm_v3: packed panels (GotoBLAS/BLIS loop nest), AVX2 6x16 micro-kernel",
                                   {{"v3 packed, avx2 6x16", gemm_v3, cpu_gemm::Isa::avx2, false}}, argc, argv);
}
#endif
