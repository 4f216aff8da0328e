/*
 * optim.cpp: CPU twins of kernels/optim.h. One pass over the elements,
 * OpenMP over chunks when there are enough of them; scalars that depend
 * only on the step (bias corrections) are computed once, outside the loop.
 */
#include "kernels/optim.h"

#include <cmath>

namespace gesso::kernels {

template <class T>
void sgd_update_cpu(T* param, const T* grad, T* momentum_buf, int64_t n, const SgdHyper& h, bool first_step) {
  const double lr = h.lr, mu = h.momentum, wd = h.weight_decay, keep = 1.0 - h.dampening;
  const bool use_momentum = mu != 0.0, nesterov = h.nesterov;
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    double p = static_cast<double>(param[i]);
    double d = static_cast<double>(grad[i]) + wd * p;
    if (use_momentum) {
      double buf = first_step ? d : mu * static_cast<double>(momentum_buf[i]) + keep * d;
      momentum_buf[i] = static_cast<T>(buf);
      d = nesterov ? d + mu * buf : buf;
    }
    param[i] = static_cast<T>(p - lr * d);
  }
}

template <class T>
void adam_update_cpu(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, int64_t n, const AdamHyper& h) {
  const double b1 = h.beta1, b2 = h.beta2, eps = h.eps, lr = h.lr;
  const double t = static_cast<double>(h.step);
  const double step_size = lr / (1.0 - std::pow(b1, t));
  const double inv_sqrt_bc2 = 1.0 / std::sqrt(1.0 - std::pow(b2, t));
  const double l2 = h.decoupled_weight_decay ? 0.0 : h.weight_decay;
  const double shrink = h.decoupled_weight_decay ? 1.0 - lr * h.weight_decay : 1.0;
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    double p = static_cast<double>(param[i]);
    double g = static_cast<double>(grad[i]) + l2 * p;
    p *= shrink;
    double m = b1 * static_cast<double>(exp_avg[i]) + (1.0 - b1) * g;
    double v = b2 * static_cast<double>(exp_avg_sq[i]) + (1.0 - b2) * g * g;
    exp_avg[i] = static_cast<T>(m);
    exp_avg_sq[i] = static_cast<T>(v);
    param[i] = static_cast<T>(p - step_size * m / (std::sqrt(v) * inv_sqrt_bc2 + eps));
  }
}

template void sgd_update_cpu<float>(float*, const float*, float*, int64_t, const SgdHyper&, bool);
template void sgd_update_cpu<double>(double*, const double*, double*, int64_t, const SgdHyper&, bool);
template void adam_update_cpu<float>(float*, const float*, float*, float*, int64_t, const AdamHyper&);
template void adam_update_cpu<double>(double*, const double*, double*, double*, int64_t, const AdamHyper&);

}  // namespace gesso::kernels
