/*
 * allocator.cpp: the host caching allocator (cpu and simt tensors: small
 * free lists and a best-fit arena, see allocator.h) and the hand-off to the
 * CUDA one (kernels/cuda/runtime.h) for cuda tensors.
 */
#include "tensor/allocator.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/error.h"
#ifdef GESSO_HAVE_CUDA
#include "kernels/cuda/runtime.h"
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GESSO_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define GESSO_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define GESSO_POISON(p, n) ((void)(p), (void)(n))
#define GESSO_UNPOISON(p, n) ((void)(p), (void)(n))
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

constexpr size_t kPage = 4096;                 // arena blocks are whole pages
constexpr size_t kCommitStep = size_t(64) << 20;

size_t round_up(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

// The first reservation's size: physical memory (rounded up to 1 GiB); no
// single process's tensors outgrow it without swapping.
size_t default_reservation() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t ram = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : size_t(16) << 30;
  return round_up(ram, size_t(1) << 30);
}

class HostAllocator {
 public:
  void* allocate(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.allocations++;
    void* p = bytes <= kHostSmallLimit ? allocate_small(bytes) : allocate_large(bytes);
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    stats_.peak_bytes_reserved = std::max(stats_.peak_bytes_reserved, held());
    return p;
  }

  void release(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (bytes <= kHostSmallLimit) {
      const size_t bin = allocation_bin(bytes);
      small_free_[bin].push_back(p);
      stats_.bytes_in_use -= bin;
    } else {
      const size_t size = round_up(bytes, kPage);
      char* c = static_cast<char*>(p);
      GESSO_POISON(c, size);
      add_free(c, size, segment_of(c));
      stats_.bytes_in_use -= size;
    }
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    AllocatorStats s = stats_;
    s.bytes_cached = held() - s.bytes_in_use;
    return s;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
    stats_.peak_bytes_reserved = held();
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& kv : small_free_) {
      for (void* p : kv.second) std::free(p);
      small_held_ -= kv.first * kv.second.size();
    }
    small_free_.clear();
    for (const auto& [start, range] : free_by_addr_) {
      Segment& s = segments_[range.segment];
      char* lo = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(start), kPage));
      char* hi = std::min(start + range.size, s.base + s.high_water);
      if (hi > lo) madvise(lo, static_cast<size_t>(hi - lo), MADV_DONTNEED);
      // The free range at the top of the touched part: nothing above it is resident now.
      if (start + range.size == s.base + s.size && start < s.base + s.high_water) {
        arena_high_water_ -= s.high_water - static_cast<size_t>(start - s.base);
        s.high_water = static_cast<size_t>(start - s.base);
      }
    }
  }

 private:
  // One reservation of address space; [base, base + high_water) has been
  // handed out at some time (and may be resident), [base, base + committed)
  // is readable and writable.
  struct Segment {
    char* base = nullptr;
    size_t size = 0, high_water = 0, committed = 0;
  };
  struct FreeRange {
    size_t size;
    size_t segment;
  };

  // Bytes held from the system: small blocks, and the arena below its high-water marks.
  size_t held() const { return small_held_ + arena_high_water_; }

  void* allocate_small(size_t bytes) {
    const size_t bin = allocation_bin(bytes);
    void* p = nullptr;
    auto it = small_free_.find(bin);
    if (it != small_free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.cache_hits++;
    } else {
      p = std::aligned_alloc(64, bin);  // 64: a cache line, and aligned for any SIMD load
      GESSO_CHECK(p != nullptr, "out of host memory: allocating ", bin, " bytes (", stats_.bytes_in_use,
                  " already in use)");
      small_held_ += bin;
    }
    stats_.bytes_in_use += bin;
    return p;
  }

  void* allocate_large(size_t bytes) {
    const size_t size = round_up(bytes, kPage);
    // Best fit: the smallest free range that holds the request, the lowest address among equals.
    auto it = free_by_size_.lower_bound({size, nullptr});
    if (it == free_by_size_.end()) {
      add_segment(size);
      it = free_by_size_.lower_bound({size, nullptr});
    }
    char* p = it->second;
    const FreeRange range = free_by_addr_.at(p);
    Segment& s = segments_[range.segment];
    const size_t end = static_cast<size_t>(p - s.base) + size;
    if (end > s.committed) commit(s, end);  // first: if it throws, the free ranges are as they were
    free_by_size_.erase(it);
    free_by_addr_.erase(p);
    if (range.size > size) add_free_range(p + size, range.size - size, range.segment);
    if (end <= s.high_water) {
      stats_.cache_hits++;
    } else {
      arena_high_water_ += end - s.high_water;
      s.high_water = end;
    }
    stats_.bytes_in_use += size;
    GESSO_UNPOISON(p, bytes);
    return p;
  }

  // Reserves address space for at least `min_bytes` (no memory is committed
  // yet). No MADV_HUGEPAGE: huge pages were measured here costing more system
  // time (zeroing and compacting 2 MiB pages) than the 4 KiB faults they save.
  void add_segment(size_t min_bytes) {
    size_t size = std::max(round_up(min_bytes, kCommitStep), segments_.empty() ? default_reservation() : 0);
    void* m = MAP_FAILED;
    // A smaller reservation where the system refuses a large one (a ulimit on address space).
    for (;;) {
      m = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (m != MAP_FAILED || size / 2 < round_up(min_bytes, kCommitStep)) break;
      size = round_up(size / 2, kCommitStep);
    }
    GESSO_CHECK(m != MAP_FAILED, "out of host memory: cannot reserve ", size, " bytes of address space for a block of ",
                min_bytes, " bytes (", stats_.bytes_in_use, " already in use)");
    Segment s;
    s.base = static_cast<char*>(m);  // page-aligned
    s.size = size;
    GESSO_POISON(s.base, s.size);
    segments_.push_back(s);
    add_free_range(s.base, s.size, segments_.size() - 1);
  }

  // Makes [base, base + end) of s readable and writable, in steps of kCommitStep.
  void commit(Segment& s, size_t end) {
    const size_t to = std::min(s.size, round_up(end, kCommitStep));
    const int rc = mprotect(s.base + s.committed, to - s.committed, PROT_READ | PROT_WRITE);
    GESSO_CHECK(rc == 0, "out of host memory: cannot commit ", to - s.committed, " more bytes (",
                stats_.bytes_in_use, " already in use, ", held() - stats_.bytes_in_use, " cached)");
    s.committed = to;
  }

  size_t segment_of(const char* p) const {
    for (size_t i = 0; i < segments_.size(); ++i)
      if (p >= segments_[i].base && p < segments_[i].base + segments_[i].size) return i;
    fail("internal: device_free of a host block the allocator did not hand out");
  }

  // Returns [p, p + size) to the free ranges, merged with free neighbours of the same segment.
  void add_free(char* p, size_t size, size_t segment) {
    auto next = free_by_addr_.find(p + size);
    if (next != free_by_addr_.end() && next->second.segment == segment) {
      size += next->second.size;
      free_by_size_.erase({next->second.size, next->first});
      free_by_addr_.erase(next);
    }
    auto prev = free_by_addr_.lower_bound(p);
    if (prev != free_by_addr_.begin()) {
      --prev;
      if (prev->first + prev->second.size == p && prev->second.segment == segment) {
        p = prev->first;
        size += prev->second.size;
        free_by_size_.erase({prev->second.size, prev->first});
        free_by_addr_.erase(prev);
      }
    }
    add_free_range(p, size, segment);
  }

  void add_free_range(char* p, size_t size, size_t segment) {
    free_by_addr_.emplace(p, FreeRange{size, segment});
    free_by_size_.emplace(size, p);
  }

  std::mutex mu_;
  AllocatorStats stats_;  // bytes_cached is computed when asked
  std::unordered_map<size_t, std::vector<void*>> small_free_;  // bin size -> blocks
  size_t small_held_ = 0;
  std::vector<Segment> segments_;
  std::map<char*, FreeRange> free_by_addr_;
  std::set<std::pair<size_t, char*>> free_by_size_;
  size_t arena_high_water_ = 0;  // sum of the segments' high-water marks
};

// Leaked on purpose: tensors with static lifetime may be freed after main().
HostAllocator& host_allocator() {
  static HostAllocator* a = new HostAllocator();
  return *a;
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
      return host_allocator().allocate(bytes);
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
      host_allocator().release(p, bytes);
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
  return host_allocator().stats();
}

void reset_peak_memory(Device d) {
  if (d == Device::cuda) {
#ifdef GESSO_HAVE_CUDA
    cuda::reset_peak();
#endif
    return;
  }
  host_allocator().reset_peak();
}

void empty_cache(Device d) {
  if (d == Device::cuda) {
#ifdef GESSO_HAVE_CUDA
    cuda::empty_cache();
#endif
    return;
  }
  host_allocator().empty();
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

size_t max_rss_bytes() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<size_t>(u.ru_maxrss) * 1024;  // kilobytes on Linux
}

}  // namespace gesso
