/*
 * gram.cpp: the Gram matrix of a batch of feature maps, the heart of Gatys
 * style losses. x (N, C, H, W) is viewed as N matrices F (C, H*W); the
 * forward runs kernels/gram.h once per image. The backward, right below, is
 * dF = scale * (dG + dG^T) F, written with bmm so that it is differentiable
 * again (in dG and in x).
 */
#include <climits>
#include <cmath>

#include "autograd/ops/dispatch.h"
#include "kernels/gram.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::dense;
using ops_detail::check_float32_on_device;

Tensor gram(const Tensor& x, double scale) {
  GESSO_CHECK(x.defined(), "gram: argument 'x' is undefined");
  GESSO_CHECK(x.dim() == 4, "gram: argument 'x' must be 4-d (N, C, H, W), got shape ", x.shape());
  GESSO_CHECK(std::isfinite(scale), "gram: argument 'scale' must be finite, got ", scale);
  const int64_t N = x.shape()[0], C = x.shape()[1], HW = x.shape()[2] * x.shape()[3];
  GESSO_CHECK(C <= INT_MAX && HW <= INT_MAX, "gram: C (", C, ") and H*W (", HW, ") must each fit in an int");
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({N, C, C}, TensorOptions(x.dtype()).with(x.device()));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), {
        const scalar_t* px = xc.data<scalar_t>();
        scalar_t* pg = out.data<scalar_t>();
        for (int64_t n = 0; n < N; ++n)
          kernels::gram_forward_cpu(px + n * C * HW, pg + n * C * C, static_cast<int>(C), static_cast<int>(HW),
                                    static_cast<scalar_t>(scale));
      });
      break;
    case Device::cuda:
    case Device::simt: {
      check_float32_on_device(x, "gram");
      const float* px = xc.data<float>();
      float* pg = out.data<float>();
      for (int64_t n = 0; n < N; ++n)
        GESSO_RUN_CUDA_TWIN(x.device(), "gram", gram_forward_cuda, px + n * C * HW, pg + n * C * C,
                            static_cast<int>(C), static_cast<int>(HW), static_cast<float>(scale));
      break;
    }
  }
  return record(out, OpKind::Gram, {x}, [x, scale, N, C, HW](const Tensor& g) -> Grads {
    // G = s F F^T  =>  dF = s (dG F + dG^T F) = s (dG + dG^T) F.
    Tensor features = x.reshape({N, C, HW});
    // The scale goes on the small (C, C) factor: scaling the (C, H*W) product
    // would hold a second activation-sized buffer at the backward's peak.
    Tensor symmetric = mul(add(g, g.transpose(1, 2)), scale);
    return {bmm(symmetric, features).reshape(x.shape())};
  });
}

}  // namespace gesso
