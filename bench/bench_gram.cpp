/*
 * bench_gram.cpp: the Gram matrix kernel (kernels/cpu/gram.cpp) beside a
 * naive triple loop, on one VGG-like layer: C = 256 channels, HW = 4096
 * (a 64x64 feature map), float. Argument: OpenMP threads (1, 2).
 *
 * The rate shown as "Gflop=.../s" counts the full product, 2 * C * C * HW
 * flops, for both versions, although the kernel computes only the upper
 * triangle (about half of it) and mirrors: the figure reads "as fast as a
 * full F F^T product at this rate", the comparison that matters to a user of
 * gram(). The kernel's arithmetic rate is about half of it.
 *
 *   ./build/bench/bench_gram --benchmark_counters_tabular=true
 */
#include <benchmark/benchmark.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/gram.h"
#include "kernels/random.h"

namespace {

constexpr int kC = 256, kHW = 4096;

std::vector<float> features() {
  std::vector<float> x(static_cast<size_t>(kC) * kHW);
  gesso::kernels::philox_uniform_cpu<float>(7, 0, x.data(), static_cast<int64_t>(x.size()), -1.0, 1.0);
  return x;
}

// The definition, written plainly: every (i, j), every k, no blocking, no symmetry.
void gram_naive(const float* x, float* g, int C, int HW, float scale) {
#pragma omp parallel for
  for (int i = 0; i < C; ++i)
    for (int j = 0; j < C; ++j) {
      float acc = 0.0f;
      for (int k = 0; k < HW; ++k) acc += x[static_cast<int64_t>(i) * HW + k] * x[static_cast<int64_t>(j) * HW + k];
      g[static_cast<int64_t>(i) * C + j] = scale * acc;
    }
}

void report(benchmark::State& state) {
  const double flops = 2.0 * kC * kC * kHW;  // the full product (see the file comment)
  state.counters["Gflop"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = static_cast<double>(state.range(0));
}

void BM_gram_kernel(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  std::vector<float> x = features(), g(static_cast<size_t>(kC) * kC);
  for (auto _ : state) {
    gesso::kernels::gram_forward_cpu<float>(x.data(), g.data(), kC, kHW, 1.0f / (kC * kHW));
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  report(state);
}

void BM_gram_naive(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  std::vector<float> x = features(), g(static_cast<size_t>(kC) * kC);
  for (auto _ : state) {
    gram_naive(x.data(), g.data(), kC, kHW, 1.0f / (kC * kHW));
    benchmark::DoNotOptimize(g.data());
    benchmark::ClobberMemory();
  }
  report(state);
}

}  // namespace

BENCHMARK(BM_gram_kernel)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gram_naive)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
