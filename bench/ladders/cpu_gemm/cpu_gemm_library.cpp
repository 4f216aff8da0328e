/*
 * cpu_gemm_library.cpp: the end of the CPU GEMM ladder: the engine's own
 * GEMM, kernels::gemm_cpu<float> with the handwritten backend (whatever
 * kernels/cpu/gemm.cpp holds today), against OpenBLAS's cblas_sgemm, in the
 * same run, on the ladder's problem (C = A B, row-major, square n).
 *
 * For each n (512, 1024, 2048 unless --n) and thread count (1 and 2 unless
 * --threads) it checks both against the reference, times them in turns
 * (best of at least --repeat runs each, as the steps do, taken alternately so
 * that both see the same disturbances on a shared machine), and prints GFLOP/s, the share of the measured FMA peak and
 * the ratio handwritten / OpenBLAS. The goal for the handwritten GEMM
 * is a ratio of at least 0.85 everywhere; the last line gives the worst.
 *
 * OpenBLAS at its real speed: OpenBLAS 0.3.21 does not know CPUs newer than
 * it (this Emerald Rapids) and falls back to its generic SSE3 kernels
 * ("Prescott"), several times slower. The core is chosen when libopenblas
 * loads, from OPENBLAS_CORETYPE, so when it is unset and OpenBLAS went
 * generic this program sets it and runs itself again
 * (bench/openblas_core.h), saying so in one line. Without OpenBLAS in the
 * build it times the handwritten GEMM only.
 *
 * Build and run (CMake builds it as cpu_gemm_library, linked with the gesso
 * library, and OpenBLAS when the build found it):
 *   cmake --build build --target cpu_gemm_library
 *   OMP_WAIT_POLICY=passive build/bench/ladders/cpu_gemm_library [--n 1024] [--threads 2] [--check-only]
 *
 * Measured here (Emerald Rapids VM, 2 vCPUs shared with other engineers' work;
 * kernels/cpu/gemm.cpp as of 2026-11-25 09:17, AVX-512 path; best runs of 5
 * rounds): handwritten / OpenBLAS (SkylakeX) = 1.03, 1.03, 1.00 on 1 thread
 * and 1.11, 1.01, 1.01 on 2 threads at n = 512, 1024, 2048 (about 160
 * GFLOP/s on 1 thread, 310 on 2; README.md has the table).
 */
#include "cpu_gemm_common.h"
#include "bench/openblas_core.h"
#include "kernels/cpu_isa.h"
#include "kernels/gemm.h"

#ifdef GESSO_HAVE_OPENBLAS
#include <cblas.h>
#endif

using namespace gesso;

namespace {

void handwritten(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K) {
  kernels::gemm_cpu<float>(false, false, M, N, K, 1.f, A, K, B, N, 0.f, C, N);
}

#ifdef GESSO_HAVE_OPENBLAS
void openblas(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), 1.f, A, static_cast<int>(K), B, static_cast<int>(N), 0.f, C, static_cast<int>(N));
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef GESSO_HAVE_OPENBLAS
  bench::use_best_openblas_core("cpu_gemm_library", argv);
  const bool have_openblas = true;
#else
  const bool have_openblas = false;
