/*
 * optim.h: the per-element parameter updates of the optimizers (CPU twins
 * in kernels/cpu/optim.cpp; the CUDA twins in kernels/cuda/optim.cu share
 * these signatures plus a cudaStream_t, float32, and also compute each
 * element in double). Every array is contiguous with n elements; param and the
 * optimizer's state are updated in place, grad is only read. Arithmetic is
 * done in double per element and stored back in T.
 *
 * SGD (PyTorch's formulation; `first_step` = the momentum buffer is new):
 *   d   = g + weight_decay * p
 *   buf = first_step ? d : momentum * buf + (1 - dampening) * d
 *   d   = nesterov ? d + momentum * buf : buf          (when momentum != 0)
 *   p  -= lr * d
 *
 * Adam / AdamW (step t counts from 1):
 *   Adam:  g = g + weight_decay * p            (L2 penalty in the gradient)
 *   AdamW: p = p * (1 - lr * weight_decay)     (decoupled weight decay)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2
 *   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

struct SgdHyper {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // true: AdamW
  int64_t step = 1;                     // this update's step number, from 1
};

// momentum_buf may be null when h.momentum == 0.
template <class T>
void sgd_update_cpu(T* param, const T* grad, T* momentum_buf, int64_t n, const SgdHyper& h, bool first_step);

template <class T>
void adam_update_cpu(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper& h);

}  // namespace gesso::kernels

namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(
    void sgd_update_cuda(float* param, const float* grad, float* momentum_buf, int64_t n, const SgdHyper& h,
                         bool first_step, cudaStream_t stream);
    void adam_update_cuda(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                          const AdamHyper& h, cudaStream_t stream);)
}  // namespace gesso::kernels
