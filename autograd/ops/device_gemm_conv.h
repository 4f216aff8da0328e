/*
 * device_gemm_conv.h: the one place that picks the device implementation of
 * GEMM and convolution for the ops (matmul.cpp, conv.cpp):
 *   simt  the handwritten CUDA kernels run by the SIMT runtime (kernels::simt)
 *   cuda  the handwritten CUDA kernels (kernels::cuda), or cuBLAS / cuDNN
 *         when GESSO_KERNELS=vendor (kernels/kernel_impl.h)
 * Same arguments as the CPU twins in kernels/gemm.h and kernels/conv.h
 * (float, device pointers); the stream is the ops' stream. A build without
 * the device's backend throws naming the op.
 */
#pragma once
#include <cstdint>

#include "kernels/conv.h"
#include "tensor/device.h"

namespace gesso::ops_detail {

void device_gemm_batched(Device device, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                         int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c);

void device_conv2d_forward(Device device, const float* x, const float* w, const float* bias, float* y,
                           const kernels::Conv2dGeometry& g);
void device_conv2d_backward_input(Device device, const float* gy, const float* w, float* gx,
                                  const kernels::Conv2dGeometry& g);
void device_conv2d_backward_weight(Device device, const float* x, const float* gy, float* gw,
                                   const kernels::Conv2dGeometry& g);

// Handwritten only (cuDNN has no reflection padding).
void device_reflection_pad2d_forward(Device device, const float* x, float* y, int64_t planes, int64_t H, int64_t W,
                                     int64_t pad_h, int64_t pad_w);
void device_reflection_pad2d_backward(Device device, const float* gy, float* gx, int64_t planes, int64_t H,
                                      int64_t W, int64_t pad_h, int64_t pad_w);

}  // namespace gesso::ops_detail
