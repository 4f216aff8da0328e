/*
 * bench_gemm.cpp: square float GEMM (C = A B, n x n), the handwritten blocked
 * kernel against OpenBLAS, at 1 and 2 OpenMP threads. Reports GFLOP/s
 * (2 n^3 flops per product).
 *
 *   ./bench_gemm                                        # everything
 *   ./bench_gemm --benchmark_filter='handwritten/512/'  # one backend and size
 *   ./bench_gemm --benchmark_min_time=0.01              # a quick smoke run
 *
 * The openblas rows are labelled with the kernel family OpenBLAS picked; on a
 * CPU newer than the installed OpenBLAS knows it falls back to "Prescott"
 * (SSE3): run with OPENBLAS_CORETYPE=SkylakeX (or Haswell) to compare with
 * its real kernels.
 *
 * Arguments of each benchmark: /n/threads.
 */
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

using namespace gesso;
using kernels::GemmBackend;

namespace {

std::vector<float> random_matrix(int64_t n, uint64_t seed) {
  Generator gen(seed);
  return rand({n, n}, gen, TensorOptions(DType::f32), -1.0, 1.0).to_vector<float>();
}

void bench_gemm(benchmark::State& state, GemmBackend backend) {
  const int64_t n = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  if (backend == GemmBackend::openblas && !kernels::gemm_openblas_available()) {
    state.SkipWithError("this build has no OpenBLAS");
    return;
  }
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<float> a = random_matrix(n, 1), b = random_matrix(n, 2), c(n * n);
  for (auto _ : state) {
    if (backend == GemmBackend::handwritten)
      kernels::gemm_blocked_cpu<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    else {
      kernels::set_gemm_backend(GemmBackend::openblas);
      kernels::gemm_cpu<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  omp_set_num_threads(saved_threads);
  // OpenBLAS's speed depends on the kernels it picked for this CPU: say which.
  if (backend == GemmBackend::openblas) state.SetLabel(std::string("core=") + kernels::gemm_openblas_core());
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void gemm_args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {256, 512, 1024, 2048})
    for (int64_t threads : {1, 2}) b->Args({n, threads});
  b->ArgNames({"n", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bench_gemm, handwritten, GemmBackend::handwritten)->Apply(gemm_args);
BENCHMARK_CAPTURE(bench_gemm, openblas, GemmBackend::openblas)->Apply(gemm_args);

BENCHMARK_MAIN();
