/*
 * activation.cpp: relu, leaky_relu, tanh, sigmoid, softplus. The forwards are
 * the unary kernels of kernels/elementwise.h; each backward, right below its
 * forward, is written in differentiable ops (masks from gt() are constants),
 * so second derivatives exist: leaky_relu's is zero almost everywhere,
 * tanh's, sigmoid's and softplus's are smooth.
 * relu's and leaky_relu's masks (x > 0) are read from the output, which is
 * positive exactly where x is (for a slope >= 0): the node keeps a detached
 * alias of the output, which the next layer usually keeps anyway, and the
 * input can be freed. The smooth ones recompute from the input, since their
 * second derivatives go through it (and capturing the output itself would
 * make a node own its own output, a reference cycle).
 */
#include <cmath>

#include "autograd/ops/dispatch.h"
#include "kernels/elementwise.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using kernels::UnaryOp;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

namespace {

// Runs one activation kernel on a contiguous copy of x; records nothing.
Tensor activation_raw(UnaryOp op, const Tensor& x, double alpha, const char* name) {
  GESSO_CHECK(x.defined(), name, ": argument 'x' is undefined");
  Tensor xc = dense(x);
  Tensor out = Tensor::empty(x.shape(), TensorOptions(x.dtype()).with(x.device()));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::unary_forward_cpu(op, xc.data<scalar_t>(), out.data<scalar_t>(),
                                                                  x.numel(), alpha, 0.0));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, name);
      GESSO_RUN_CUDA_TWIN(x.device(), name, unary_forward_cuda, op, xc.data<float>(), out.data<float>(), x.numel(),
                          alpha, 0.0);
      break;
  }
  return out;
}

}  // namespace

Tensor relu(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::relu, x, 0.0, "relu");
  Tensor y = out.detach();
  return record(out, OpKind::Relu, {x}, [y](const Tensor& g) -> Grads {
    // The subgradient at 0 is taken as 0, as in PyTorch.
    return {mul(g, gt(y, 0.0))};
  });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  GESSO_CHECK(std::isfinite(negative_slope), "leaky_relu: argument 'negative_slope' must be finite, got ",
              negative_slope);
  Tensor out = activation_raw(UnaryOp::leaky_relu, x, negative_slope, "leaky_relu");
  // With a negative slope the output's sign is not the input's: keep the input then.
  Tensor sign_source = negative_slope >= 0 ? out.detach() : x.detach();
  return record(out, OpKind::LeakyRelu, {x}, [sign_source, negative_slope](const Tensor& g) -> Grads {
    // slope 1 where x > 0, negative_slope elsewhere: mask * (1 - s) + s.
    Tensor slope = add(mul(gt(sign_source, 0.0), 1.0 - negative_slope), negative_slope);
    return {mul(g, slope)};
  });
}

Tensor tanh(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::tanh, x, 0.0, "tanh");
  return record(out, OpKind::Tanh, {x}, [x](const Tensor& g) -> Grads {
    Tensor t = tanh(x);
    return {mul(g, 1.0 - mul(t, t))};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::sigmoid, x, 0.0, "sigmoid");
  return record(out, OpKind::Sigmoid, {x}, [x](const Tensor& g) -> Grads {
    Tensor s = sigmoid(x);
    return {mul(g, mul(s, 1.0 - s))};
  });
}

Tensor softplus(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::softplus, x, 0.0, "softplus");
  return record(out, OpKind::Softplus, {x}, [x](const Tensor& g) -> Grads { return {mul(g, sigmoid(x))}; });
}

}  // namespace gesso
