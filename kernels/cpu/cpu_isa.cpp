// cpu_isa.cpp: the run-time choice of kernels/cpu_isa.h (CPU feature test,
// GESSO_CPU_ISA, the override used by tests and benchmarks).
#include "kernels/cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace gesso::kernels {

namespace {
std::atomic<int> g_isa{-1};  // -1: not chosen yet (GESSO_CPU_ISA is read at the first use)

// The AVX-512 kernels use the foundation plus the byte/word, doubleword and
// vector-length extensions (all present on every AVX-512 CPU since Skylake-SP).
bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}
}  // namespace

bool cpu_isa_supported(CpuIsa isa) { return isa == CpuIsa::avx2 || cpu_has_avx512(); }

const char* cpu_isa_name(CpuIsa isa) { return isa == CpuIsa::avx512 ? "avx512" : "avx2"; }

CpuIsa cpu_isa_from_env() {
  const CpuIsa best = cpu_has_avx512() ? CpuIsa::avx512 : CpuIsa::avx2;
  const char* v = std::getenv("GESSO_CPU_ISA");
  if (v == nullptr || *v == '\0') return best;
  const std::string s(v);
  if (s == "avx2") return CpuIsa::avx2;
  if (s == "avx512") {
    GESSO_CHECK(cpu_has_avx512(),
                "GESSO_CPU_ISA=avx512, but this CPU lacks AVX-512 (avx512f, avx512bw, avx512dq, avx512vl); "
                "expected GESSO_CPU_ISA=avx2 or unset");
    return CpuIsa::avx512;
  }
  fail("GESSO_CPU_ISA: expected 'avx2' or 'avx512' (or unset), got '", s, "'");
}

CpuIsa cpu_isa() {
  int isa = g_isa.load(std::memory_order_relaxed);
  if (isa < 0) {
    isa = static_cast<int>(cpu_isa_from_env());  // throws on a bad value, and stays unchosen
    g_isa.store(isa);
  }
  return static_cast<CpuIsa>(isa);
}

void set_cpu_isa(CpuIsa isa) {
  GESSO_CHECK(cpu_isa_supported(isa), "set_cpu_isa: this CPU lacks ", cpu_isa_name(isa),
              " (avx512f, avx512bw, avx512dq, avx512vl); expected avx2");
  g_isa.store(static_cast<int>(isa));
}

ScopedCpuIsa::ScopedCpuIsa(CpuIsa isa) : previous_(cpu_isa()) { set_cpu_isa(isa); }
ScopedCpuIsa::~ScopedCpuIsa() { g_isa.store(static_cast<int>(previous_)); }

}  // namespace gesso::kernels
