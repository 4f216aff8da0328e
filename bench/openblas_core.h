/*
 * openblas_core.h: makes OpenBLAS, the CPU GEMM yardstick, run its real
 * kernels in a benchmark. OpenBLAS 0.3.21 falls back to its generic SSE3
 * kernels ("Prescott") on CPUs newer than it knows (this Emerald Rapids),
 * several times slower, and reads OPENBLAS_CORETYPE only when it loads. So a
 * benchmark calls use_best_openblas_core(argv) first thing in main(): when
 * OpenBLAS went generic and nobody chose a core, it sets OPENBLAS_CORETYPE to
 * the best core type for this CPU and runs the program again, same
 * arguments, saying so in one line. Used by bench/bench_gemm.cpp and
 * bench/ladders/cpu_gemm/cpu_gemm_library.cpp.
 */
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "kernels/gemm.h"

namespace gesso::bench {

// The OpenBLAS core type that suits this CPU best ("" off x86: nothing to pick).
inline const char* best_openblas_core() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_is("amd")) return "Zen";
  return "Haswell";
#else
  return "";
#endif
}

// Returns only when nothing needed doing, or when the re-execution failed
// (then the run goes on with the generic kernels, and says so).
inline void use_best_openblas_core(const char* program, char** argv) {
  if (!kernels::gemm_openblas_available() || !kernels::gemm_openblas_generic_core()) return;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // chosen by the user (or by the re-execution)
  const char* core = best_openblas_core();
  if (*core == '\0') return;
  std::printf("%s: OpenBLAS runs its generic '%s' kernels on this CPU; running again with OPENBLAS_CORETYPE=%s\n",
              program, kernels::gemm_openblas_core(), core);
  std::fflush(stdout);
  setenv("OPENBLAS_CORETYPE", core, 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "%s: ", program);
  std::perror("execv(/proc/self/exe) failed; going on with OpenBLAS's generic kernels");
}

}  // namespace gesso::bench
