/*
 * norm.h: fused normalisation kernels (CPU twins in kernels/cpu/norm.cpp; the
 * CUDA twins will share these signatures plus a cudaStream_t).
 *
 * Layouts (all contiguous, row-major):
 *   batch norm     x, y, g, dx are (N, C, HW); statistics per channel c over
 *                  (N, HW); weight, bias, mean, var are (C)
 *   instance norm  x, y, g, dx are (N, C, HW); statistics per (n, c) over HW,
 *                  mean/var are (N, C); weight, bias are (C)
 *   layer norm     x, y, g, dx are (M, K); statistics per row over K,
 *                  mean/var are (M); weight, bias are (K)
 *
 * Statistics: mean and the biased variance (divide by the count), summed in
 * double about a shift (the group's first element), so that a large common
 * offset does not cancel away the variance. invstd = 1 / sqrt(var + eps).
 *
 * weight and bias may be null (no affine transform). In the backward kernels
 * any of dx, dweight, dbias may be null to skip it.
 * Accumulation rule: parameters' grads (dweight, dbias) accumulate with +=;
 * activations' grads (dx) are written with =.
 *
 * Backward formula (batch statistics), per group with count n and
 * xhat = (x - mean) * invstd, gw = g * weight:
 *   dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat))
 *   dweight += sum(g * xhat), dbias += sum(g)
 * With fixed statistics (batch norm in eval mode) dx = gw * invstd.
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

// ---- batch norm: x is (N, C, HW)

// Training forward: writes the batch mean and biased variance of each channel
// to save_mean/save_var (C each) and y = (x - mean) * invstd * weight + bias.
template <class T>
void batch_norm_forward_train_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                                  int64_t N, int64_t C, int64_t HW, double eps);

// Eval forward: y from given statistics (the running mean and variance).
template <class T>
void batch_norm_forward_eval_cpu(const T* x, const T* mean, const T* var, const T* weight, const T* bias, T* y,
                                 int64_t N, int64_t C, int64_t HW, double eps);

// running = (1 - momentum) * running + momentum * batch, with the variance
// made unbiased first (batch_var * count / (count - 1)), as PyTorch does.
template <class T>
void batch_norm_update_running_cpu(T* running_mean, T* running_var, const T* batch_mean, const T* batch_var,
                                   int64_t C, int64_t count, double momentum);

// Backward. batch_stats: the statistics were the batch's own (training), so
// dx has the mean terms; otherwise they were constants (eval).
template <class T>
void batch_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                             T* dweight, T* dbias, int64_t N, int64_t C, int64_t HW, double eps, bool batch_stats);

// ---- instance norm: x is (N, C, HW), statistics per (n, c)

template <class T>
void instance_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                               int64_t N, int64_t C, int64_t HW, double eps);

template <class T>
void instance_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                                T* dweight, T* dbias, int64_t N, int64_t C, int64_t HW, double eps);

// ---- layer norm: x is (M, K), statistics per row, weight/bias per column

template <class T>
void layer_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                            int64_t M, int64_t K, double eps);

template <class T>
void layer_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                             T* dweight, T* dbias, int64_t M, int64_t K, double eps);

}  // namespace gesso::kernels

// ---- CUDA twins (kernels/cuda/norm.cu): the same arguments in float, plus a
// stream; every pointer is device memory. Statistics are summed in float
// about the same shift as on the CPU (a block reduction per group: warp
// shuffles, then shared memory across warps), so they agree with the CPU
// twins to float rounding, not bitwise. Parameter gradients are reduced
// without atomics, in a fixed order, so they are deterministic.
namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(
    void batch_norm_forward_train_cuda(const float* x, const float* weight, const float* bias, float* y,
                                       float* save_mean, float* save_var, int64_t N, int64_t C, int64_t HW,
                                       double eps, cudaStream_t stream);
    void batch_norm_forward_eval_cuda(const float* x, const float* mean, const float* var, const float* weight,
                                      const float* bias, float* y, int64_t N, int64_t C, int64_t HW, double eps,
                                      cudaStream_t stream);
    void batch_norm_update_running_cuda(float* running_mean, float* running_var, const float* batch_mean,
                                        const float* batch_var, int64_t C, int64_t count, double momentum,
                                        cudaStream_t stream);
    void batch_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                                  const float* weight, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                  int64_t HW, double eps, bool batch_stats, cudaStream_t stream);
    void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y,
                                    float* save_mean, float* save_var, int64_t N, int64_t C, int64_t HW, double eps,
                                    cudaStream_t stream);
    void instance_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                                     const float* weight, float* dx, float* dweight, float* dbias, int64_t N,
                                     int64_t C, int64_t HW, double eps, cudaStream_t stream);
    void layer_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* save_mean,
                                 float* save_var, int64_t M, int64_t K, double eps, cudaStream_t stream);
    void layer_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                                  const float* weight, float* dx, float* dweight, float* dbias, int64_t M, int64_t K,
                                  double eps, cudaStream_t stream);)
}  // namespace gesso::kernels
