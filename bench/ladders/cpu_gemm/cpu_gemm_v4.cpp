/*
 * cpu_gemm_v4.cpp: C = A B, step 4 of the CPU GEMM ladder: v3's packed loop
 * nest on several threads (OpenMP), one parallel region for the whole
 * product.
 *
 * What v3 left: one core of two idle.
 *
 * How the work is shared: each thread owns a band of C's rows, a whole
 * number of MR-row panels (thread t of T gets panels [t P / T, (t+1) P / T)
 * of the P = ceil(M / MR)), and runs v3's ic / jr / ir loops over its band
 * alone, packing its own A blocks into its own buffer. The B block (KC x NC)
 * is shared: every thread needs all of it. The threads pack its NR-column
 * slivers together (an `omp for` over the slivers) and wait for each other
 * at the end of that loop, the one barrier per block of K:
 *   - no thread reads a sliver before it is packed;
 *   - B is packed into two buffers in turn, so the packing of block b+1
 *     writes the buffer that block b-1 used, which every thread has finished
 *     with by the time it passed block b's barrier.
 * Splitting rows rather than the column slivers of each A block (BLIS's jr
 * loop) needs no barrier per A block, which matters here: with
 * OMP_WAIT_POLICY=passive a waiting thread sleeps in the kernel, and a
 * barrier costs tens of microseconds. At n = 1024 the whole product has 4
 * barriers.
 *
 * Nothing assumes that the threads run at the same time, or at all: the
 * split uses the team OpenMP actually gives (omp_get_num_threads), all
 * waiting is OpenMP's own barrier, and with one thread the region is the v3
 * loop nest. On a shared machine a thread whose core is taken simply
 * finishes its band later.
 *
 * Build and run (from the repository root; CMake builds it as cpu_gemm_v4):
 *   g++ -O3 -march=x86-64-v3 -fopenmp bench/ladders/cpu_gemm/cpu_gemm_v4.cpp -o cpu_gemm_v4
 *   OMP_WAIT_POLICY=passive ./cpu_gemm_v4 [--n 1024] [--threads T] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * n = 1024, best runs with the threads on a core; README.md has the details):
 *   1 thread:   81.5 GFLOP/s, 85% of the AVX2 peak measured in the same run (96)
 *   2 threads: 157.0 GFLOP/s, 84% of the AVX2 peak on two threads (187): 1.9x
 *
 * (v5 #includes this file for its loop nest; see the end of v3's comment.)
 */
#ifndef CPU_GEMM_TOP_STEP
#define CPU_GEMM_TOP_STEP 4
#endif
#include "cpu_gemm_v3.cpp"

template <class Kernel>
void gemm_packed_threaded(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int threads) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const int64_t b_size = Kernel::KC * round_up(std::min(N, Kernel::NC), NR);
  float* b_packed[2] = {cpu_gemm::scratch(0, b_size), cpu_gemm::scratch(1, b_size)};
  std::vector<float*> a_packed(threads);
  for (int t = 0; t < threads; ++t) a_packed[t] = cpu_gemm::scratch(2 + t, Kernel::MC * Kernel::KC);
  const int64_t panels = (M + MR - 1) / MR;

#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t band_begin = panels * t / team * MR, band_end = std::min(M, panels * (t + 1) / team * MR);
    float* a_mine = a_packed[t];
    int64_t block = 0;  // blocks of B packed so far: which buffer is next
    for (int64_t jc = 0; jc < N; jc += Kernel::NC) {
      const int64_t nc = std::min(Kernel::NC, N - jc);
      for (int64_t pc = 0; pc < K; pc += Kernel::KC, ++block) {
        const int64_t kc = std::min(Kernel::KC, K - pc);
        float* b_block = b_packed[block % 2];
#pragma omp for schedule(static)
        for (int64_t jr = 0; jr < nc; jr += NR)
          pack_b_sliver<NR>(B + pc * N + jc + jr, N, kc, std::min<int64_t>(NR, nc - jr), b_block + jr * kc);
        // (the implicit barrier of the omp for: the block is packed, and the
        // other buffer free)
        for (int64_t ic = band_begin; ic < band_end; ic += Kernel::MC) {
          const int64_t mc = std::min(Kernel::MC, band_end - ic);
          pack_a<MR>(A + ic * K + pc, K, mc, kc, a_mine);
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR)
              micro_tile<Kernel>(kc, a_mine + ir * kc, b_block + jr * kc, C + (ic + ir) * N + jc + jr, N,
                                 std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), pc > 0);
        }
      }
    }
  }
}

void gemm_v4(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int threads) {
  gemm_packed_threaded<Avx2Kernel6x16>(A, B, C, M, N, K, threads);
}

#if CPU_GEMM_TOP_STEP == 4
int main(int argc, char** argv) {
  return cpu_gemm::run_ladder_step("cpu_gemm_v4: v3 on several threads (OpenMP, rows of C split, B packed together)",
                                   {{"v4 packed, avx2 6x16, threaded", gemm_v4, cpu_gemm::Isa::avx2, true}}, argc,
                                   argv);
}
#endif
