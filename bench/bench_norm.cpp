// bench_norm.cpp: batch norm (training mode) on (64, 128, 16, 16) float32,
// through the op (kernel + allocation + autograd bookkeeping), on 1 and 2
// OpenMP threads.
//
//   forward           batch_norm with batch statistics and running-stat update
//   forward_backward  the same, then the gradients of x, weight and bias (fused kernel)
//
// GB/s counts the compulsory traffic only: forward reads x and writes y
// (2 arrays); the backward reads x and g and writes dx (3 more). The
// kernels read x a second time per channel, from cache when a channel
// (N * H * W * 4 = 64 KiB here) fits in L2.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "autograd/engine.h"
#include "autograd/ops.h"

using namespace gesso;

namespace {

constexpr int64_t kN = 64, kC = 128, kH = 16, kW = 16;
constexpr double kBytesPerArray = static_cast<double>(kN * kC * kH * kW) * sizeof(float);

void BM_batch_norm_forward(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Generator gen(1);
  Tensor x = randn({kN, kC, kH, kW}, gen);
  Tensor w = ones({kC}), b = zeros({kC}), rm = zeros({kC}), rv = ones({kC});
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/true);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["GB/s"] = benchmark::Counter(2 * kBytesPerArray / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_batch_norm_forward_backward(benchmark::State& state) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Generator gen(2);
  Tensor x = randn({kN, kC, kH, kW}, gen, TensorOptions().grad());
  Tensor w = ones({kC}, TensorOptions().grad()), b = zeros({kC}, TensorOptions().grad());
  Tensor rm = zeros({kC}), rv = ones({kC});
  Tensor g = randn({kN, kC, kH, kW}, gen);
  for (auto _ : state) {
    Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/true);
    // grad() rather than backward(): in a network x is an intermediate, and
    // backward() would add a copy of dx into the leaf's .grad.
    std::vector<Tensor> grads = autograd::grad({y}, {x, w, b}, {g});
    benchmark::DoNotOptimize(grads[0].raw_data());
  }
  state.counters["GB/s"] = benchmark::Counter(5 * kBytesPerArray / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_batch_norm_forward)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_batch_norm_forward_backward)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
