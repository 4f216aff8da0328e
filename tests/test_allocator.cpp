// test_allocator.cpp: the host caching allocator (tensor/allocator.h): the
// best-fit arena serves a request from a larger freed block and the rest of
// a split block serves the next one, freed neighbours merge, what is held
// stays bounded by what was ever in use at once whatever the mix of sizes,
// small blocks reuse their bin, statistics add up, several threads at once.
//
// Every test case frees all it takes, so each starts with the arena wholly
// free (freed neighbours merge back into one range) and the figures below
// are exact; held = bytes_in_use + bytes_cached.
#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/tensor.h"

using namespace gesso;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

size_t held() {
  const AllocatorStats s = allocator_stats(Device::cpu);
  return s.bytes_in_use + s.bytes_cached;
}

// One arena block, freed when it goes out of scope.
struct Block {
  size_t bytes;
  void* p;
  explicit Block(size_t n) : bytes(n), p(device_allocate(Device::cpu, n)) {}
  ~Block() { device_free(Device::cpu, p, bytes); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  char* c() const { return static_cast<char*>(p); }
};

}  // namespace

TEST_CASE("a freed large block serves a smaller request, and the rest of it the next one") {
  size_t held_after_first;
  char* first;
  {
    Block big(64 * kMiB);
    std::memset(big.p, 1, big.bytes);  // the memory is usable
    first = big.c();
    held_after_first = held();
  }
  const AllocatorStats before = allocator_stats(Device::cpu);
  {
    Block a(40 * kMiB + 123);  // not a multiple of anything
    Block b(24 * kMiB - 4096 - 123);
    std::memset(a.p, 2, a.bytes);
    std::memset(b.p, 3, b.bytes);
    const AllocatorStats mid = allocator_stats(Device::cpu);
    CHECK(mid.cache_hits == before.cache_hits + 2);  // both from the freed 64 MiB
    CHECK(held() == held_after_first);               // nothing new from the system
    CHECK(a.c() == first);                           // best fit, lowest address: the freed block's start
    CHECK(b.c() >= a.c() + a.bytes);
    CHECK(b.c() + b.bytes <= first + 64 * kMiB);
  }
  CHECK(allocator_stats(Device::cpu).bytes_in_use == before.bytes_in_use);
}

TEST_CASE("freed neighbours merge: three freed blocks serve one request of their total size") {
  const size_t start = held();
  char* base;
  {
    Block a(8 * kMiB), b(8 * kMiB), c(8 * kMiB);
    base = a.c();
    CHECK(b.c() == a.c() + 8 * kMiB);  // the arena hands out adjacent ranges
    CHECK(c.c() == b.c() + 8 * kMiB);
  }
  const size_t held_before = held();
  CHECK(held_before >= start);
  Block all(24 * kMiB);
  CHECK(all.c() == base);
  CHECK(held() == held_before);
}

TEST_CASE("what is held is bounded by the largest total in use at once, whatever the mix of sizes") {
  // One block at a time, of 40 sizes between 1 and 48 MiB in a scrambled
  // order: per-size free lists would end up holding every size (~1 GiB);
  // the arena holds the largest, plus at most a page of rounding.
  const size_t start = held();
  size_t largest = 0;
  for (int i = 0; i < 40; ++i) {
    const size_t bytes = kMiB + static_cast<size_t>((i * 17) % 40) * (47 * kMiB / 40) + 4096 * i + 7;
    largest = std::max(largest, bytes);
    Block b(bytes);
    std::memset(b.p, 0, b.bytes);
  }
  const size_t largest_rounded = (largest + 4095) / 4096 * 4096;
  CHECK(held() <= std::max(start, largest_rounded));
  // Two at a time: bounded by the largest pair (1 MiB apart in size, so one
  // block of the pair always fits where the previous pair was).
  for (int i = 0; i < 20; ++i) {
    const size_t bytes = 2 * kMiB + static_cast<size_t>((i * 7) % 20) * kMiB;
    Block a(bytes), b(bytes + kMiB);
    (void)a;
    (void)b;
  }
  CHECK(held() <= std::max(start, 2 * 22 * kMiB + 2 * kMiB));
}

TEST_CASE("statistics: in use, cached, peaks and hits add up") {
  reset_peak_memory(Device::cpu);
  const AllocatorStats s0 = allocator_stats(Device::cpu);
  CHECK(s0.peak_bytes_in_use == s0.bytes_in_use);
  CHECK(s0.peak_bytes_reserved == s0.bytes_in_use + s0.bytes_cached);
  const size_t large = 3 * kMiB + 5;  // rounded up to whole pages
  const size_t large_rounded = 3 * kMiB + 4096;
  {
    Block b(large);
    const AllocatorStats s1 = allocator_stats(Device::cpu);
    CHECK(s1.bytes_in_use == s0.bytes_in_use + large_rounded);
    CHECK(s1.allocations == s0.allocations + 1);
    CHECK(s1.peak_bytes_in_use == s1.bytes_in_use);
    CHECK(s1.peak_bytes_reserved >= s1.bytes_in_use + s1.bytes_cached);
    void* small = device_allocate(Device::cpu, 1000);  // a small block: its bin, not the arena
    const AllocatorStats s2 = allocator_stats(Device::cpu);
    CHECK(s2.bytes_in_use == s1.bytes_in_use + allocation_bin(1000));
    device_free(Device::cpu, small, 1000);
    void* again = device_allocate(Device::cpu, 1001);  // same bin: the freed block again
    CHECK(again == small);
    CHECK(allocator_stats(Device::cpu).cache_hits == s2.cache_hits + 1);
    device_free(Device::cpu, again, 1001);
  }
  const AllocatorStats s3 = allocator_stats(Device::cpu);
  CHECK(s3.bytes_in_use == s0.bytes_in_use);
  CHECK(s3.peak_bytes_in_use == s0.bytes_in_use + large_rounded + allocation_bin(1000));
  CHECK(s3.bytes_cached >= large_rounded);  // kept for reuse
  reset_peak_memory(Device::cpu);
  CHECK(allocator_stats(Device::cpu).peak_bytes_in_use == s3.bytes_in_use);
  // Tensors go through the same allocator.
  { Tensor t = zeros({1 << 20}); }  // 4 MiB
  CHECK(allocator_stats(Device::cpu).peak_bytes_in_use == s3.bytes_in_use + 4 * kMiB);
}

TEST_CASE("empty_cache releases the free memory, which is still usable afterwards") {
  { Block b(32 * kMiB); std::memset(b.p, 1, b.bytes); }
  const size_t before = held();
  empty_cache(Device::cpu);
  CHECK(held() + 32 * kMiB <= before);
  CHECK(allocator_stats(Device::cpu).bytes_cached < 32 * kMiB);
  Block b(32 * kMiB);
  std::memset(b.p, 2, b.bytes);
  CHECK(b.c()[b.bytes - 1] == 2);
}

TEST_CASE("threads allocating and freeing at once leave consistent statistics") {
  const AllocatorStats s0 = allocator_stats(Device::cpu);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) {
        const size_t bytes = (i % 3 == 0 ? 300 : (t + 1) * 256 * 1024 + 4096 * (i % 5) + 1);
        Block b(bytes);
        static_cast<char*>(b.p)[bytes - 1] = 1;
      }
    });
  for (auto& th : threads) th.join();
  const AllocatorStats s1 = allocator_stats(Device::cpu);
  CHECK(s1.bytes_in_use == s0.bytes_in_use);
  CHECK(s1.allocations == s0.allocations + 800);
}