#endif
  using cpu_gemm::Isa;
  const cpu_gemm::Options o = cpu_gemm::parse_options(argc, argv, {512, 1024, 2048});
  // With OpenBLAS on a known core, gemm_cpu's default backend would be
  // OpenBLAS itself: ask for the handwritten one explicitly.
  kernels::set_gemm_backend(kernels::GemmBackend::handwritten);
  std::printf("cpu_gemm_library: kernels::gemm_cpu<float> (handwritten, CPU ISA %s) vs OpenBLAS cblas_sgemm (%s)\n",
              kernels::cpu_isa_name(kernels::cpu_isa()),
              have_openblas ? (std::string("core ") + kernels::gemm_openblas_core()).c_str() : "not in this build");
  cpu_gemm::print_machine();
  cpu_gemm::Peaks peaks;
  if (!o.check_only) peaks = cpu_gemm::measure_peaks(o.threads);
  // The yardstick for "% of peak": the instruction set the library's kernels
  // use here (AVX-512 where the CPU has it, unless GESSO_CPU_ISA=avx2).
  const Isa library_isa = kernels::cpu_isa() == kernels::CpuIsa::avx512 ? Isa::avx512 : Isa::avx2;

  std::printf("  %11s %7s  %-5s %12s %6s  %-5s %12s %6s  %s\n", "n", "threads", "check", "handwritten", "% peak",
              "check", "OpenBLAS", "% peak", "handwritten / OpenBLAS");
  int status = 0;
  double worst_ratio = 1e300;
  for (const cpu_gemm::Shape& s : o.shapes) {
    const cpu_gemm::AlignedFloats A = cpu_gemm::make_input(s.M * s.K, 1), B = cpu_gemm::make_input(s.K * s.N, 2);
    cpu_gemm::AlignedFloats C = cpu_gemm::aligned_floats(s.M * s.N);
    const cpu_gemm::Reference ref = cpu_gemm::reference_rows(A.get(), B.get(), s);
    for (int t : o.threads) {
      omp_set_num_threads(t);  // both use gesso's OpenMP pool (OpenBLAS's OpenMP flavour reads it per call)
      auto run_hand = [&] { handwritten(A.get(), B.get(), C.get(), s.M, s.N, s.K); };
      std::string mismatches;
      auto check = [&](const char* who, auto run) {
        cpu_gemm::poison(C.get(), s.M * s.N);
        run();
        std::string first_few;
        const int64_t bad = cpu_gemm::count_mismatches(ref, C.get(), s, &first_few);
        if (bad) {
          status = 1;
          mismatches += std::string("    ") + who + ": " + std::to_string(bad) + " elements differ\n" + first_few;
        }
        return bad ? "FAIL" : "ok";
      };
      const char* hand_ok = check("handwritten", run_hand);
      const char* blas_ok = "-";
#ifdef GESSO_HAVE_OPENBLAS
      auto run_blas = [&] { openblas(A.get(), B.get(), C.get(), s.M, s.N, s.K); };
      blas_ok = check("OpenBLAS", run_blas);
#endif
      std::printf("  %11s %7d  %-5s", cpu_gemm::shape_label(s).c_str(), t, hand_ok);
      if (o.check_only) {
        std::printf(" %12s %6s  %-5s\n%s", "", "", blas_ok, mismatches.c_str());
        continue;
      }
      cpu_gemm::RunTime best_hand, best_blas;
      double total = 0;
      for (int runs = 0; cpu_gemm::another_run(runs, total, o.repeat); ++runs) {
        const cpu_gemm::RunTime h = cpu_gemm::time_run(run_hand);
        if (h.wall < best_hand.wall) best_hand = h;
        total += h.wall;
#ifdef GESSO_HAVE_OPENBLAS
        const cpu_gemm::RunTime b = cpu_gemm::time_run(run_blas);
        if (b.wall < best_blas.wall) best_blas = b;
        total += b.wall;
#endif
      }
      const double peak = peaks.of(library_isa, t), hand = cpu_gemm::gflops(s, best_hand.wall);
      std::printf(" %12.1f %5.1f%%", hand, 100 * hand / peak);
      double on_core = best_hand.on_core(t);
      if (have_openblas) {
        const double blas = cpu_gemm::gflops(s, best_blas.wall);
        worst_ratio = std::min(worst_ratio, hand / blas);
        on_core = std::min(on_core, best_blas.on_core(t));
        std::printf("  %-5s %12.1f %5.1f%%  %5.2f", blas_ok, blas, 100 * blas / peak, hand / blas);
      }
      std::printf("   [on core %.0f%%]\n%s", 100 * on_core, mismatches.c_str());
    }
  }
  if (!o.check_only)
    std::printf("GFLOP/s: best of at least %d runs each, taken in turns; %% of the measured %s FMA peak at that "
                "thread count; on core: the lower of the two best runs' CPU time / wall time / threads\n",
                o.repeat, cpu_gemm::isa_name(library_isa));
  if (have_openblas && !o.check_only)
    std::printf("worst handwritten / OpenBLAS: %.2f (the issue's goal: at least 0.85)\n", worst_ratio);
  return status;
}
