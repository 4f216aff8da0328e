/*
 * bench_conv.cpp: conv2d and conv_transpose2d on the layer shapes of DCGAN at
 * 64 x 64 (batch 64, widths 64, 4x4 kernels), forward alone (no graph) and
 * forward + backward (gradients to input and weight, no bias), through the
 * autograd ops: the same figures as `gesso gan bench --workload conv`, which
 * bench/compare_pytorch.py compares with PyTorch, here with Google
 * Benchmark's statistics and CPU time (on a shared machine, the CPU time of
 * a 1-thread run is the figure least disturbed by other processes).
 * Reports GFLOP/s counting 2 flops per multiply-add of the forward; forward +
 * backward counts three times the forward (the two adjoints cost one forward
 * each).
 *
 *   discriminator conv2d, stride 2 pad 1:     3->64 @64, 64->128 @32, 128->256 @16, 256->512 @8
 *                 conv2d, valid:              512->1 @4 (the kernel covers the input: one GEMM)
 *   generator conv_transpose2d, s1 p0:        100->512 @1 (1x1 -> 4x4: one GEMM)
 *                 stride 2 pad 1:             512->256 @4, 256->128 @8, 128->64 @16, 64->3 @32
 *
 *   ./bench_conv --benchmark_filter=conv2d_forward/
 *   OMP_NUM_THREADS=1 ./bench_conv --benchmark_min_time=0.01     # a quick smoke run
 *
 * Arguments of each benchmark: /cin/cout/hw/stride/pad (hw: the input's height = width).
 * The GEMM backend is the default one (GESSO_GEMM overrides it); the label says which.
 */
#include <benchmark/benchmark.h>

#include <string>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "kernels/gemm.h"

using namespace gesso;

namespace {

constexpr int64_t kBatch = 64, kKernel = 4;

std::string backend_label() {
  const kernels::GemmBackend b = kernels::gemm_backend();
  std::string label = std::string("gemm=") + kernels::gemm_backend_name(b);
  if (b == kernels::GemmBackend::openblas) label += std::string(" core=") + kernels::gemm_openblas_core();
  return label;
}

// conv2d: x (64, cin, hw, hw) -> (64, cout, out, out);
// conv_transpose2d: x (64, cin, hw, hw) -> (64, cout, out, out) with out = (hw - 1) * stride - 2 pad + 4.
void bench_layer(benchmark::State& state, bool transposed, bool with_backward) {
  const int64_t cin = state.range(0), cout = state.range(1), hw = state.range(2);
  Conv2dParams p;
  p.stride_h = p.stride_w = static_cast<int>(state.range(3));
  p.pad_h = p.pad_w = static_cast<int>(state.range(4));
  const int64_t out_hw = transposed ? (hw - 1) * p.stride_h - 2 * p.pad_h + kKernel
                                    : (hw + 2 * p.pad_h - kKernel) / p.stride_h + 1;
  Generator gen(7);
  TensorOptions opt = TensorOptions(DType::f32).grad(with_backward);
  Tensor x = randn({kBatch, cin, hw, hw}, gen, opt);
  Tensor w = randn(transposed ? Shape{cin, cout, kKernel, kKernel} : Shape{cout, cin, kKernel, kKernel}, gen, opt,
                   0.0, 0.02);
  Tensor gy = randn({kBatch, cout, out_hw, out_hw}, gen);
  for (auto _ : state) {
    if (with_backward) {
      Tensor y = transposed ? conv_transpose2d(x, w, Tensor(), p) : conv2d(x, w, Tensor(), p);
      std::vector<Tensor> grads = autograd::grad({y}, {x, w}, {gy});
      benchmark::DoNotOptimize(grads[1].impl_ptr().get());
    } else {
      NoGradGuard no_grad;
      Tensor y = transposed ? conv_transpose2d(x, w, Tensor(), p) : conv2d(x, w, Tensor(), p);
      benchmark::DoNotOptimize(y.impl_ptr().get());
    }
  }
  // The conv2d that this layer is (or is the adjoint of): its output pixels times its taps.
  const int64_t conv_out_pixels = kBatch * (transposed ? hw * hw : out_hw * out_hw);
  const double forward_flops = 2.0 * conv_out_pixels * cin * cout * kKernel * kKernel;
  state.counters["GFLOP/s"] = benchmark::Counter(forward_flops * (with_backward ? 3 : 1) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(backend_label());
}

void discriminator_args(benchmark::internal::Benchmark* b) {
  b->Args({3, 64, 64, 2, 1})->Args({64, 128, 32, 2, 1})->Args({128, 256, 16, 2, 1})->Args({256, 512, 8, 2, 1});
  b->Args({512, 1, 4, 1, 0});
  b->ArgNames({"cin", "cout", "hw", "s", "p"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

void generator_args(benchmark::internal::Benchmark* b) {
  b->Args({100, 512, 1, 1, 0});
  b->Args({512, 256, 4, 2, 1})->Args({256, 128, 8, 2, 1})->Args({128, 64, 16, 2, 1})->Args({64, 3, 32, 2, 1});
  b->ArgNames({"cin", "cout", "hw", "s", "p"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bench_layer, conv2d_forward, false, false)->Apply(discriminator_args);
BENCHMARK_CAPTURE(bench_layer, conv2d_forward_backward, false, true)->Apply(discriminator_args);
BENCHMARK_CAPTURE(bench_layer, conv_transpose2d_forward, true, false)->Apply(generator_args);
BENCHMARK_CAPTURE(bench_layer, conv_transpose2d_forward_backward, true, true)->Apply(generator_args);

BENCHMARK_MAIN();
