/*
 * cpu_gemm_common.h: what every step of the CPU GEMM ladder shares (as llm.c's
 * dev/cuda/common.h does for its kernels): options, aligned buffers, the
 * input, the reference in double, the check, the timer, the measured FMA
 * peak and the report. Each cpu_gemm_vN.cpp holds its GEMM and a main() that
 * calls run_ladder_step; read them in order (README.md).
 *
 * The problem: C = A B, all row-major float, A (M, K), B (K, N), C (M, N),
 * leading dimensions K, N and N. Square M = N = K = 1024 unless told.
 *
 * Options (every program of the ladder):
 *   --n N          N, and M and K unless --m / --k give them   (default 1024)
 *   --m M --k K    a rectangular problem
 *   --threads T    time threaded versions at T threads only     (default: 1 and 2)
 *   --repeat R     best of at least R timed runs                (default 5;
 *                  more while under 0.3 s in all, fewer past 4 s)
 *   --check-only   check every version at every thread count, time nothing,
 *                  skip the peak probe (what ctest runs, at a small odd size)
 * Exit status: 0 when every version that ran matched the reference, 1 on a
 * mismatch, 2 on bad options; 77 (v5 where the CPU lacks AVX-512: ctest
 * reports it as skipped, the reason printed).
 *
 * The FMA peak is measured in the same run, not taken from a data sheet: a
 * loop of independent FMA chains, enough of them that every FMA unit has a
 * new one to start each cycle (latency 4 cycles x 2 units = 8 in flight on
 * recent x86 cores; 12 chains of AVX2, 16 of AVX-512), timed for ~0.1 s at 1
 * and at 2 threads. Each version's GFLOP/s is printed as a fraction of the
 * peak of the instruction set it is written in, at the same thread count.
 *
 * Times are wall clock, best of several runs; on a shared machine the best
 * run is the one least disturbed by others, and the report says how much of
 * that run its threads spent on a core (CPU time / wall time / threads):
 * well under 100% means other processes had the cores and the figure is low.
 * Export OMP_WAIT_POLICY=passive when timing (idle OpenMP threads then sleep
 * instead of spinning on a core someone else needs).
 */
#pragma once
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "the CPU GEMM ladder is written for AVX2 + FMA: compile with -march=x86-64-v3 (or -mavx2 -mfma)"
#endif

namespace cpu_gemm {

// ---------------------------------------------------------------- options

struct Shape {
  int64_t M, N, K;
};

struct Options {
  std::vector<Shape> shapes;
  std::vector<int> threads;  // thread counts at which threaded versions run
  int repeat = 5;
  bool check_only = false;
};

inline void usage_and_exit(const char* prog, const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "%s: %s\n", prog, why.c_str());
  std::fprintf(stderr, "usage: %s [--n N] [--m M] [--k K] [--threads T] [--repeat R] [--check-only]\n", prog);
  std::exit(2);
}

// `default_sizes`: the square problems to run when no size is given.
inline Options parse_options(int argc, char** argv, const std::vector<int64_t>& default_sizes = {1024}) {
  Options o;
  int64_t m = 0, n = 0, k = 0;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](int64_t lo, int64_t hi) {
      if (i + 1 >= argc) usage_and_exit(argv[0], a + " needs a value");
      char* end = nullptr;
      const long long v = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v < lo || v > hi)
        usage_and_exit(argv[0], a + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                    "], got '" + argv[i] + "'");
      return static_cast<int64_t>(v);
    };
    if (a == "--n") n = value(1, 1 << 15);
    else if (a == "--m") m = value(1, 1 << 15);
    else if (a == "--k") k = value(1, 1 << 15);
    else if (a == "--threads") threads = static_cast<int>(value(1, 256));
    else if (a == "--repeat") o.repeat = static_cast<int>(value(1, 1000));
    else if (a == "--check-only") o.check_only = true;
    else usage_and_exit(argv[0], a == "--help" || a == "-h" ? "" : "unknown option '" + a + "'");
  }
  if (n > 0 || m > 0 || k > 0) {
    const int64_t side = n > 0 ? n : (m > 0 ? m : k);
    o.shapes = {{m > 0 ? m : side, n > 0 ? n : side, k > 0 ? k : side}};
  } else {
    for (int64_t s : default_sizes) o.shapes.push_back({s, s, s});
  }
  if (threads > 0) o.threads = {threads};
  else o.threads = {1, 2};
  return o;
}

// ---------------------------------------------------------------- memory and input

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;

// 64-byte aligned (a cache line, and a zmm register) storage for n floats.
inline AlignedFloats aligned_floats(size_t n) {
  const size_t bytes = std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64);
  float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (p == nullptr) {
    std::fprintf(stderr, "out of memory allocating %zu bytes\n", bytes);
    std::exit(2);
  }
  return AlignedFloats(p);
}

