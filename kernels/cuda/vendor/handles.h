/*
 * handles.h: what every vendor twin in kernels/cuda/vendor/ shares (nvcc
 * only; includes the cuBLAS and, when configure found it, cuDNN headers):
 *   - one cuBLAS and one cuDNN handle per host thread, created at first use
 *     and bound to the caller's stream on every request;
 *   - GESSO_CUBLAS_CHECK / GESSO_CUDNN_CHECK / GESSO_VENDOR_CUDA_CHECK: a
 *     status other than success throws gesso::Error naming file:line, the
 *     call and the library's message;
 *   - VendorWorkspace: scratch device memory (cuDNN's algorithm workspace)
 *     from gesso's caching allocator, held for one call.
 * GESSO_HAVE_CUDNN is defined by CMake when cuDNN was found.
 */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef GESSO_HAVE_CUDNN
#include <cudnn.h>
#endif

#include <cstddef>

#include "tensor/error.h"

#define GESSO_CUBLAS_CHECK(call)                                                                        \
  do {                                                                                                  \
    const cublasStatus_t gesso_status_ = (call);                                                        \
    if (gesso_status_ != CUBLAS_STATUS_SUCCESS)                                                         \
      ::gesso::fail(__FILE__, ":", __LINE__, ": ", #call, " failed: ", cublasGetStatusName(gesso_status_), \
                    " (", cublasGetStatusString(gesso_status_), ")");                                  \
  } while (0)

#ifdef GESSO_HAVE_CUDNN
#define GESSO_CUDNN_CHECK(call)                                                                                \
  do {                                                                                                         \
    const cudnnStatus_t gesso_status_ = (call);                                                                \
    if (gesso_status_ != CUDNN_STATUS_SUCCESS)                                                                 \
      ::gesso::fail(__FILE__, ":", __LINE__, ": ", #call, " failed: ", cudnnGetErrorString(gesso_status_)); \
  } while (0)
#endif

#define GESSO_VENDOR_CUDA_CHECK(call)                                                                  \
  do {                                                                                                 \
    const cudaError_t gesso_err_ = (call);                                                             \
    if (gesso_err_ != cudaSuccess)                                                                     \
      ::gesso::fail(__FILE__, ":", __LINE__, ": ", #call, " failed: ", cudaGetErrorString(gesso_err_)); \
  } while (0)

namespace gesso::kernels::vendor {

// The calling thread's cuBLAS handle (default math mode: true FP32, no TF32),
// its stream set to `stream`.
cublasHandle_t cublas_handle(cudaStream_t stream);

#ifdef GESSO_HAVE_CUDNN
// The calling thread's cuDNN handle, its stream set to `stream`.
cudnnHandle_t cudnn_handle(cudaStream_t stream);
#endif

// Device scratch from the caching allocator, returned when the call ends
// (safe with one stream: later users of the block queue after this call's work).
class VendorWorkspace {
 public:
  explicit VendorWorkspace(size_t bytes);
  ~VendorWorkspace();
  VendorWorkspace(const VendorWorkspace&) = delete;
  VendorWorkspace& operator=(const VendorWorkspace&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_;
  void* data_ = nullptr;
};

}  // namespace gesso::kernels::vendor
