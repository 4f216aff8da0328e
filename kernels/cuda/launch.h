/*
 * launch.h: how every .cu file of kernels/cuda launches a kernel and declares
 * dynamic shared memory, so that one source compiles twice:
 *   - under nvcc: a real launch, followed by a checked cudaGetLastError();
 *   - under g++ with -DGESSO_SIMT_COMPILE: a call into the SIMT runtime
 *     (kernels/simt/runtime.h), which runs the grid on the CPU before it
 *     returns (docs/SIMT.md).
 *
 *   GESSO_LAUNCH(kernel, grid, block, smem_bytes, stream, args...);
 *       kernel<<<grid, block, smem_bytes, stream>>>(args...). A failed launch,
 *       or under SIMT a kernel that broke a rule (see SIMT.md), throws
 *       gesso::Error naming the kernel and the launch's file:line. A template
 *       kernel with commas in its name goes in parentheses.
 *   GESSO_DYNAMIC_SHARED(type, name);
 *       declares `type* name`, the block's dynamic shared memory (smem_bytes of
 *       the launch). Use it instead of `extern __shared__`: under SIMT the
 *       memory is allocated at exactly that size per block and filled with
 *       0xFF bytes, so reading a byte no thread wrote gives NaN and reading
 *       past the end is an AddressSanitizer report.
 */
#pragma once
#include "kernels/common.h"
#include "tensor/error.h"

// The namespace a .cu file's launchers go in (see GESSO_DECLARE_CUDA_TWINS in
// kernels/common.h): kernels::cuda when nvcc builds it for the GPU,
// kernels::simt when g++ builds it for the SIMT runtime. Both can then be
// linked into one binary.
#if defined(__CUDACC__)
#define GESSO_CUDA_NS cuda
#else
#define GESSO_CUDA_NS simt
#endif

#if defined(__CUDACC__)

#include <cuda_runtime.h>

namespace gesso::launch_detail {
inline void check_launch(cudaError_t err, const char* kernel, const char* file, int line) {
  if (err != cudaSuccess)
    ::gesso::fail(file, ":", line, ": launch of ", kernel, " failed: ", cudaGetErrorString(err));
}
}  // namespace gesso::launch_detail

#define GESSO_LAUNCH(kernel, grid, block, smem_bytes, stream, ...)                        \
  do {                                                                                    \
    kernel<<<(grid), (block), (smem_bytes), (stream)>>>(__VA_ARGS__);                     \
    ::gesso::launch_detail::check_launch(cudaGetLastError(), #kernel, __FILE__, __LINE__); \
  } while (0)

#define GESSO_DYNAMIC_SHARED(type, name)                                  \
  extern __shared__ __align__(16) unsigned char gesso_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(gesso_dynamic_shared_)

#elif defined(GESSO_SIMT_COMPILE)

#include "kernels/simt/simt.h"

#define GESSO_LAUNCH(kernel, grid, block, smem_bytes, stream, ...)                                    \
  ::gesso::simt::launcher(::gesso::simt::LaunchSite{#kernel, __FILE__, __LINE__}, kernel, (grid), (block), \
                          (smem_bytes), (stream))(__VA_ARGS__)

#define GESSO_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::gesso::simt::dynamic_shared_memory())

#else
#error "kernels/cuda/launch.h: compile with nvcc, or as C++ with -x c++ -DGESSO_SIMT_COMPILE for the SIMT runtime"
#endif
