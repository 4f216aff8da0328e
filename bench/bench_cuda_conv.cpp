// bench_cuda_conv.cpp: gesso's handwritten convolutions (kernels/cuda/conv.cu:
// im2col + the CUDA GEMM) beside cuDNN's (kernels/cuda/vendor/cudnn_conv.cu,
// CUDNN_FMA_MATH: FP32, no TF32), forward and both backwards, on the layers
// of a DCGAN for 64x64 images, batch 64.
//
// The discriminator's convolutions (4x4, stride 2, pad 1, then the 4x4 valid
// one to a single logit); the generator's transposed convolutions are the
// same geometries run the other way (its forward is conv2d_input_grad, its
// backward conv2d and conv2d_weight_grad), plus the first one from the
// 100-d latent:
//   d1  (64,   3, 64, 64) -> 64  x 32x32       also g5 (64 -> 3)
//   d2  (64,  64, 32, 32) -> 128 x 16x16       also g4
//   d3  (64, 128, 16, 16) -> 256 x 8x8         also g3
//   d4  (64, 256,  8,  8) -> 512 x 4x4         also g2
//   d5  (64, 512,  4,  4) -> 1   x 1x1 (4x4 valid)
//   g1  (64, 512,  4,  4) -> 100 x 1x1 (4x4 valid; the generator's z -> 4x4x512)
// Each row: one layer, one direction (forward, input = backward data,
// weight = backward filter, which accumulates into gw).
//
// Each iteration times the handwritten kernel and then cuDNN, alternately,
// each with cudaEvents around it and the L2 cache flushed before it (a
// 256 MiB memset). The benchmark's time is the handwritten kernel's; the
// counters are GFLOP/s (2 N C_out OH OW C_in kH kW / time) of both and the
// handwritten share of cuDNN's rate. cuDNN's first call per geometry runs
// cudnnFind (timed out of the loop, in the warm-up).
//
// Without a GPU (or in a build without CUDA) every benchmark is skipped with
// the reason; without cuDNN the cuDNN columns are absent and the label says so.
//
//   ./build/bench/bench_cuda_conv --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "bench/cuda_bench.h"

#include <string>

#include "kernels/conv.h"
#include "kernels/kernel_impl.h"
#include "kernels/random.h"
#include "tensor/device.h"
#include "tensor/error.h"

#ifdef GESSO_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor/vendor.h"
#endif

using namespace gesso;
using namespace gesso::bench;

