/*
 * batch_norm.h: cuDNN's batch norm, the vendor yardstick beside gesso's
 * handwritten kernels/cuda/norm.cu, selected by GESSO_KERNELS=vendor on
 * Device::cuda (kernels/kernel_impl.h). Plain C++ declarations; the
 * definitions are in kernels/cuda/vendor/batch_norm.cu, compiled by nvcc into
 * gesso_cuda only. In a CUDA build without cuDNN they throw, saying so.
 *
 * Same layouts and rules as kernels/norm.h: x, y, g, dx are (N, C, HW)
 * float32 device memory; weight, bias, means and variances are (C); weight
 * and bias may be null (no affine transform); save_var is the BIASED batch
 * variance; dx is written (=), dweight and dbias accumulate (+=), and any of
 * the three may be null. cuDNN mode: CUDNN_BATCHNORM_SPATIAL.
 */
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace gesso::kernels::vendor {

// Training forward: batch statistics to save_mean/save_var and y. When
// running_mean/running_var are given they are updated in the same call, as
// batch_norm_update_running_cpu does (momentum, unbiased variance).
void batch_norm_forward_train_cudnn(const float* x, const float* weight, const float* bias, float* y,
                                    float* save_mean, float* save_var, float* running_mean, float* running_var,
                                    double momentum, int64_t N, int64_t C, int64_t HW, double eps,
                                    cudaStream_t stream);

// Inference forward from fixed statistics (the running mean and variance).
void batch_norm_forward_eval_cudnn(const float* x, const float* mean, const float* var, const float* weight,
                                   const float* bias, float* y, int64_t N, int64_t C, int64_t HW, double eps,
                                   cudaStream_t stream);

// Backward through the batch statistics (training mode); mean and var are
// those the forward saved. cuDNN has no backward for fixed statistics: eval
// mode runs the handwritten kernel.
void batch_norm_backward_cudnn(const float* x, const float* g, const float* mean, const float* var,
                               const float* weight, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                               int64_t HW, double eps, cudaStream_t stream);

}  // namespace gesso::kernels::vendor
