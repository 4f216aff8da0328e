/*
 * thread_scratch.h: the CPU kernels' per-thread scratch buffers (GEMM
 * packing panels, im2col slices, Winograd's transformed tiles).
 *
 * A buffer lives as long as its thread and only grows: OpenMP keeps its
 * threads, so repeated calls neither allocate nor fault pages in, and the
 * sizes are bounded by each kernel's block sizes, not by its tensors.
 * Buffers are 64-byte aligned (a cache line, a zmm register) and not
 * initialised: a kernel writes what it reads, or zeroes it itself.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace gesso::kernels {

// At least n elements of T in buffer `slot` (< kSlots) of `Owner` for the
// calling thread. Owner is a tag type, one per kernel family, so that a GEMM
// called inside a convolution never hands out the convolution's buffers.
template <class T, class Owner, int kSlots>
T* thread_scratch(int slot, int64_t n) {
  struct Buffer {
    T* data = nullptr;
    int64_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[kSlots];
  Buffer& b = buffers[slot];
  if (b.size < n) {
    std::free(b.data);
    b.data = nullptr;
    b.size = 0;
    const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;  // aligned_alloc wants a multiple
    b.data = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (b.data == nullptr) throw std::bad_alloc();
    b.size = n;
  }
  return b.data;
}

}  // namespace gesso::kernels
