/*
 * simt_kernel_runner.cpp: runs one of the SIMT runtime's test kernels by name
 * and says what came out. test_simt runs it in a child process for the bugs
 * whose evidence is a sanitizer report (a report may end the process); a
 * reader can run it to see one:
 *   build-simt-tsan/tests/simt/simt_kernel_runner sgemm_no_second_sync
 *
 *   simt_kernel_runner NAME    prints "result: correct", "result: wrong" or
 *                              "result: nan" and the largest error
 *   simt_kernel_runner bench   times a 128^3 tiled SGEMM, emulated, against a
 *                              naive CPU loop
 * The schedule and worker count come from GESSO_SIMT_SCHEDULE and
 * GESSO_SIMT_WORKERS.
 */
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/simt/runtime.h"
#include "tensor/error.h"
#include "tests/simt/kernels.h"

using namespace simt_test;

// Under ThreadSanitizer: do not sleep a second at exit (TSan's default, to
// catch races at exit) only because the runtime's idle worker threads exist.
extern "C" const char* __tsan_default_options() { return "atexit_sleep_ms=0"; }

namespace {

std::vector<float> pseudo_random(size_t n, unsigned seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(s >> 8) / float(1u << 24) * 2.0f - 1.0f;  // [-1, 1)
  }
  return v;
}

// C = A B in double, the reference.
std::vector<double> gemm_reference(const std::vector<float>& A, const std::vector<float>& B, int M, int N, int K) {
  std::vector<double> C(size_t(M) * N, 0.0);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) C[size_t(i) * N + j] += double(A[size_t(i) * K + k]) * B[size_t(k) * N + j];
  return C;
}

// Prints the verdict on `got` against `want` and returns the exit status.
int verdict(const std::vector<float>& got, const std::vector<double>& want, double atol, double rtol) {
  double worst = 0;
  bool nan = false, wrong = false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) nan = true;
    double err = std::fabs(got[i] - want[i]);
    worst = std::max(worst, err);
    if (!(err <= atol + rtol * std::fabs(want[i]))) wrong = true;
  }
  std::printf("result: %s (largest error %.3g; schedule %s, %d workers)\n", nan ? "nan" : wrong ? "wrong" : "correct",
              worst, gesso::simt::schedule_name(gesso::simt::current_schedule()).c_str(), gesso::simt::workers());
  return 0;
}

// 37x29x45: odd, so every edge tile is partial and K ends mid-tile.
constexpr int kM = 37, kN = 29, kK = 45;

int run_sgemm(Sgemm variant) {
  // Exact sizes: one element past the end of A or B is outside the allocation.
  std::vector<float> A = pseudo_random(size_t(kM) * kK, 1), B = pseudo_random(size_t(kK) * kN, 2);
  std::vector<float> C(size_t(kM) * kN, 0.0f);
  sgemm(variant, A.data(), B.data(), C.data(), kM, kN, kK);
  // 45 products of values in [-1, 1): float accumulation error stays far below 1e-4.
  return verdict(C, gemm_reference(A, B, kM, kN, kK), 1e-4, 1e-5);
}

int run_warp_synchronous() {
  const int n = 300;
  std::vector<float> x = pseudo_random(n, 3);
  std::vector<float> out(1, 0.0f);
  block_sum_warp_synchronous(x.data(), out.data(), n);
  double want = 0;
  for (float v : x) want += v;
  return verdict(out, {want}, 1e-4, 1e-5);
}

int run_shift_left() {
  const int n = 64;
  std::vector<float> x = pseudo_random(n, 4), y(n, 0.0f);
  shift_left_static_shared(x.data(), y.data(), n);
  std::vector<double> want(n);
  for (int i = 0; i < n; ++i) want[size_t(i)] = (i % 32 == 31) ? 0.0 : x[size_t(i) + 1];
  return verdict(y, want, 0, 0);
}

double cpu_ms() {  // CPU time of the whole process, all threads
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// Best of `reps` runs: wall-clock and CPU milliseconds. On a shared machine
// the CPU time is the steadier figure.
struct Timing {
  double wall = 1e30, cpu = 1e30;
};
Timing best_ms(int reps, const std::function<void()>& f) {
  Timing best;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_ms();
    f();
    double c1 = cpu_ms();
    auto t1 = std::chrono::steady_clock::now();
    best.wall = std::min(best.wall, std::chrono::duration<double, std::milli>(t1 - t0).count());
    best.cpu = std::min(best.cpu, c1 - c0);
  }
  return best;
}

int run_bench() {
  const int n = 128;
  std::vector<float> A = pseudo_random(size_t(n) * n, 5), B = pseudo_random(size_t(n) * n, 6);
  std::vector<float> C(size_t(n) * n), D(size_t(n) * n);
  auto naive = [&] {
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        float acc = 0.0f;
        for (int k = 0; k < n; ++k) acc += A[size_t(i) * n + k] * B[size_t(k) * n + j];
        D[size_t(i) * n + j] = acc;
      }
  };
  auto emulated = [&] { sgemm(Sgemm::tiled, A.data(), B.data(), C.data(), n, n, n); };
  emulated();  // the first launch maps the fiber stacks
  const Timing naive_t = best_ms(7, naive);
  const int default_workers = gesso::simt::workers();
  const Timing emu_t = best_ms(7, emulated);
  gesso::simt::set_workers(1);
  const Timing emu1_t = best_ms(7, emulated);
  gesso::simt::set_workers(default_workers);
  double diff = 0;
  for (size_t i = 0; i < C.size(); ++i) diff = std::max(diff, double(std::fabs(C[i] - D[i])));
  std::printf("128^3 SGEMM, best of 7, wall / CPU ms:\n"
              "  naive CPU loop                         %7.2f / %7.2f\n"
              "  16x16 tiled kernel, SIMT, 1 worker     %7.2f / %7.2f\n"
              "  16x16 tiled kernel, SIMT, %d workers    %7.2f / %7.2f\n"
              "  (%s context switch; 64 blocks x 256 threads, 17 waits each; max |diff| %.2g)\n",
              naive_t.wall, naive_t.cpu, emu1_t.wall, emu1_t.cpu, default_workers, emu_t.wall, emu_t.cpu,
              gesso::simt::context_implementation(), diff);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "";
  try {
    if (name == "sgemm_tiled") return run_sgemm(Sgemm::tiled);
    if (name == "sgemm_no_second_sync") return run_sgemm(Sgemm::no_second_sync);
    if (name == "sgemm_no_first_sync") return run_sgemm(Sgemm::no_first_sync);
    if (name == "sgemm_no_k_check") return run_sgemm(Sgemm::no_k_check);
    if (name == "block_sum_warp_synchronous") return run_warp_synchronous();
    if (name == "shift_left_static_shared") return run_shift_left();
    if (name == "bench") return run_bench();
  } catch (const gesso::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
  std::fprintf(stderr,
               "usage: simt_kernel_runner NAME\n  NAME: sgemm_tiled, sgemm_no_second_sync, sgemm_no_first_sync, "
               "sgemm_no_k_check, block_sum_warp_synchronous, shift_left_static_shared, bench\n");
  return 2;
}
