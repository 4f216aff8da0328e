/*
 * cuda_bench.h: what the CUDA benchmarks share: skipping with the reason
 * when no GPU answers, checked runtime calls, device buffers from the
 * caching allocator, an L2 flush and cudaEvent timing of one call.
 * Compiles without CUDA too (only gpu_available() is then defined).
 */
#pragma once
#include <benchmark/benchmark.h>

#include <string>

#include "tensor/device.h"
#include "tensor/error.h"

#ifdef GESSO_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/runtime.h"
#endif

namespace gesso::bench {

// False, with the benchmark marked skipped and the reason given, without a GPU.
inline bool gpu_available(benchmark::State& state) {
  std::string why;
  if (!cuda_available(&why)) {
    state.SkipWithError(("no GPU: " + why).c_str());
    return false;
  }
  return true;
}

#ifdef GESSO_HAVE_CUDA

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) fail("CUDA benchmark: ", what, " failed: ", cudaGetErrorString(err));
}

// A device buffer of n floats from the caching allocator.
struct DeviceFloats {
  explicit DeviceFloats(int64_t n) : bytes(static_cast<size_t>(n) * sizeof(float)) {
    p = static_cast<float*>(gesso::cuda::cached_malloc(bytes));
  }
  ~DeviceFloats() { gesso::cuda::cached_free(p, bytes); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  size_t bytes;
  float* p;
};

// Writes a buffer larger than the L2 cache, so that the next run starts cold.
inline void flush_l2() {
  static const size_t bytes = 256u << 20;
  static void* buffer = gesso::cuda::cached_malloc(bytes);
  check(cudaMemsetAsync(buffer, 0, bytes, nullptr), "cudaMemsetAsync (L2 flush)");
}

// Milliseconds of f() on the default stream, L2 flushed first.
template <class F>
double timed_ms(F f, cudaEvent_t start, cudaEvent_t stop) {
  flush_l2();
  check(cudaEventRecord(start, nullptr), "cudaEventRecord");
  f();
  check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  return ms;
}

#endif  // GESSO_HAVE_CUDA

}  // namespace gesso::bench
