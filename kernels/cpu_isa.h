/*
 * cpu_isa.h: which x86 vector instruction set the CPU kernels use, chosen
 * once at run time.
 *
 * The build targets x86-64-v3 (AVX2 + FMA), so one binary runs on any recent
 * x86 CPU. A kernel that gains from AVX-512 carries a second version compiled
 * for it alone (functions marked
 * __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))) and picks
 * between them with cpu_isa():
 *   avx2    16 registers of 256 bits (8 floats): the build's baseline
 *   avx512  32 registers of 512 bits (16 floats) and mask registers, used
 *           when the CPU has avx512f, avx512bw, avx512dq and avx512vl
 * The default is the best the CPU has. The environment variable
 * GESSO_CPU_ISA=avx2|avx512 overrides it (read at the first call of
 * cpu_isa()), and set_cpu_isa() / ScopedCpuIsa at any time, so that tests and
 * benchmarks can run every version on one machine. (On a CPU that is not
 * x86-64 the kernels are portable C++ and this choice changes nothing.)
 */
#pragma once

namespace gesso::kernels {

enum class CpuIsa { avx2, avx512 };

// The ISA the CPU kernels use now. The first call reads GESSO_CPU_ISA and
// throws gesso::Error for a bad value (see cpu_isa_from_env).
CpuIsa cpu_isa();
// Whether this CPU can run kernels written for `isa`.
bool cpu_isa_supported(CpuIsa isa);
// "avx2" or "avx512".
const char* cpu_isa_name(CpuIsa isa);
// The ISA GESSO_CPU_ISA asks for, or the best supported one when it is unset
// or empty. Throws gesso::Error naming the variable for an unknown value or
// for an ISA this CPU lacks.
CpuIsa cpu_isa_from_env();
// Throws gesso::Error when this CPU lacks `isa`.
void set_cpu_isa(CpuIsa isa);

// Uses `isa` until the end of the scope (throws like set_cpu_isa).
class ScopedCpuIsa {
 public:
  explicit ScopedCpuIsa(CpuIsa isa);
  ~ScopedCpuIsa();
  ScopedCpuIsa(const ScopedCpuIsa&) = delete;
  ScopedCpuIsa& operator=(const ScopedCpuIsa&) = delete;

 private:
  CpuIsa previous_;
};

}  // namespace gesso::kernels