// A grow-only aligned buffer per slot, kept between calls, so that timed runs
// pay neither for allocation nor for first-touch page faults (a fresh 4 MiB
// packing buffer costs ~1000 faults, a millisecond: a third of a 512^3 GEMM
// on two threads). The ladder runs one GEMM at a time; a threaded GEMM takes
// its slots before its parallel region, one per thread where it needs to.
inline float* scratch(int slot, size_t floats) {
  struct Slot {
    AlignedFloats data;
    size_t size = 0;
  };
  static std::vector<Slot> slots(64);
  if (slot < 0 || slot >= static_cast<int>(slots.size())) {
    std::fprintf(stderr, "scratch: slot %d out of range [0, %zu)\n", slot, slots.size());
    std::exit(2);
  }
  Slot& s = slots[slot];
  if (s.size < floats) {
    s.data = aligned_floats(floats);
    std::memset(s.data.get(), 0, floats * sizeof(float));  // touch the pages now, outside the timed runs
    s.size = floats;
  }
  return s.data.get();
}

// A reproducible input in [-1, 1) (a 32-bit LCG, seeded per matrix).
inline AlignedFloats make_input(size_t count, uint32_t seed) {
  AlignedFloats x = aligned_floats(count);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  return x;
}

// ---------------------------------------------------------------- reference and check

// Rows of the exact product, accumulated in double. Every row when the
// problem is small; above 2^28 multiply-adds (about 645^3) a sample of 48
// rows spread over M, the last row included (it lies in the partial tiles),
// so that checking a 2048^3 product costs a fraction of a second.
struct Reference {
  std::vector<int64_t> rows;
  std::vector<double> values;  // rows.size() x N
};

inline Reference reference_rows(const float* A, const float* B, const Shape& s) {
  Reference ref;
  const bool all = static_cast<double>(s.M) * s.N * s.K <= double(1 << 28);
  const int64_t count = all ? s.M : std::min<int64_t>(s.M, 48);
  for (int64_t i = 0; i < count; ++i) ref.rows.push_back(all ? i : (count == 1 ? 0 : i * (s.M - 1) / (count - 1)));
  ref.values.assign(ref.rows.size() * s.N, 0.0);
  for (size_t r = 0; r < ref.rows.size(); ++r) {
    double* out = &ref.values[r * s.N];
    for (int64_t k = 0; k < s.K; ++k) {
      const double a = A[ref.rows[r] * s.K + k];
      const float* b = B + k * s.N;
      for (int64_t j = 0; j < s.N; ++j) out[j] += a * b[j];
    }
  }
  return ref;
}

// The number of elements of C (among the reference's rows) that differ from
// the reference by more than atol + rtol * |ref|; the first three are
// described in `first_few`.
//
// Why this tolerance: the inputs lie in [-1, 1), so each product has mean
// magnitude 1/4 and C's elements are sums of K of them, of size ~sqrt(K)/3.
// Every version sums in float, in its own order (blocked, vectorised), each
// add rounding by at most 2^-24 of a partial sum (~sqrt(k)/3 after k terms);
// the errors add up like a random walk, to about 2^-24 K / 4. atol = 1e-6 K
// is some 60 times that, and rtol = 1e-5 covers elements whose partial sums
// ran large; together they stay far below what any indexing or tiling bug
// gives (a term dropped or counted twice moves an element by ~0.25 on
// average).
inline int64_t count_mismatches(const Reference& ref, const float* C, const Shape& s, std::string* first_few) {
  const double atol = 1e-6 * static_cast<double>(s.K), rtol = 1e-5;
  int64_t bad = 0;
  for (size_t r = 0; r < ref.rows.size(); ++r) {
    for (int64_t j = 0; j < s.N; ++j) {
      const double want = ref.values[r * s.N + j], got = C[ref.rows[r] * s.N + j];
      if (!(std::fabs(got - want) <= atol + rtol * std::fabs(want))) {  // also catches NaN
        if (bad < 3) {
          char line[160];
          std::snprintf(line, sizeof line, "    C[%lld][%lld] = %.7g, want %.7g (tolerance %.2g)\n",
                        static_cast<long long>(ref.rows[r]), static_cast<long long>(j), got, want,
                        atol + rtol * std::fabs(want));
          *first_few += line;
        }
        ++bad;
      }
    }
  }
  return bad;
}

// NaN bytes everywhere, so that an element a version forgets to write shows.
inline void poison(float* C, size_t count) { std::memset(C, 0xFF, count * sizeof(float)); }

// ---------------------------------------------------------------- timing

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used so far by all threads of this process.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class F>
double seconds_of(F&& run) {
  const double t0 = now_seconds();
  run();
  return now_seconds() - t0;
}

