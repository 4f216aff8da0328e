/*
 * dropout.cpp: inverted dropout. In training each element is kept with
 * probability 1 - p and scaled by 1 / (1 - p), so the expectation is
 * unchanged and evaluation is the identity. The mask comes from the
 * Generator (Philox), so a seeded run drops the same elements every time
 * and on every device. The backward, right below, is g * keep / (1 - p).
 */
#include "autograd/ops/dispatch.h"
#include "kernels/dropout.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  GESSO_CHECK(x.defined(), "dropout: argument 'x' is undefined");
  GESSO_CHECK(p >= 0.0 && p < 1.0, "dropout: argument 'p' must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  Tensor xc = dense(x);
  TensorOptions o = TensorOptions(x.dtype()).with(x.device());
  Tensor y = Tensor::empty(x.shape(), o), keep = Tensor::empty(x.shape(), o);
  uint64_t offset = gen.advance(x.numel());
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::dropout_forward_cpu(xc.data<scalar_t>(), y.data<scalar_t>(),
                                                                  keep.data<scalar_t>(), x.numel(), p, gen.seed,
                                                                  offset));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "dropout");
      GESSO_RUN_CUDA_TWIN(x.device(), "dropout", dropout_forward_cuda, xc.data<float>(), y.data<float>(),
                          keep.data<float>(), x.numel(), p, gen.seed, offset);
      break;
  }
  double inv_keep = 1.0 / (1.0 - p);
  return record(y, OpKind::Dropout, {x}, [keep, inv_keep](const Tensor& g) -> Grads {
    return {mul(mul(g, keep), inv_keep)};
  });
}

}  // namespace gesso
