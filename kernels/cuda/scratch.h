/*
 * scratch.h: host-side helpers that the launchers in kernels/cuda share:
 * how many blocks a grid-stride kernel gets, and device memory for a
 * launch's intermediate results (per-block partial sums).
 */
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "kernels/cuda/launch.h"
#if defined(__CUDACC__)
#include "kernels/cuda/runtime.h"
#endif

namespace gesso::kernels::GESSO_CUDA_NS {

// Blocks for a grid-stride loop over n items at `threads` per block: one
// item per thread up to `max_blocks`, then each thread loops. 4096 blocks of
// 256 threads is several waves on any current GPU (132 SMs x 2048 resident
// threads on an H100), and keeps the SIMT runtime's fiber count bounded.
inline unsigned grid_blocks(int64_t n, int threads, int64_t max_blocks = 4096) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > max_blocks) blocks = max_blocks;
  return static_cast<unsigned>(blocks);
}

// Threads per block for a kernel that uses full-warp shuffles: the
// launcher's choice (kernels::block_threads), checked to be whole warps.
inline int warp_multiple_threads(int preferred, const char* who) {
  const int threads = block_threads(preferred);
  GESSO_CHECK(threads >= 32 && threads <= 1024 && threads % 32 == 0, who,
              ": block size must be a multiple of 32 in [32, 1024] (full-warp shuffles), got ", threads);
  return threads;
}

// Device memory owned by one launcher call, typed by the caller (double or
// struct partials; kernels/cuda/workspace.h is the float-only twin the conv
// kernels use). Under nvcc it comes from the caching allocator and goes back
// to it when the launcher returns, possibly before the kernels that use it
// have run: safe because every later user of the block is ordered after them
// on the same stream. Under the SIMT runtime (synchronous launches, host
// memory) it is filled with 0xFF bytes, so a partial that no block wrote
// reads as NaN.
class DeviceScratch {
 public:
  explicit DeviceScratch(size_t bytes) : bytes_(bytes) {
    if (bytes_ == 0) return;
#if defined(__CUDACC__)
    p_ = ::gesso::cuda::cached_malloc(bytes_);
#else
    p_ = ::operator new(bytes_);
    std::memset(p_, 0xFF, bytes_);
#endif
  }
  ~DeviceScratch() {
    if (!p_) return;
#if defined(__CUDACC__)
    ::gesso::cuda::cached_free(p_, bytes_);
#else
    ::operator delete(p_);
#endif
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  size_t bytes_;
  void* p_ = nullptr;
};

}  // namespace gesso::kernels::GESSO_CUDA_NS