// One timed run: wall-clock and CPU seconds.
struct RunTime {
  double wall = 1e300, cpu = 0;
  // The share of the run its `threads` threads spent on a core: about 1 when
  // nothing disturbed it, lower when other processes had the cores (with
  // OMP_WAIT_POLICY=passive a thread waiting at a barrier sleeps too). The
  // report prints it, so that a figure taken while the machine was busy
  // shows as such.
  double on_core(int threads) const { return cpu / (wall * threads); }
};

template <class F>
RunTime time_run(F&& run) {
  const double c0 = process_cpu_seconds(), t0 = now_seconds();
  run();
  const double t1 = now_seconds(), c1 = process_cpu_seconds();
  return {t1 - t0, c1 - c0};
}

// Whether to time another run after `runs` runs that took `total` seconds:
// at least `repeat` runs and 0.3 s (a fast GEMM, a few milliseconds a run,
// gets many tries at a stretch when no other process has its core), but stop
// after 4 s once two runs are done (v1 at 1024 takes seconds a run).
inline bool another_run(int runs, double total, int repeat) {
  if (runs < 2) return true;
  if (total >= 4.0 || runs >= 1000) return false;
  return runs < repeat || total < 0.3;
}

// The fastest of a series of runs (see another_run); `runs` gets how many.
template <class F>
RunTime best_run(F&& run, int repeat, int* runs) {
  RunTime best;
  double total = 0;
  int n = 0;
  while (another_run(n, total, repeat)) {
    const RunTime t = time_run(run);
    if (t.wall < best.wall) best = t;
    total += t.wall;
    ++n;
  }
  if (runs != nullptr) *runs = n;
  return best;
}

inline double gflops(const Shape& s, double seconds) {
  return 2.0 * static_cast<double>(s.M) * s.N * s.K / seconds * 1e-9;
}

// ---------------------------------------------------------------- instruction sets and the FMA peak

enum class Isa { avx2, avx512 };
inline const char* isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "avx512"; }

// Empty when AVX-512 code may run here, else why not. GESSO_CPU_ISA=avx2 (the
// engine's knob, see kernels/cpu_isa.h) makes an AVX-512 machine behave like
// the AVX2-only yardstick.
inline std::string avx512_skip_reason() {
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
    return "this CPU lacks AVX-512 (avx512f, avx512bw, avx512dq, avx512vl)";
  const char* env = std::getenv("GESSO_CPU_ISA");
  if (env != nullptr && std::string(env) == "avx2") return "GESSO_CPU_ISA=avx2";
  return "";
}

// One thread's probe: `iterations` steps of 12 independent chains
// acc = acc * m + c (one FMA each). The fixed point of the recurrence is 1,
// so the values stay normal however long it runs; the returned sum keeps the
// compiler from dropping the work. 12 accumulators + m + c = 14 of the 16 ymm
// registers.
inline float fma_chains_avx2(int64_t iterations) {
  constexpr int kChains = 12;
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
  __m256 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, c);
  }
  __m256 sum = acc[0];
#pragma GCC unroll 16
  for (int i = 1; i < kChains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  return lanes[0] + lanes[7];
}

// The same with 16 chains of zmm (of 32 registers).
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) inline float fma_chains_avx512(int64_t iterations) {
  constexpr int kChains = 16;
  const __m512 m = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
  __m512 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, c);
  }
  __m512 sum = acc[0];
#pragma GCC unroll 16
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  return lanes[0] + lanes[15];
}

// GFLOP/s of the probe for `isa` on `threads` threads: chunks of about 2 ms,
// each run by every thread at once, repeated for ~0.1 s; the best chunk
// counts (a chunk during which another process had the core is slower; short
// chunks make it likely that some fit between the other's time slices).
inline double measure_fma_peak(Isa isa, int threads) {
  const int lanes = isa == Isa::avx2 ? 8 : 16, chains = isa == Isa::avx2 ? 12 : 16;
  auto probe = [&](int64_t iterations) {
    return isa == Isa::avx2 ? fma_chains_avx2(iterations) : fma_chains_avx512(iterations);
  };
  volatile float sink = 0;
  int64_t iterations = 1 << 10;
  while (seconds_of([&] { sink = sink + probe(iterations); }) < 0.002) iterations *= 2;
  double best = 0, spent = 0;
  while (spent < 0.1) {
    int team = 1;
    const double t = seconds_of([&] {
#pragma omp parallel num_threads(threads)
      {
        const float r = probe(iterations);
#pragma omp critical(cpu_gemm_sink)
        sink = sink + r;
#pragma omp master
        team = omp_get_num_threads();
      }
    });
    spent += t;
    best = std::max(best, 2.0 * lanes * chains * static_cast<double>(iterations) * team / t * 1e-9);
  }
  return best;
}

