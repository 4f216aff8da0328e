/*
 * allocator.cpp: the host caching allocator (cpu and simt tensors) and the
 * hand-off to the CUDA one (kernels/cuda/runtime.h) for cuda tensors.
 */
#include "tensor/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tensor/error.h"
#ifdef GESSO_HAVE_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace gesso {

size_t allocation_bin(size_t bytes) {
  if (bytes <= 256) return 256;
  // Round up to a multiple of 1/8 of the largest power of two <= bytes.
  size_t p = 1;
  while (p <= bytes / 2) p <<= 1;
  // Steps are multiples of 64: aligned_alloc wants the size to be a
  // multiple of the alignment.
  size_t step = std::max<size_t>(p / 8, 64);
  return (bytes + step - 1) / step * step;
}

namespace {

struct HostCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // bin size -> blocks
  AllocatorStats stats;

  void* allocate(size_t bytes) {
    size_t bin = allocation_bin(bytes);
    std::lock_guard<std::mutex> lock(mu);
    stats.allocations++;
    void* p = nullptr;
    auto it = free_lists.find(bin);
    if (it != free_lists.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats.bytes_cached -= bin;
      stats.cache_hits++;
    } else {
      p = std::aligned_alloc(64, bin);  // 64: a cache line, and aligned for any SIMD load
      GESSO_CHECK(p != nullptr, "out of host memory: allocating ", bin, " bytes (",
                  stats.bytes_in_use, " already in use, ", stats.bytes_cached, " cached)");
    }
    stats.bytes_in_use += bin;
    if (stats.bytes_in_use > stats.peak_bytes_in_use) stats.peak_bytes_in_use = stats.bytes_in_use;
    return p;
  }
  void release(void* p, size_t bytes) {
    size_t bin = allocation_bin(bytes);
    std::lock_guard<std::mutex> lock(mu);
    free_lists[bin].push_back(p);
    stats.bytes_in_use -= bin;
    stats.bytes_cached += bin;
  }
  void empty() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& kv : free_lists)
      for (void* p : kv.second) std::free(p);
    free_lists.clear();
    stats.bytes_cached = 0;
  }
};

// Leaked on purpose: tensors with static lifetime may be freed after main().
HostCache& host_cache() {
  static HostCache* c = new HostCache();
  return *c;
}

[[noreturn]] void no_cuda(const char* what) {
  std::string why;
  cuda_available(&why);
  fail(what, ": device cuda is not available (", why, ")");
}

}  // namespace

void* device_allocate(Device d, size_t bytes) {
  if (bytes == 0) bytes = 1;
  switch (d) {
    case Device::cpu:
    case Device::simt:
      return host_cache().allocate(bytes);
    case Device::cuda:
#ifdef GESSO_HAVE_CUDA
      if (cuda_available()) return cuda::cached_malloc(bytes);
#endif
      no_cuda("allocate");
  }
  return nullptr;
}

void device_free(Device d, void* p, size_t bytes) {
  if (p == nullptr) return;
  if (bytes == 0) bytes = 1;
  switch (d) {
    case Device::cpu:
    case Device::simt:
      host_cache().release(p, bytes);
      return;
    case Device::cuda:
#ifdef GESSO_HAVE_CUDA
      cuda::cached_free(p, bytes);
#endif
      return;
  }
}

AllocatorStats allocator_stats(Device d) {
  if (d == Device::cuda) {
#ifdef GESSO_HAVE_CUDA
    return cuda::allocator_stats();
#else
    return {};
#endif
  }
  std::lock_guard<std::mutex> lock(host_cache().mu);
  return host_cache().stats;
}

void reset_peak_memory(Device d) {
  if (d == Device::cuda) {
#ifdef GESSO_HAVE_CUDA
    cuda::reset_peak();
#endif
    return;
  }
  std::lock_guard<std::mutex> lock(host_cache().mu);
  host_cache().stats.peak_bytes_in_use = host_cache().stats.bytes_in_use;
}

void empty_cache(Device d) {
  if (d == Device::cuda) {
#ifdef GESSO_HAVE_CUDA
    cuda::empty_cache();
#endif
    return;
  }
  host_cache().empty();
}

void device_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  bool dst_host = dst_dev != Device::cuda, src_host = src_dev != Device::cuda;
  if (dst_host && src_host) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef GESSO_HAVE_CUDA
  cuda::memcpy(dst, dst_host, src, src_host, bytes);
#else
  no_cuda("copy");
#endif
}

}  // namespace gesso
