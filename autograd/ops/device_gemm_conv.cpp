// device_gemm_conv.cpp: handwritten or vendor GEMM and convolution on a device
// (device_gemm_conv.h).
#include "autograd/ops/device_gemm_conv.h"

#include "autograd/ops/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/kernel_impl.h"
#ifdef GESSO_HAVE_CUDA
#include "kernels/cuda/vendor/vendor.h"
#endif

namespace gesso::ops_detail {

namespace {

// True when `op` should run the vendor library: on cuda only, when
// GESSO_KERNELS=vendor. On simt, vendor falls back to handwritten with a
// one-time note (kernel_impl.h).
bool use_vendor(Device device, const char* op) {
  if (device != Device::cuda) {
    kernels::simt_kernel_impl(op);
    return false;
  }
  return kernels::kernel_impl() == kernels::KernelImpl::vendor;
}

void require_cudnn(const char* op) {
  GESSO_CHECK(kernels::cudnn_built(), op,
              ": GESSO_KERNELS=vendor asks for cuDNN, which this build does not have (configure did not find "
              "cudnn.h / libcudnn.so); unset GESSO_KERNELS or set it to handwritten");
}

}  // namespace

void device_gemm_batched(Device device, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                         int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c) {
  if (use_vendor(device, "gemm")) {
#ifdef GESSO_HAVE_CUDA
    kernels::vendor::gemm_batched_cublas(batch, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b,
                                         beta, C, ldc, stride_c, cuda_stream());
#else
    no_kernel("gemm", device);
#endif
    return;
  }
  GESSO_RUN_CUDA_TWIN(device, "gemm", gemm_batched_cuda, batch, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B,
                      ldb, stride_b, beta, C, ldc, stride_c);
}

void device_conv2d_forward(Device device, const float* x, const float* w, const float* bias, float* y,
                           const kernels::Conv2dGeometry& g) {
  if (use_vendor(device, "conv2d")) {
    require_cudnn("conv2d");
#ifdef GESSO_HAVE_CUDA
    kernels::vendor::conv2d_forward_cudnn(x, w, bias, y, g, cuda_stream());
#else
    no_kernel("conv2d", device);
#endif
    return;
  }
  GESSO_RUN_CUDA_TWIN(device, "conv2d", conv2d_forward_cuda, x, w, bias, y, g);
}

void device_conv2d_backward_input(Device device, const float* gy, const float* w, float* gx,
                                  const kernels::Conv2dGeometry& g) {
  if (use_vendor(device, "conv2d_input_grad")) {
    require_cudnn("conv2d_input_grad");
#ifdef GESSO_HAVE_CUDA
    kernels::vendor::conv2d_backward_input_cudnn(gy, w, gx, g, cuda_stream());
#else
    no_kernel("conv2d_input_grad", device);
#endif
    return;
  }
  GESSO_RUN_CUDA_TWIN(device, "conv2d_input_grad", conv2d_backward_input_cuda, gy, w, gx, g);
}

void device_conv2d_backward_weight(Device device, const float* x, const float* gy, float* gw,
                                   const kernels::Conv2dGeometry& g) {
  if (use_vendor(device, "conv2d_weight_grad")) {
    require_cudnn("conv2d_weight_grad");
#ifdef GESSO_HAVE_CUDA
    kernels::vendor::conv2d_backward_weight_cudnn(x, gy, gw, g, cuda_stream());
#else
    no_kernel("conv2d_weight_grad", device);
#endif
    return;
  }
  GESSO_RUN_CUDA_TWIN(device, "conv2d_weight_grad", conv2d_backward_weight_cuda, x, gy, gw, g);
}

void device_reflection_pad2d_forward(Device device, const float* x, float* y, int64_t planes, int64_t H, int64_t W,
                                     int64_t pad_h, int64_t pad_w) {
  GESSO_RUN_CUDA_TWIN(device, "reflection_pad2d", reflection_pad2d_forward_cuda, x, y, planes, H, W, pad_h, pad_w);
}

void device_reflection_pad2d_backward(Device device, const float* gy, float* gx, int64_t planes, int64_t H,
                                      int64_t W, int64_t pad_h, int64_t pad_w) {
  GESSO_RUN_CUDA_TWIN(device, "reflection_pad2d_backward", reflection_pad2d_backward_cuda, gy, gx, planes, H, W,
                      pad_h, pad_w);
}

}  // namespace gesso::ops_detail