// The measured peaks, by instruction set and thread count (0 where that
// instruction set cannot run here).
struct Peaks {
  std::map<int, double> avx2, avx512;
  double of(Isa isa, int threads) const {
    const auto& table = isa == Isa::avx2 ? avx2 : avx512;
    const auto it = table.find(threads);
    return it == table.end() ? 0.0 : it->second;
  }
};

// Probes 1 and 2 threads (and any other count in `threads`), every
// instruction set this CPU runs, and prints one line.
inline Peaks measure_peaks(const std::vector<int>& threads) {
  std::vector<int> counts = {1, 2};
  for (int t : threads)
    if (std::find(counts.begin(), counts.end(), t) == counts.end()) counts.push_back(t);
  Peaks p;
  const std::string no_avx512 = avx512_skip_reason();
  std::printf("measured FMA peak, GFLOP/s:");
  for (int t : counts) std::printf(" avx2 %d thr %.1f;", t, p.avx2[t] = measure_fma_peak(Isa::avx2, t));
  if (no_avx512.empty()) {
    for (size_t i = 0; i < counts.size(); ++i)
      std::printf(" avx512 %d thr %.1f%s", counts[i], p.avx512[counts[i]] = measure_fma_peak(Isa::avx512, counts[i]),
                  i + 1 < counts.size() ? ";" : "\n");
  } else {
    std::printf(" avx512 skipped (%s)\n", no_avx512.c_str());
  }
  return p;
}

// ---------------------------------------------------------------- the report

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

inline void print_machine() {
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::printf("CPU: %s, %d logical CPUs, AVX-512 %s; OMP_WAIT_POLICY=%s\n", cpu_model().c_str(), omp_get_num_procs(),
              avx512_skip_reason().empty() ? "yes" : "no", wait ? wait : "(unset: export it =passive when timing)");
}

// "1024" for a square problem, else "MxNxK".
inline std::string shape_label(const Shape& s) {
  if (s.M == s.N && s.N == s.K) return std::to_string(s.N);
  return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K);
}

// One version of the GEMM: C = A B for row-major A (M, K), B (K, N), C (M,
// N), on `threads` threads (a single-threaded version ignores it).
using GemmFn = void (*)(const float* A, const float* B, float* C, int64_t M, int64_t N, int64_t K, int threads);

struct Version {
  std::string name;
  GemmFn gemm;
  Isa isa;        // the instruction set it is written in: its peak is the yardstick
  bool threaded;  // false: run at 1 thread only
};

// Checks (and unless --check-only, times) every version at every thread
// count on every shape; returns the exit status (see the top of this file).
inline int run_ladder_step(const char* title, const std::vector<Version>& versions, int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  std::printf("%s\n", title);
  print_machine();
  Peaks peaks;
  if (!o.check_only) peaks = measure_peaks(o.threads);
  int status = 0;
  for (const Shape& s : o.shapes) {
    const AlignedFloats A = make_input(s.M * s.K, 1), B = make_input(s.K * s.N, 2);
    AlignedFloats C = aligned_floats(s.M * s.N);
    const Reference ref = reference_rows(A.get(), B.get(), s);
    std::printf("n = %s (M = %lld, N = %lld, K = %lld)\n", shape_label(s).c_str(), static_cast<long long>(s.M),
                static_cast<long long>(s.N), static_cast<long long>(s.K));
    std::printf("  %-34s %7s  %-5s %10s %9s  %s\n", "version", "threads", "check", "best ms", "GFLOP/s",
                o.check_only ? "" : "of the measured peak");
    for (const Version& v : versions) {
      for (int t : v.threaded ? o.threads : std::vector<int>{1}) {
        poison(C.get(), s.M * s.N);
        v.gemm(A.get(), B.get(), C.get(), s.M, s.N, s.K, t);  // the checked run, also the warm-up
        std::string mismatches;
        const int64_t bad = count_mismatches(ref, C.get(), s, &mismatches);
        std::printf("  %-34s %7d  %-5s", v.name.c_str(), t, bad ? "FAIL" : "ok");
        if (bad) status = 1;
        if (!o.check_only) {
          int runs = 0;
          const RunTime best = best_run([&] { v.gemm(A.get(), B.get(), C.get(), s.M, s.N, s.K, t); }, o.repeat, &runs);
          const double peak = peaks.of(v.isa, t), rate = gflops(s, best.wall);
          std::printf(" %10.3f %9.1f  %5.1f%% of %s %d thr (%.0f)  [best of %d, on core %.0f%%]", best.wall * 1e3,
                      rate, 100.0 * rate / peak, isa_name(v.isa), t, peak, runs, 100.0 * best.on_core(t));
        }
        std::printf("\n");
        if (bad)
          std::printf("%s    %lld of %zu checked elements differ\n", mismatches.c_str(), static_cast<long long>(bad),
                      ref.rows.size() * static_cast<size_t>(s.N));
      }
    }
  }
  return status;
}

}  // namespace cpu_gemm
