/*
 * runtime.cu: CUDA device plumbing: device discovery that never aborts on a
 * machine without a driver, a caching allocator over cudaMalloc, copies.
 * Built by nvcc whenever it is found (see CMakeLists.txt).
 */
#include "kernels/cuda/runtime.h"

#include <cuda_runtime.h>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"

#define GESSO_CUDA_CHECK(call)                                                            \
  do {                                                                                    \
    cudaError_t err_ = (call);                                                            \
    if (err_ != cudaSuccess)                                                              \
      ::gesso::fail(__FILE__, ":", __LINE__, ": ", #call, " failed: ", cudaGetErrorString(err_)); \
  } while (0)

namespace gesso::cuda {

int device_count(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    if (why) *why = cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls are not poisoned
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device found";
  return n;
}

namespace {
struct DeviceCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  AllocatorStats stats;
};
DeviceCache& cache() {
  static DeviceCache* c = new DeviceCache();
  return *c;
}
}  // namespace

void* cached_malloc(size_t bytes) {
  size_t bin = allocation_bin(bytes);
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.allocations++;
  void* p = nullptr;
  auto it = c.free_lists.find(bin);
  if (it != c.free_lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.stats.bytes_cached -= bin;
    c.stats.cache_hits++;
  } else {
    if (cudaMalloc(&p, bin) != cudaSuccess) {
      cudaGetLastError();
      // Give the cached blocks back and try once more before failing.
      for (auto& kv : c.free_lists)
        for (void* q : kv.second) cudaFree(q);
      c.free_lists.clear();
      c.stats.bytes_cached = 0;
      GESSO_CUDA_CHECK(cudaMalloc(&p, bin));
    }
  }
  c.stats.bytes_in_use += bin;
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  return p;
}

void cached_free(void* p, size_t bytes) {
  size_t bin = allocation_bin(bytes);
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_lists[bin].push_back(p);
  c.stats.bytes_in_use -= bin;
  c.stats.bytes_cached += bin;
}

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().stats;
}

void reset_peak() {
  std::lock_guard<std::mutex> lock(cache().mu);
  cache().stats.peak_bytes_in_use = cache().stats.bytes_in_use;
}

void empty_cache() {
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& kv : c.free_lists)
    for (void* q : kv.second) GESSO_CUDA_CHECK(cudaFree(q));
  c.free_lists.clear();
  c.stats.bytes_cached = 0;
}

void memcpy(void* dst, bool dst_is_host, const void* src, bool src_is_host, size_t bytes) {
  cudaMemcpyKind kind = dst_is_host ? (src_is_host ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost)
                                    : (src_is_host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice);
  GESSO_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace gesso::cuda
