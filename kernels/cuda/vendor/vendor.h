/*
 * vendor.h: the vendor libraries' twins of gesso's GEMM and convolution
 * kernels, the yardsticks that GESSO_KERNELS=vendor selects on Device::cuda
 * (kernels/kernel_impl.h). Plain C++ declarations; the definitions live in
 * the .cu files of kernels/cuda/vendor, compiled by nvcc into gesso_cuda only
 * (the SIMT build takes only the .cu files directly in kernels/cuda, so it
 * never sees cuBLAS or cuDNN headers).
 *
 * Same contracts, layouts and accumulation rules as the handwritten twins
 * (kernels/gemm.h, kernels/conv.h): row-major GEMM with transposes, alpha,
 * beta and leading dimensions; NCHW convolutions, y and gx written (=), gw
 * accumulated (+=). Every cuBLAS/cuDNN status is checked and a failure
 * throws gesso::Error naming file:line, the call and the library's message.
 *
 * Precision: both are asked for true FP32 (cuBLAS's default math mode,
 * cuDNN's CUDNN_FMA_MATH), no TF32 tensor cores, so that they compare with
 * gesso's FP32 FMA kernels on equal terms, in speed and in the parity tests.
 */
#pragma once
#include <cstdint>

#include "kernels/common.h"
#include "kernels/conv.h"

namespace gesso::kernels::vendor {

// cuBLAS (kernels/cuda/vendor/cublas_gemm.cu): cublasSgemmStridedBatched on
// the row-major problem read as its column-major transpose.
void gemm_batched_cublas(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                         float beta, float* C, int64_t ldc, int64_t stride_c, cudaStream_t stream);

// cuDNN (kernels/cuda/vendor/cudnn_conv.cu): the legacy convolution API with
// the fastest algorithm cudnnFind* measures for each geometry (cached).
// In a build without cuDNN these throw, saying so.
void conv2d_forward_cudnn(const float* x, const float* w, const float* bias, float* y, const Conv2dGeometry& g,
                          cudaStream_t stream);
void conv2d_backward_input_cudnn(const float* gy, const float* w, float* gx, const Conv2dGeometry& g,
                                 cudaStream_t stream);
void conv2d_backward_weight_cudnn(const float* x, const float* gy, float* gw, const Conv2dGeometry& g,
                                  cudaStream_t stream);

}  // namespace gesso::kernels::vendor
