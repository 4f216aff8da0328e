/*
 * bench_conv.cpp: conv2d and conv_transpose2d on the layer shapes of DCGAN at
 * 64 x 64 (batch 64, kernel 4, stride 2, pad 1), forward alone and forward +
 * backward (input, weight and bias gradients), through the autograd ops.
 * Reports GFLOP/s counting 2 multiply-add flops per weight tap per output
 * pixel; forward + backward counts three times the forward (the two adjoints
 * cost one forward each; bias and bookkeeping are not counted).
 *
 *   discriminator (conv2d):             3->64 @64x64, 64->128 @32x32, 128->256 @16x16, 256->512 @8x8
 *   generator (conv_transpose2d):       512->256 @4x4, 256->128 @8x8, 128->64 @16x16, 64->3 @32x32
 *
 *   ./bench_conv --benchmark_filter=conv2d_forward
 *   ./bench_conv --benchmark_min_time=0.01     # a quick smoke run
 *
 * Arguments of each benchmark: /cin/cout/hw (hw: the input's height = width).
 * The GEMM backend is the default one (GESSO_GEMM overrides it); the label says which.
 */
#include <benchmark/benchmark.h>

#include <string>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/gemm.h"

using namespace gesso;

namespace {

constexpr int64_t kBatch = 64, kKernel = 4;

Conv2dParams dcgan_params() {
  Conv2dParams p;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 1;
  return p;
}

std::string backend_label() {
  const kernels::GemmBackend b = kernels::gemm_backend();
  std::string label = std::string("gemm=") + kernels::gemm_backend_name(b);
  if (b == kernels::GemmBackend::openblas) label += std::string(" core=") + kernels::gemm_openblas_core();
  return label;
}

// conv2d: x (64, cin, hw, hw) -> (64, cout, hw/2, hw/2);
// conv_transpose2d: x (64, cin, hw, hw) -> (64, cout, 2hw, 2hw).
void bench_layer(benchmark::State& state, bool transposed, bool with_backward) {
  const int64_t cin = state.range(0), cout = state.range(1), hw = state.range(2);
  const int64_t out_hw = transposed ? hw * 2 : hw / 2;
  const Conv2dParams p = dcgan_params();
  Generator gen(7);
  TensorOptions opt = TensorOptions(DType::f32).grad(with_backward);
  Tensor x = randn({kBatch, cin, hw, hw}, gen, opt);
  Tensor w = randn(transposed ? Shape{cin, cout, kKernel, kKernel} : Shape{cout, cin, kKernel, kKernel}, gen, opt,
                   0.0, 0.02);
  Tensor b = zeros({cout}, opt);
  Tensor gy = randn({kBatch, cout, out_hw, out_hw}, gen);
  for (auto _ : state) {
    Tensor y = transposed ? conv_transpose2d(x, w, b, p) : conv2d(x, w, b, p);
    if (with_backward) {
      autograd::backward(y, gy);
      x.zero_grad();
      w.zero_grad();
      b.zero_grad();
    }
    benchmark::DoNotOptimize(y.impl_ptr().get());
  }
  // The conv2d that this layer is (or is the adjoint of): its output pixels times its taps.
  const int64_t conv_out_pixels = kBatch * (transposed ? hw * hw : out_hw * out_hw);
  const double forward_flops = 2.0 * conv_out_pixels * cin * cout * kKernel * kKernel;
  state.counters["GFLOP/s"] = benchmark::Counter(forward_flops * (with_backward ? 3 : 1) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(backend_label());
}

void discriminator_args(benchmark::internal::Benchmark* b) {
  b->Args({3, 64, 64})->Args({64, 128, 32})->Args({128, 256, 16})->Args({256, 512, 8});
  b->ArgNames({"cin", "cout", "hw"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void generator_args(benchmark::internal::Benchmark* b) {
  b->Args({512, 256, 4})->Args({256, 128, 8})->Args({128, 64, 16})->Args({64, 3, 32});
  b->ArgNames({"cin", "cout", "hw"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bench_layer, conv2d_forward, false, false)->Apply(discriminator_args);
BENCHMARK_CAPTURE(bench_layer, conv2d_forward_backward, false, true)->Apply(discriminator_args);
BENCHMARK_CAPTURE(bench_layer, conv_transpose2d_forward, true, false)->Apply(generator_args);
BENCHMARK_CAPTURE(bench_layer, conv_transpose2d_forward_backward, true, true)->Apply(generator_args);

BENCHMARK_MAIN();
