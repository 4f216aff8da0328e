// bench_cuda_norm.cpp: batch norm on (64, 128, 16, 16) float32 on a GPU,
// gesso's handwritten kernels (kernels/cuda/norm.cu) beside cuDNN's
// (kernels/cuda/vendor/batch_norm.cu), called through their launchers on
// device buffers (no autograd, no allocation inside the timed region).
//
//   forward           training forward: batch statistics, y, running-stat update
//   forward_backward  the same, then dx, dweight and dbias through the batch statistics
//   inference         y from the running statistics
//
// Timing: cudaEvents around each run, with the L2 cache flushed before it
// (a memset of a buffer larger than any GPU's L2: H100 has 50 MB), so that
// every run reads x from DRAM as it would inside a network.
// GB/s counts the compulsory traffic only: forward reads x and writes y
// (2 arrays of 32 MiB); forward_backward adds reading x and g and writing
// dx (5 in all); inference 2. The handwritten training forward reads x
// twice (statistics, then y); the second read mostly hits L2 (a channel is
// 64 KiB), which is what the GB/s figure rewards.
//
// Without a GPU (or in a build without CUDA) every benchmark is skipped with
// the reason from gesso::cuda_available(); without cuDNN the cuDNN ones are.
//
//   ./build/bench/bench_cuda_norm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "bench/cuda_bench.h"

#include <string>
#include <vector>

#include "kernels/kernel_impl.h"
#include "kernels/norm.h"
#include "tensor/device.h"
#include "tensor/tensor.h"

#ifdef GESSO_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor/batch_norm.h"
#endif

using namespace gesso;
using namespace gesso::bench;

namespace {

constexpr int64_t kN = 64, kC = 128, kH = 16, kW = 16, kHW = kH * kW;
constexpr double kEps = 1e-5, kMomentum = 0.1;
constexpr double kBytesPerArray = static_cast<double>(kN * kC * kHW) * sizeof(float);

enum class Impl { handwritten, cudnn };
enum class Pass { forward, forward_backward, inference };

// Returns false (and marks the benchmark skipped, with the reason) when it cannot run here.
bool can_run(benchmark::State& state, Impl impl) {
  if (!gpu_available(state)) return false;
  if (impl == Impl::cudnn && !kernels::cudnn_built()) {
    state.SkipWithError("this build has no cuDNN (configure did not find it)");
    return false;
  }
  return true;
}

#ifdef GESSO_HAVE_CUDA

// Every device buffer of one batch norm problem; tensors on Device::cuda
// from the same seeds as the CPU benchmark (bench_norm.cpp).
struct Problem {
  Tensor x, g, y, dx, weight, bias, dweight, dbias, running_mean, running_var, save_mean, save_var;
  Problem() {
    Generator gen(1);
    const TensorOptions on_gpu = TensorOptions().with(Device::cuda);
    x = randn({kN, kC, kH, kW}, gen).to(Device::cuda);
    g = randn({kN, kC, kH, kW}, gen).to(Device::cuda);
    y = Tensor::empty({kN, kC, kH, kW}, on_gpu);
    dx = Tensor::empty({kN, kC, kH, kW}, on_gpu);
    weight = rand({kC}, gen).to(Device::cuda);
    bias = randn({kC}, gen).to(Device::cuda);
    dweight = zeros({kC}).to(Device::cuda);
    dbias = zeros({kC}).to(Device::cuda);
    running_mean = zeros({kC}).to(Device::cuda);
    running_var = ones({kC}).to(Device::cuda);
    save_mean = Tensor::empty({kC}, on_gpu);
    save_var = Tensor::empty({kC}, on_gpu);
  }
  float* p(Tensor& t) { return t.data<float>(); }

  void run(Impl impl, Pass pass) {
    const cudaStream_t stream = nullptr;
    if (pass == Pass::inference) {
      if (impl == Impl::handwritten)
        kernels::cuda::batch_norm_forward_eval_cuda(p(x), p(running_mean), p(running_var), p(weight), p(bias), p(y),
                                                    kN, kC, kHW, kEps, stream);
      else
        kernels::vendor::batch_norm_forward_eval_cudnn(p(x), p(running_mean), p(running_var), p(weight), p(bias),
                                                       p(y), kN, kC, kHW, kEps, stream);
      return;
    }
    if (impl == Impl::handwritten) {
      kernels::cuda::batch_norm_forward_train_cuda(p(x), p(weight), p(bias), p(y), p(save_mean), p(save_var), kN, kC,
                                                   kHW, kEps, stream);
      kernels::cuda::batch_norm_update_running_cuda(p(running_mean), p(running_var), p(save_mean), p(save_var), kC,
                                                    kN * kHW, kMomentum, stream);
    } else {
      kernels::vendor::batch_norm_forward_train_cudnn(p(x), p(weight), p(bias), p(y), p(save_mean), p(save_var),
                                                      p(running_mean), p(running_var), kMomentum, kN, kC, kHW, kEps,
                                                      stream);
    }
    if (pass == Pass::forward) return;
    if (impl == Impl::handwritten)
      kernels::cuda::batch_norm_backward_cuda(p(x), p(g), p(save_mean), p(save_var), p(weight), p(dx), p(dweight),
                                              p(dbias), kN, kC, kHW, kEps, /*batch_stats=*/true, stream);
    else
      kernels::vendor::batch_norm_backward_cudnn(p(x), p(g), p(save_mean), p(save_var), p(weight), p(dx), p(dweight),
                                                 p(dbias), kN, kC, kHW, kEps, stream);
  }
};

void run_benchmark(benchmark::State& state, Impl impl, Pass pass, double arrays) {
  Problem problem;
  problem.run(impl, pass);  // warm-up: cuDNN handle, first-launch costs
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (auto _ : state) {
    flush_l2();
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    problem.run(impl, pass);
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["GB/s"] =
      benchmark::Counter(arrays * kBytesPerArray / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

#else

void run_benchmark(benchmark::State&, Impl, Pass, double) {}

#endif

void BM_batch_norm(benchmark::State& state, Impl impl, Pass pass, double arrays) {
  if (!can_run(state, impl)) return;
  run_benchmark(state, impl, pass, arrays);
}

}  // namespace

BENCHMARK_CAPTURE(BM_batch_norm, forward_handwritten, Impl::handwritten, Pass::forward, 2.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batch_norm, forward_cudnn, Impl::cudnn, Pass::forward, 2.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batch_norm, forward_backward_handwritten, Impl::handwritten, Pass::forward_backward, 5.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batch_norm, forward_backward_cudnn, Impl::cudnn, Pass::forward_backward, 5.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batch_norm, inference_handwritten, Impl::handwritten, Pass::inference, 2.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batch_norm, inference_cudnn, Impl::cudnn, Pass::inference, 2.0)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
