/*
 * allocator.h: caching allocators. Freed blocks go to a free list binned by
 * size and are handed out again, never back to the OS: letting glibc return
 * large buffers was measured costing 3-4x in page faults on the CPU path,
 * and cudaMalloc is slow enough that every engine caches on the GPU too.
 * Bins: sizes round up to 1/8 of their power of two (at most 12.5% waste).
 */
#pragma once
#include <cstddef>
#include <cstdint>
#include "tensor/device.h"

namespace gesso {

struct AllocatorStats {
  size_t bytes_in_use = 0;     // handed out to tensors now
  size_t peak_bytes_in_use = 0;
  size_t bytes_cached = 0;     // held in free lists, ready for reuse
  size_t allocations = 0;      // calls to allocate()
  size_t cache_hits = 0;       // of which served from a free list
};

void* device_allocate(Device d, size_t bytes);
void device_free(Device d, void* p, size_t bytes);
AllocatorStats allocator_stats(Device d);
void reset_peak_memory(Device d);
// Returns every cached block of the device to the system.
void empty_cache(Device d);
// The size a request of `bytes` is rounded up to (exposed for tests).
size_t allocation_bin(size_t bytes);

// Copies bytes between devices (cpu/simt are host memory).
void device_copy(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);

}  // namespace gesso
