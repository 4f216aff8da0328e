/*
 * handles.cu: the per-thread cuBLAS and cuDNN handles and the vendor
 * workspace (handles.h).
 *
 * A handle is created on a thread's first vendor call and never destroyed:
 * destroying it from a thread_local destructor at exit races the CUDA
 * runtime's own teardown (the driver may already be gone), and the process's
 * end releases it anyway. One per thread because a handle must not be used
 * by two threads at once.
 */
#include "kernels/cuda/vendor/handles.h"

#include "kernels/cuda/runtime.h"

namespace gesso::kernels::vendor {

cublasHandle_t cublas_handle(cudaStream_t stream) {
  thread_local cublasHandle_t handle = nullptr;
  if (!handle) {
    GESSO_CUBLAS_CHECK(cublasCreate(&handle));
    GESSO_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  }
  GESSO_CUBLAS_CHECK(cublasSetStream(handle, stream));
  return handle;
}

#ifdef GESSO_HAVE_CUDNN
cudnnHandle_t cudnn_handle(cudaStream_t stream) {
  thread_local cudnnHandle_t handle = nullptr;
  if (!handle) GESSO_CUDNN_CHECK(cudnnCreate(&handle));
  GESSO_CUDNN_CHECK(cudnnSetStream(handle, stream));
  return handle;
}
#endif

VendorWorkspace::VendorWorkspace(size_t bytes) : bytes_(bytes) {
  if (bytes_ > 0) data_ = ::gesso::cuda::cached_malloc(bytes_);
}

VendorWorkspace::~VendorWorkspace() {
  if (data_) ::gesso::cuda::cached_free(data_, bytes_);
}

}  // namespace gesso::kernels::vendor
