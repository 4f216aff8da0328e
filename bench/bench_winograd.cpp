/*
 * bench_winograd.cpp: 3x3 stride-1 pad-1 convolutions (float, batch 1),
 * Winograd F(4x4, 3x3) against im2col + GEMM in the same run, forward and
 * backward-input, on 1 and 2 OpenMP threads (kernels/winograd.h).
 *
 *   vgg     VGG-19's 3x3 layers at a 256 px input (C_in = C_out):
 *           64 @256, 128 @128, 256 @64, 512 @32, 512 @16
 *   vggx    the other VGG-19 layers at 256 px, where the width changes:
 *           3->64 @256 (the image), 64->128 @128, 128->256 @64, 256->512 @32
 *   small   where the crossover lies (winograd_profitable's thresholds):
 *           channels 4..64 at 8..64 px, and 512 channels at 20 and 24 px
 *
 * The "winograd" rows force Winograd (GESSO_CONV=winograd), even where auto
 * would pick im2col; their label says "(auto: im2col)" there.
 *
 * GFLOP/s count the direct convolution's work, 2 C_in C_out 9 OH OW flops,
 * for both algorithms (Winograd does ~4x fewer: its rate is "effective").
 *
 *   OMP_WAIT_POLICY=passive ./bench_winograd --benchmark_filter='vgg.*threads:1'
 *   ./bench_winograd --benchmark_min_time=0.01     # a quick smoke run
 *
 * Arguments: /cin/cout/hw/threads (hw: the input's height = width).
 * The GEMM backend is the default one (GESSO_GEMM overrides it); the label says which.
 */
#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/winograd.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

using namespace gesso;
using kernels::ConvAlgorithm;

namespace {

std::vector<float> random_values(int64_t n, uint64_t seed) {
  Generator gen(seed);
  return rand({n}, gen, TensorOptions(DType::f32), -1.0, 1.0).to_vector<float>();
}

void bench_conv3x3(benchmark::State& state, ConvAlgorithm algorithm, bool backward_input) {
  kernels::Conv2dGeometry g;
  g.N = 1;
  g.C_in = state.range(0);
  g.C_out = state.range(1);
  g.H = g.W = state.range(2);
  g.kH = g.kW = 3;
  g.pad_h = g.pad_w = 1;
  g.OH = g.H;
  g.OW = g.W;
  const int threads = static_cast<int>(state.range(3));
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(threads);
  kernels::set_conv_algorithm(algorithm);
  const std::vector<float> w = random_values(g.C_out * g.C_in * 9, 1), bias = random_values(g.C_out, 2);
  std::vector<float> in = random_values(g.N * (backward_input ? g.C_out : g.C_in) * g.H * g.W, 3);
  std::vector<float> out(static_cast<size_t>(g.N * (backward_input ? g.C_in : g.C_out) * g.H * g.W));
  for (auto _ : state) {
    if (backward_input) kernels::conv2d_backward_input_cpu(in.data(), w.data(), out.data(), g);
    else kernels::conv2d_forward_cpu(in.data(), w.data(), bias.data(), out.data(), g);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  kernels::set_conv_algorithm(ConvAlgorithm::automatic);
  omp_set_num_threads(saved_threads);
  const double flops = 2.0 * g.N * g.C_in * g.C_out * 9 * g.OH * g.OW;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string("gemm=") + kernels::gemm_backend_name(kernels::gemm_backend()) +
                 (algorithm == ConvAlgorithm::winograd && !kernels::winograd_profitable(g) ? " (auto: im2col)"
                                                                                            : ""));
}

void vgg_args(benchmark::internal::Benchmark* b) {
  for (int64_t threads : {1, 2})
    for (auto [c, hw] : {std::pair<int64_t, int64_t>{64, 256}, {128, 128}, {256, 64}, {512, 32}, {512, 16}})
      b->Args({c, c, hw, threads});
  b->ArgNames({"cin", "cout", "hw", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void vggx_args(benchmark::internal::Benchmark* b) {
  for (int64_t threads : {1, 2})
    for (auto [cin, cout, hw] : {std::tuple<int64_t, int64_t, int64_t>{3, 64, 256}, {64, 128, 128}, {128, 256, 64},
                                 {256, 512, 32}})
      b->Args({cin, cout, hw, threads});
  b->ArgNames({"cin", "cout", "hw", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void small_args(benchmark::internal::Benchmark* b) {
  for (int64_t threads : {1, 2}) {
    for (int64_t c : {4, 8, 16, 32, 64})
      for (int64_t hw : {8, 16, 32, 64}) b->Args({c, c, hw, threads});
    for (int64_t hw : {20, 24}) b->Args({512, 512, hw, threads});
  }
  b->ArgNames({"cin", "cout", "hw", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bench_conv3x3, vgg_forward_winograd, ConvAlgorithm::winograd, false)->Apply(vgg_args);
BENCHMARK_CAPTURE(bench_conv3x3, vgg_forward_im2col, ConvAlgorithm::im2col, false)->Apply(vgg_args);
BENCHMARK_CAPTURE(bench_conv3x3, vgg_backward_input_winograd, ConvAlgorithm::winograd, true)->Apply(vgg_args);
BENCHMARK_CAPTURE(bench_conv3x3, vgg_backward_input_im2col, ConvAlgorithm::im2col, true)->Apply(vgg_args);
BENCHMARK_CAPTURE(bench_conv3x3, vggx_forward_winograd, ConvAlgorithm::winograd, false)->Apply(vggx_args);
BENCHMARK_CAPTURE(bench_conv3x3, vggx_forward_im2col, ConvAlgorithm::im2col, false)->Apply(vggx_args);
BENCHMARK_CAPTURE(bench_conv3x3, vggx_backward_input_winograd, ConvAlgorithm::winograd, true)->Apply(vggx_args);
BENCHMARK_CAPTURE(bench_conv3x3, vggx_backward_input_im2col, ConvAlgorithm::im2col, true)->Apply(vggx_args);
BENCHMARK_CAPTURE(bench_conv3x3, small_forward_winograd, ConvAlgorithm::winograd, false)->Apply(small_args);
BENCHMARK_CAPTURE(bench_conv3x3, small_forward_im2col, ConvAlgorithm::im2col, false)->Apply(small_args);
BENCHMARK_CAPTURE(bench_conv3x3, small_backward_input_winograd, ConvAlgorithm::winograd, true)->Apply(small_args);
BENCHMARK_CAPTURE(bench_conv3x3, small_backward_input_im2col, ConvAlgorithm::im2col, true)->Apply(small_args);

BENCHMARK_MAIN();
