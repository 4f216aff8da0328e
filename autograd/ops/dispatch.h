/*
 * dispatch.h: what every op file shares: the error for a device without a
 * kernel, and a contiguous copy taken outside the graph (ops record their own
 * node; the copy they feed a kernel needs none).
 */
#pragma once
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/common.h"

// Calls the CUDA twin `fn(args..., stream)` of an op on the tensor's device:
// kernels::cuda::fn on a GPU, kernels::simt::fn (the same source, run on the
// CPU by the SIMT runtime) on the simt device. A build without that backend
// throws naming the op.
#ifdef GESSO_HAVE_CUDA
#define GESSO_IF_CUDA_BUILT(stmt, op) stmt
#else
#define GESSO_IF_CUDA_BUILT(stmt, op) ::gesso::ops_detail::no_kernel(op, ::gesso::Device::cuda)
#endif
#ifdef GESSO_HAVE_SIMT
#define GESSO_IF_SIMT_BUILT(stmt, op) stmt
#else
#define GESSO_IF_SIMT_BUILT(stmt, op) ::gesso::ops_detail::no_kernel(op, ::gesso::Device::simt)
#endif
#define GESSO_RUN_CUDA_TWIN(device, op, fn, ...)                                                               \
  do {                                                                                                       \
    if ((device) == ::gesso::Device::cuda) {                                                                 \
      GESSO_IF_CUDA_BUILT(::gesso::kernels::cuda::fn(__VA_ARGS__, ::gesso::ops_detail::cuda_stream()), op); \
    } else {                                                                                                 \
      GESSO_IF_SIMT_BUILT(::gesso::kernels::simt::fn(__VA_ARGS__, nullptr), op);                             \
    }                                                                                                        \
  } while (0)

namespace gesso::ops_detail {

// The stream that ops launch on (the default stream for now).
inline cudaStream_t cuda_stream() { return nullptr; }

// Device kernels run in float32 only (DESIGN.md: float64 is for CPU gradient checks).
inline void check_float32_on_device(const Tensor& x, const char* op) {
  GESSO_CHECK(x.dtype() == DType::f32, op, ": tensors on ", device_name(x.device()),
              " must be float32, got ", dtype_name(x.dtype()));
}

[[noreturn]] inline void no_kernel(const char* op, Device d) {
  fail(op, ": no kernel for device ", device_name(d),
       " in this build (the CPU backend runs every op; move the tensors with .to(Device::cpu))");
}

// x itself when contiguous, else a contiguous copy; never records a node.
inline Tensor dense(const Tensor& x) {
  if (x.is_contiguous()) return x;
  NoGradGuard no_grad;
  return x.contiguous();
}

}  // namespace gesso::ops_detail
