// bench_cuda_elementwise.cpp: bandwidth of gesso's handwritten elementwise
// and reduction kernels on a GPU (kernels/cuda/elementwise.cu, reduce.cu),
// called through their launchers on device buffers (no autograd, no
// allocation inside the timed region), beside a device-to-device cudaMemcpy
// of the same traffic as the yardstick (no vendor library has a broadcast
// add or a middle-axis sum; a copy is what DRAM allows).
//
//   add_same        out = a + b, 16M floats each (the flat kernel)
//   add_broadcast   (4096, 4096) + (4096,) row vector (the strided kernel)
//   sum_all         sum of 16M floats: few outputs, n cut into chunks + a
//                   second pass (reduce_rows_kernel4, reduce_finish_kernel4)
//   sum_last_axis   (16384, 1024) -> (16384,): a block per row
//   sum_first_axis  (1024, 16384) -> (16384,): the column kernel
//   memcpy          cudaMemcpy device to device of 64 MiB (reads + writes
//                   128 MiB)
//
// Timing: cudaEvents around each run, with the L2 cache flushed before it (a
// memset of 256 MiB: larger than any GPU's L2, H100 has 50 MB), so every run
// reads its inputs from DRAM. GB/s counts the compulsory traffic: inputs read
// once plus outputs written once.
//
// Without a GPU (or in a build without CUDA) every benchmark is skipped with
// the reason from gesso::cuda_available().
//
//   ./build/bench/bench_cuda_elementwise --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "bench/cuda_bench.h"

#include <string>

#include "kernels/elementwise.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "tensor/device.h"
#include "tensor/error.h"

#ifdef GESSO_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/runtime.h"
#endif

using namespace gesso;
using namespace gesso::bench;

namespace {

enum class Case { add_same, add_broadcast, sum_all, sum_last_axis, sum_first_axis, memcpy };

constexpr int64_t kBig = 16 << 20;  // 16M floats, 64 MiB
constexpr int64_t kSide = 4096;     // (4096, 4096) = 16M

// Returns false (and marks the benchmark skipped, with the reason) when it cannot run here.

#ifdef GESSO_HAVE_CUDA

struct Problem {
  DeviceFloats a{kBig}, b{kBig}, out{kBig};
  Problem() {
    kernels::cuda::philox_uniform_cuda(1, 0, a.p, kBig, -1.0, 1.0, nullptr);
    kernels::cuda::philox_uniform_cuda(2, 0, b.p, kBig, -1.0, 1.0, nullptr);
  }

  // Bytes of compulsory traffic of one run.
  static double bytes(Case c) {
    const double f = sizeof(float);
    switch (c) {
      case Case::add_same: return 3.0 * kBig * f;
      case Case::add_broadcast: return (2.0 * kBig + kSide) * f;
      case Case::sum_all: return (kBig + 1.0) * f;
      case Case::sum_last_axis: return (kBig + kBig / 1024.0) * f;
      case Case::sum_first_axis: return (kBig + kBig / 1024.0) * f;
      case Case::memcpy: return 2.0 * kBig * f;
    }
    return 0;
  }

  void run(Case c) {
    const cudaStream_t stream = nullptr;
    kernels::BinaryLayout L;
    switch (c) {
      case Case::add_same:
        L.ndim = 1;
        L.size[0] = kBig;
        L.stride_a[0] = L.stride_b[0] = 1;
        kernels::cuda::binary_forward_cuda(kernels::BinaryOp::add, a.p, b.p, out.p, L, stream);
        break;
      case Case::add_broadcast:
        L.ndim = 2;
        L.size[0] = L.size[1] = kSide;
        L.stride_a[0] = kSide;
        L.stride_a[1] = 1;
        L.stride_b[0] = 0;
        L.stride_b[1] = 1;
        kernels::cuda::binary_forward_cuda(kernels::BinaryOp::add, a.p, b.p, out.p, L, stream);
        break;
      case Case::sum_all:
        kernels::cuda::reduce_cuda(kernels::ReduceOp::sum, a.p, out.p, 1, kBig, 1, 0, stream);
        break;
      case Case::sum_last_axis:
        kernels::cuda::reduce_cuda(kernels::ReduceOp::sum, a.p, out.p, kBig / 1024, 1024, 1, 0, stream);
        break;
      case Case::sum_first_axis:
        kernels::cuda::reduce_cuda(kernels::ReduceOp::sum, a.p, out.p, 1, 1024, kBig / 1024, 0, stream);
        break;
      case Case::memcpy:
        check(cudaMemcpyAsync(out.p, a.p, a.bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
        break;
    }
  }
};

void run_benchmark(benchmark::State& state, Case c) {
  Problem problem;
  problem.run(c);  // warm-up: first-launch costs
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  for (auto _ : state) {
    flush_l2();
    check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    problem.run(c);
    check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    state.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  state.counters["GB/s"] = benchmark::Counter(Problem::bytes(c) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

#else

void run_benchmark(benchmark::State&, Case) {}

#endif

void BM_cuda(benchmark::State& state, Case c) {
  if (!gpu_available(state)) return;
  run_benchmark(state, c);
}

}  // namespace

BENCHMARK_CAPTURE(BM_cuda, add_same, Case::add_same)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_cuda, add_broadcast, Case::add_broadcast)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_cuda, sum_all, Case::sum_all)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_cuda, sum_last_axis, Case::sum_last_axis)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_cuda, sum_first_axis, Case::sum_first_axis)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_cuda, memcpy_yardstick, Case::memcpy)->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
