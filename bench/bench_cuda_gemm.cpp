// bench_cuda_gemm.cpp: gesso's handwritten SGEMM (kernels/cuda/gemm.cu,
// gemm_kernel6 from the ladder in bench/ladders/gemm/) beside cuBLAS's
// SGEMM on the same buffers, FP32 (cuBLAS in its default math mode: no TF32
// tensor cores).
//
// DESIGN TARGET: the handwritten kernel at 70% or more of cuBLAS FP32 at
// 4096 x 4096 x 4096 on an A100 or H100 (the `of_cuBLAS_%` column of the
// `nn/4096` row). Not measured yet: written on machines without a GPU.
//
//   nn/<n>   C = A B, n x n x n for n = 1024, 2048, 4096 (the ladder's problem)
//   nt/4096  C = A B^T: what linear() and conv's weight gradient run
//   tn/4096  C = A^T B: what matmul's weight gradient runs
//
// Each iteration times the handwritten kernel and then cuBLAS, alternately,
// each with cudaEvents around it and the L2 cache flushed before it (a
// 256 MiB memset: larger than any GPU's L2, H100 has 50 MB), so both read A
// and B from DRAM. The benchmark's time is the handwritten kernel's; the
// counters are GFLOP/s (2 M N K / time) of both and the handwritten share of
// cuBLAS's rate.
//
// Without a GPU (or in a build without CUDA) every benchmark is skipped with
// the reason from gesso::cuda_available().
//
//   ./build/bench/bench_cuda_gemm --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include "bench/cuda_bench.h"

#include <string>

#include "kernels/gemm.h"
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

struct Problem {
  bool trans_a, trans_b;
  int64_t M, N, K;
};


#ifdef GESSO_HAVE_CUDA

void run_benchmark(benchmark::State& state, const Problem& p) {
  // Operands stored as the transposes ask, tight leading dimensions.
  const int64_t lda = p.trans_a ? p.M : p.K, ldb = p.trans_b ? p.K : p.N;
  DeviceFloats A(p.M * p.K), B(p.K * p.N), C(p.M * p.N);
  kernels::cuda::philox_uniform_cuda(1, 0, A.p, p.M * p.K, -1.0, 1.0, nullptr);
  kernels::cuda::philox_uniform_cuda(2, 0, B.p, p.K * p.N, -1.0, 1.0, nullptr);
  auto handwritten = [&] {
    kernels::cuda::gemm_cuda(p.trans_a, p.trans_b, p.M, p.N, p.K, 1.f, A.p, lda, B.p, ldb, 0.f, C.p, p.N, nullptr);
  };
  auto cublas = [&] {
    kernels::vendor::gemm_batched_cublas(1, p.trans_a, p.trans_b, p.M, p.N, p.K, 1.f, A.p, lda, 0, B.p, ldb, 0, 0.f,
                                         C.p, p.N, 0, nullptr);
  };
  handwritten();  // warm-up: first-launch costs, cuBLAS's handle and kernel selection
  cublas();
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  double hand_ms = 0, cublas_ms = 0;
  for (auto _ : state) {
    const double h = timed_ms(handwritten, start, stop);
    cublas_ms += timed_ms(cublas, start, stop);
    hand_ms += h;
    state.SetIterationTime(h / 1e3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double flops = 2.0 * p.M * p.N * p.K, iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["cuBLAS_GFLOP/s"] = flops * iters / (cublas_ms / 1e3) / 1e9;
  state.counters["of_cuBLAS_%"] = 100.0 * cublas_ms / hand_ms;
}

#else

void run_benchmark(benchmark::State&, const Problem&) {}

#endif

void BM_cuda_gemm(benchmark::State& state, Problem p) {
  if (!gpu_available(state)) return;
  run_benchmark(state, p);
}

}  // namespace

BENCHMARK_CAPTURE(BM_cuda_gemm, nn/1024, Problem{false, false, 1024, 1024, 1024})
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_cuda_gemm, nn/2048, Problem{false, false, 2048, 2048, 2048})
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_cuda_gemm, nn/4096, Problem{false, false, 4096, 4096, 4096})
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_cuda_gemm, nt/4096, Problem{false, true, 4096, 4096, 4096})
    ->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_cuda_gemm, tn/4096, Problem{true, false, 4096, 4096, 4096})
    ->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
