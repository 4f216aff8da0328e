/*
 * workspace.h: scratch memory a launcher needs for the length of one call
 * (the im2col buffer of a convolution, split-K partial sums), in the memory
 * its kernels run on:
 *   nvcc  device memory from the caching allocator (kernels/cuda/runtime.h).
 *         Released at the end of the call while kernels may still be queued:
 *         safe because every gesso op runs on one stream, so a later user of
 *         the same block is ordered after them.
 *   SIMT  host memory filled with NaN, so a kernel that reads scratch no
 *         kernel wrote shows it in the result (launches are synchronous).
 * In kernels::cuda or kernels::simt (GESSO_CUDA_NS), as the two builds differ.
 */
#pragma once
#include <cstddef>

#include "kernels/cuda/launch.h"

#if defined(__CUDACC__)
#include "kernels/cuda/runtime.h"
#else
#include <limits>
#include <memory>
#endif

namespace gesso::kernels::GESSO_CUDA_NS {

class Workspace {
 public:
  explicit Workspace(size_t floats) : bytes_(floats * sizeof(float)) {
    if (floats == 0) return;
#if defined(__CUDACC__)
    data_ = static_cast<float*>(::gesso::cuda::cached_malloc(bytes_));
#else
    host_.reset(new float[floats]);
    for (size_t i = 0; i < floats; ++i) host_[i] = std::numeric_limits<float>::quiet_NaN();
    data_ = host_.get();
#endif
  }
  ~Workspace() {
#if defined(__CUDACC__)
    if (data_) ::gesso::cuda::cached_free(data_, bytes_);
#endif
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  float* data() const { return data_; }

 private:
  size_t bytes_;
  float* data_ = nullptr;
#if !defined(__CUDACC__)
  std::unique_ptr<float[]> host_;
#endif
};

}  // namespace gesso::kernels::GESSO_CUDA_NS
