/*
 * conv_relu.cpp: the fused relu(conv2d(x) [+ residual]) node of
 * conv_relu.h. The forward is conv2d run without recording, then the
 * residual add and the relu in place on its output; the backward is right
 * below it.
 */
#include "style/conv_relu.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace gesso::style {

namespace {

// g where y > 0, else 0 (relu's subgradient at 0 taken as 0, as in PyTorch).
Tensor relu_mask(const Tensor& g, const Tensor& y) {
  if (!autograd::GradMode::enabled() && g.device() == Device::cpu && g.dtype() == DType::f32 &&
      g.is_contiguous() && y.is_contiguous()) {
    Tensor out = Tensor::empty(g.shape(), TensorOptions(g.dtype()).with(g.device()));
    const float* pg = g.data<float>();
    const float* py = y.data<float>();
    float* po = out.data<float>();
    const int64_t n = g.numel();
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) po[i] = py[i] > 0.0f ? pg[i] : 0.0f;
    return out;
  }
  return mul(g, gt(y, 0.0));
}

// y = max(y + r, 0) in place; r may be null.
template <class T>
void add_relu_inplace(T* y, const T* r, int64_t n) {
  if (r) {
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const T v = y[i] + r[i];
      y[i] = v > T(0) ? v : T(0);
    }
  } else {
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > T(0) ? y[i] : T(0);
  }
}

}  // namespace

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                   const Tensor& residual) {
  GESSO_CHECK(x.defined() && weight.defined(), "conv2d_relu: arguments 'x' and 'weight' must be defined");
  GESSO_CHECK(p.padding_mode == PaddingMode::zeros, "conv2d_relu: argument 'padding_mode' must be zeros, got reflect");
  Tensor out;
  {
    NoGradGuard no_grad;
    out = conv2d(x, weight, bias, p);  // checks every argument; a fresh buffer that this op owns
    if (residual.defined()) {
      GESSO_CHECK(residual.shape() == out.shape(), "conv2d_relu: argument 'residual' must have the output's shape ",
                  out.shape(), ", got ", residual.shape());
      check_same_device_dtype({out, residual}, "conv2d_relu");
    }
    if (out.device() == Device::cpu) {
      Tensor r = residual.defined() ? residual.contiguous() : Tensor();
      GESSO_DISPATCH_FLOAT(out.dtype(), add_relu_inplace(out.data<scalar_t>(),
                                                         r.defined() ? r.data<scalar_t>() : nullptr, out.numel()));
    } else {
      out = relu(residual.defined() ? add(out, residual) : out);
    }
  }
  // The closure keeps the output's data through an alias with no grad_fn:
  // holding `out` itself would make the node own its own output (a cycle).
  Tensor y = out.detach();
  return autograd::record(out, autograd::OpKind::Conv2dRelu, {x, weight, bias, residual},
                          [x, weight, bias, residual, y, p](const Tensor& g) -> autograd::Grads {
                            Tensor gm = relu_mask(g, y);
                            return {x.requires_grad() ? conv2d_input_grad(gm, weight, x.shape(), p) : Tensor(),
                                    weight.requires_grad() ? conv2d_weight_grad(x, gm, weight.shape(), p) : Tensor(),
                                    bias.defined() && bias.requires_grad() ? sum(gm, {0, 2, 3}) : Tensor(),
                                    residual.defined() && residual.requires_grad() ? gm : Tensor()};
                          });
}

}  // namespace gesso::style