namespace {

enum class Direction { forward, input, weight };

struct Layer {
  int64_t C_in, H, C_out, k, stride, pad;
};

constexpr int64_t kBatch = 64;


#ifdef GESSO_HAVE_CUDA

kernels::Conv2dGeometry geometry(const Layer& l) {
  kernels::Conv2dGeometry g;
  g.N = kBatch;
  g.C_in = l.C_in;
  g.H = g.W = l.H;
  g.C_out = l.C_out;
  g.kH = g.kW = l.k;
  g.stride_h = g.stride_w = l.stride;
  g.pad_h = g.pad_w = l.pad;
  g.OH = kernels::conv2d_out_size(g.H, g.kH, g.stride_h, g.pad_h, 1);
  g.OW = kernels::conv2d_out_size(g.W, g.kW, g.stride_w, g.pad_w, 1);
  return g;
}

void run_benchmark(benchmark::State& state, const Layer& layer, Direction dir) {
  const kernels::Conv2dGeometry g = geometry(layer);
  const int64_t x_size = g.N * g.C_in * g.H * g.W, w_size = g.C_out * g.C_in * g.kH * g.kW,
                y_size = g.N * g.C_out * g.OH * g.OW;
  DeviceFloats x(x_size), w(w_size), y(y_size), bias(g.C_out);
  kernels::cuda::philox_uniform_cuda(1, 0, x.p, x_size, -1.0, 1.0, nullptr);
  kernels::cuda::philox_uniform_cuda(2, 0, w.p, w_size, -0.1, 0.1, nullptr);
  kernels::cuda::philox_uniform_cuda(3, 0, y.p, y_size, -1.0, 1.0, nullptr);
  kernels::cuda::philox_uniform_cuda(4, 0, bias.p, g.C_out, -0.1, 0.1, nullptr);
  // Forward writes y from x and w; input writes x from y (as gy) and w;
  // weight accumulates into w from x and y (as gy).
  auto handwritten = [&] {
    switch (dir) {
      case Direction::forward: kernels::cuda::conv2d_forward_cuda(x.p, w.p, bias.p, y.p, g, nullptr); break;
      case Direction::input: kernels::cuda::conv2d_backward_input_cuda(y.p, w.p, x.p, g, nullptr); break;
      case Direction::weight: kernels::cuda::conv2d_backward_weight_cuda(x.p, y.p, w.p, g, nullptr); break;
    }
  };
  auto cudnn = [&] {
    switch (dir) {
      case Direction::forward: kernels::vendor::conv2d_forward_cudnn(x.p, w.p, bias.p, y.p, g, nullptr); break;
      case Direction::input: kernels::vendor::conv2d_backward_input_cudnn(y.p, w.p, x.p, g, nullptr); break;
      case Direction::weight: kernels::vendor::conv2d_backward_weight_cudnn(x.p, y.p, w.p, g, nullptr); break;
    }
  };
  const bool with_cudnn = kernels::cudnn_built();
  handwritten();  // warm-up: first launches; cudnnFind for this geometry
  if (with_cudnn) cudnn();
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  double hand_ms = 0, cudnn_ms = 0;
  for (auto _ : state) {
    const double h = timed_ms(handwritten, start, stop);
    if (with_cudnn) cudnn_ms += timed_ms(cudnn, start, stop);
    hand_ms += h;
    state.SetIterationTime(h / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double flops = 2.0 * g.N * g.C_out * g.OH * g.OW * g.C_in * g.kH * g.kW;
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  if (with_cudnn) {
    state.counters["cuDNN_GFLOP/s"] = flops * iters / (cudnn_ms / 1e3) / 1e9;
    state.counters["of_cuDNN_%"] = 100.0 * cudnn_ms / hand_ms;
  } else {
    state.SetLabel("no cuDNN in this build: handwritten only");
  }
}

#else

void run_benchmark(benchmark::State&, const Layer&, Direction) {}

#endif

void BM_cuda_conv(benchmark::State& state, Layer layer, Direction dir) {
  if (!gpu_available(state)) return;
  run_benchmark(state, layer, dir);
}

constexpr Layer kD1{3, 64, 64, 4, 2, 1}, kD2{64, 32, 128, 4, 2, 1}, kD3{128, 16, 256, 4, 2, 1},
    kD4{256, 8, 512, 4, 2, 1}, kD5{512, 4, 1, 4, 1, 0}, kG1{512, 4, 100, 4, 1, 0};

}  // namespace

#define GESSO_CONV_BENCH(layer, L)                                                                             \
  BENCHMARK_CAPTURE(BM_cuda_conv, layer/forward, L, Direction::forward)                                       \
      ->UseManualTime()->Unit(benchmark::kMicrosecond);                                                        \
  BENCHMARK_CAPTURE(BM_cuda_conv, layer/input, L, Direction::input)->UseManualTime()->Unit(benchmark::kMicrosecond); \
  BENCHMARK_CAPTURE(BM_cuda_conv, layer/weight, L, Direction::weight)->UseManualTime()->Unit(benchmark::kMicrosecond)

GESSO_CONV_BENCH(d1, kD1);
GESSO_CONV_BENCH(d2, kD2);
GESSO_CONV_BENCH(d3, kD3);
GESSO_CONV_BENCH(d4, kD4);
GESSO_CONV_BENCH(d5, kD5);
GESSO_CONV_BENCH(g1, kG1);

BENCHMARK_MAIN();
