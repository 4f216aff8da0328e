/*
 * loss.h: raw-pointer forward kernels of the losses (CPU twins in
 * kernels/cpu/loss.cpp; CUDA twins share these signatures plus a stream).
 * Every input is contiguous. The scalar losses write their one value to
 * out[0] (a mean over elements) and accumulate in double whatever T is, so a
 * float loss over millions of elements does not lose its small terms.
 *
 *   mse              mean((pred - target)^2)
 *   l1               mean(|pred - target|)
 *   bce_with_logits  mean(max(x, 0) - x t + log1p(e^-|x|)): never overflows
 *   total_variation  x is (planes, H, W) with planes = N * C:
 *                    mean over (planes, H, W-1) of (x[h][w+1] - x[h][w])^2
 *                  + mean over (planes, H-1, W) of (x[h+1][w] - x[h][w])^2,
 *                    a term with no neighbour pairs (W == 1 or H == 1) is 0
 *   log_softmax      x, y are (outer, n, inner); along the middle axis
 *                    y = x - m - log(sum_k e^(x_k - m)) with m = max_k x_k
 *
 * The CUDA twins (kernels/cuda/loss.cu, float32) accumulate in double too:
 * each thread its share, then a block tree, then one block over the blocks'
 * sums, in a fixed order (the result does not depend on scheduling).
 *
 * Gradients are not kernels here: autograd writes them as tensor ops so
 * that second derivatives exist (they write, `=`, never accumulate).
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

template <class T>
void mse_loss_forward_cpu(const T* pred, const T* target, T* out, int64_t n);

template <class T>
void l1_loss_forward_cpu(const T* pred, const T* target, T* out, int64_t n);

template <class T>
void bce_with_logits_forward_cpu(const T* x, const T* t, T* out, int64_t n);

template <class T>
void total_variation_forward_cpu(const T* x, T* out, int64_t planes, int64_t H, int64_t W);

template <class T>
void log_softmax_forward_cpu(const T* x, T* y, int64_t outer, int64_t n, int64_t inner);

}  // namespace gesso::kernels

namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(
    void mse_loss_forward_cuda(const float* pred, const float* target, float* out, int64_t n, cudaStream_t stream);
    void l1_loss_forward_cuda(const float* pred, const float* target, float* out, int64_t n, cudaStream_t stream);
    void bce_with_logits_forward_cuda(const float* x, const float* t, float* out, int64_t n, cudaStream_t stream);
    void total_variation_forward_cuda(const float* x, float* out, int64_t planes, int64_t H, int64_t W,
                                      cudaStream_t stream);
    void log_softmax_forward_cuda(const float* x, float* y, int64_t outer, int64_t n, int64_t inner,
                                  cudaStream_t stream);)
}  // namespace gesso::kernels
