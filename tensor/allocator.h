/*
 * allocator.h: caching allocators. Freed memory is kept and handed out
 * again rather than given back to the system: letting glibc return large
 * buffers was measured costing 3-4x in page faults on the CPU path, and
 * cudaMalloc is slow enough that every engine caches on the GPU too.
 *
 * Host memory (cpu and simt tensors) comes from two places:
 *
 *   small   requests up to 256 KiB: free lists binned by size (sizes round up
 *           to 1/8 of their power of two, at most 12.5% waste); a block serves
 *           only requests of its own bin. They add up to a few MiB at most.
 *   large   everything else: an arena with best-fit splitting. The arena is
 *           one large reservation of address space (the size of physical
 *           memory; pages are committed as the arena's high-water mark rises
 *           and are resident only once touched). A request (rounded up to
 *           4 KiB) takes the smallest free range that holds it (the lowest
 *           address on ties) and leaves the rest free; a freed block merges
 *           with free neighbours. So a freed 64 MiB block serves a 40 MiB request and
 *           the remaining 24 MiB serves the next one, and what is held tracks
 *           what is in use: measured peak held / peak in use was 1.02 (Gatys
 *           VGG-19 256 px), 1.06 (dcgan64), 1.10 (Gatys 512 and 1024 px),
 *           where the per-size free lists this replaced held 1.3-1.6x (3.7 GB
 *           for 2.3 GB in use at 1024 px): a block cached in one bin could
 *           not serve another. The arena grows by another reservation only
 *           if it is ever full.
 *
 * Neither part gives memory back to the system except on empty_cache(), so a
 * step that repeats the allocations of the one before faults no pages in.
 * Under AddressSanitizer the arena poisons what is not handed out, so an
 * overrun past an arena block is still caught (reported as use-after-poison).
 *
 * The CUDA allocator (kernels/cuda/runtime.cu) keeps per-size free lists
 * (allocation_bin) and fills the same statistics except the reserved ones.
 */
#pragma once
#include <cstddef>
#include <cstdint>
#include "tensor/device.h"

namespace gesso {

struct AllocatorStats {
  size_t bytes_in_use = 0;         // handed out to tensors now (sizes as rounded up)
  size_t peak_bytes_in_use = 0;
  size_t bytes_cached = 0;         // held for reuse: not in use, but (possibly) resident
  size_t peak_bytes_reserved = 0;  // peak of bytes_in_use + bytes_cached: the allocator's share of peak RSS
  size_t allocations = 0;          // calls to allocate()
  size_t cache_hits = 0;           // of which served from memory held before (no fresh pages)
};

void* device_allocate(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);
AllocatorStats allocator_stats(Device d);
// Resets the peaks to what is in use (and, for the host, held) now.
void reset_peak_memory(Device d);
// Returns the device's cached memory to the system. On the host: the small
// blocks are freed and the arena's free pages released (their addresses stay
// reserved); bytes_cached then counts only free bytes below the highest
// block in use, an upper bound on what stays resident.
void empty_cache(Device d);
// The process's maximum resident set so far, in bytes (getrusage): what the
// benchmarks report as peak memory, allocator and everything else together.
size_t max_rss_bytes();
// The size a small (or CUDA) request of `bytes` is rounded up to (exposed for tests).
size_t allocation_bin(size_t bytes);
// Requests above this many bytes come from the host arena (exposed for tests).
constexpr size_t kHostSmallLimit = size_t(256) << 10;

// Copies bytes between devices (cpu/simt are host memory).
void device_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);

}  // namespace gesso
