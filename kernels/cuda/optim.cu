/*
 * optim.cu: the CUDA twins of kernels/optim.h (SGD with momentum/Nesterov,
 * Adam and AdamW), float32 arrays updated in place, each element computed in
 * double as the CPU twin does. Scalars that depend only on the step (bias
 * corrections) are computed once on the host and passed in.
 *
 * Versions:
 *   sgd_update_kernel1, adam_update_kernel1  one thread per element,
 *       grid-stride (an update is a few flops per 12 to 28 bytes moved:
 *       bandwidth-bound, so nothing to tile)
 *
 * Checked against the CPU twins by `ctest -L simt` (tests/parity_elementwise.h).
 */
#include <math.h>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/optim.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// One thread per element (grid-stride).
__global__ void sgd_update_kernel1(float* param, const float* grad, float* momentum_buf, int64_t n, double lr,
                                   double momentum, double keep, double weight_decay, bool nesterov,
                                   bool first_step) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const double p = param[i];
    double d = static_cast<double>(grad[i]) + weight_decay * p;
    if (momentum != 0.0) {
      const double buf = first_step ? d : momentum * static_cast<double>(momentum_buf[i]) + keep * d;
      momentum_buf[i] = static_cast<float>(buf);
      d = nesterov ? d + momentum * buf : buf;
    }
    param[i] = static_cast<float>(p - lr * d);
  }
}

// One thread per element (grid-stride).
__global__ void adam_update_kernel1(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                                    double beta1, double beta2, double eps, double step_size, double inv_sqrt_bc2,
                                    double l2, double shrink) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    double p = param[i];
    const double g = static_cast<double>(grad[i]) + l2 * p;
    p *= shrink;
    const double m = beta1 * static_cast<double>(exp_avg[i]) + (1.0 - beta1) * g;
    const double v = beta2 * static_cast<double>(exp_avg_sq[i]) + (1.0 - beta2) * g * g;
    exp_avg[i] = static_cast<float>(m);
    exp_avg_sq[i] = static_cast<float>(v);
    param[i] = static_cast<float>(p - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps));
  }
}

int update_threads(const char* who) {
  const int threads = block_threads(256);
  GESSO_CHECK(threads >= 1 && threads <= 1024, who, ": block size must be in [1, 1024], got ", threads);
  return threads;
}

}  // namespace

void sgd_update_cuda(float* param, const float* grad, float* momentum_buf, int64_t n, const SgdHyper& h,
                     bool first_step, cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "sgd_update_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(param != nullptr && grad != nullptr, "sgd_update_cuda: param and grad must be non-null");
  GESSO_CHECK(h.momentum == 0.0 || momentum_buf != nullptr,
              "sgd_update_cuda: momentum_buf must be non-null when momentum is ", h.momentum);
  const int threads = update_threads("sgd_update_cuda");
  GESSO_LAUNCH(sgd_update_kernel1, grid_blocks(n, threads), threads, 0, stream, param, grad, momentum_buf, n, h.lr,
               h.momentum, 1.0 - h.dampening, h.weight_decay, h.nesterov, first_step);
}

void adam_update_cuda(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                      const AdamHyper& h, cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "adam_update_cuda: n must be >= 0, got ", n);
  GESSO_CHECK(h.step >= 1, "adam_update_cuda: step counts from 1, got ", h.step);
  if (n == 0) return;
  GESSO_CHECK(param != nullptr && grad != nullptr && exp_avg != nullptr && exp_avg_sq != nullptr,
              "adam_update_cuda: param, grad, exp_avg and exp_avg_sq must be non-null");
  // The CPU twin's step scalars, computed the same way on the host.
  const double t = static_cast<double>(h.step);
  const double step_size = h.lr / (1.0 - ::pow(h.beta1, t));
  const double inv_sqrt_bc2 = 1.0 / ::sqrt(1.0 - ::pow(h.beta2, t));
  const double l2 = h.decoupled_weight_decay ? 0.0 : h.weight_decay;
  const double shrink = h.decoupled_weight_decay ? 1.0 - h.lr * h.weight_decay : 1.0;
  const int threads = update_threads("adam_update_cuda");
  GESSO_LAUNCH(adam_update_kernel1, grid_blocks(n, threads), threads, 0, stream, param, grad, exp_avg, exp_avg_sq, n,
               h.beta1, h.beta2, h.eps, step_size, inv_sqrt_bc2, l2, shrink);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
