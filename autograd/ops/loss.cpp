/*
 * loss.cpp: the losses. mse, l1, bce_with_logits, total_variation and
 * log_softmax run a kernel of kernels/loss.h and record a node whose
 * backward, right below, is written in differentiable ops. The GAN losses
 * and cross_entropy are compositions of those ops (softplus, relu, mean,
 * log_softmax), so their gradients come from the pieces'.
 * Pred and target must have the same shape: a loss never broadcasts, since
 * (N, 1) against (N) silently broadcasting to (N, N) is a classic bug.
 */
#include <cmath>

#include "autograd/ops/dispatch.h"
#include "kernels/loss.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

namespace {

TensorOptions options_of(const Tensor& t) { return TensorOptions(t.dtype()).with(t.device()); }

void check_defined_nonempty(const Tensor& t, const char* op, const char* arg) {
  GESSO_CHECK(t.defined(), op, ": argument '", arg, "' is undefined");
  GESSO_CHECK(t.numel() > 0, op, ": argument '", arg, "' must not be empty, got shape ", t.shape());
}

// The two arguments of an elementwise loss: same shape, device and dtype.
void check_pair(const Tensor& a, const Tensor& b, const char* op, const char* a_name, const char* b_name) {
  check_defined_nonempty(a, op, a_name);
  GESSO_CHECK(b.defined(), op, ": argument '", b_name, "' is undefined");
  check_same_device_dtype({a, b}, op);
  GESSO_CHECK(a.shape() == b.shape(), op, ": argument '", b_name, "' must have the shape of '", a_name, "' ",
              a.shape(), ", got ", b.shape(), " (losses do not broadcast)");
}

// sign(d) as a constant mask: 1, 0 or -1.
Tensor sign_of(const Tensor& d) {
  Tensor dd = d.detach();
  return sub(gt(dd, 0.0), gt(neg(dd), 0.0));
}

}  // namespace

// ---- pointwise losses against a target

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  check_pair(pred, target, "mse_loss", "pred", "target");
  Tensor p = dense(pred), t = dense(target);
  Tensor out = Tensor::empty({}, options_of(pred));
  switch (pred.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(pred.dtype(), kernels::mse_loss_forward_cpu(p.data<scalar_t>(), t.data<scalar_t>(),
                                                                        out.data<scalar_t>(), pred.numel()));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(pred, "mse_loss");
      GESSO_RUN_CUDA_TWIN(pred.device(), "mse_loss", mse_loss_forward_cuda, p.data<float>(), t.data<float>(),
                          out.data<float>(), pred.numel());
      break;
  }
  double inv_n = 1.0 / static_cast<double>(pred.numel());
  return record(out, OpKind::MseLoss, {pred, target}, [pred, target, inv_n](const Tensor& g) -> Grads {
    // d/dpred = 2 (pred - target) / n, d/dtarget its negative.
    Tensor d = mul(mul(sub(pred, target), g), 2.0 * inv_n);
    return {pred.requires_grad() ? d : Tensor(), target.requires_grad() ? neg(d) : Tensor()};
  });
}

Tensor l1_loss(const Tensor& pred, const Tensor& target) {
  check_pair(pred, target, "l1_loss", "pred", "target");
  Tensor p = dense(pred), t = dense(target);
  Tensor out = Tensor::empty({}, options_of(pred));
  switch (pred.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(pred.dtype(), kernels::l1_loss_forward_cpu(p.data<scalar_t>(), t.data<scalar_t>(),
                                                                       out.data<scalar_t>(), pred.numel()));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(pred, "l1_loss");
      GESSO_RUN_CUDA_TWIN(pred.device(), "l1_loss", l1_loss_forward_cuda, p.data<float>(), t.data<float>(),
                          out.data<float>(), pred.numel());
      break;
  }
  double inv_n = 1.0 / static_cast<double>(pred.numel());
  return record(out, OpKind::L1Loss, {pred, target}, [pred, target, inv_n](const Tensor& g) -> Grads {
    // d/dpred = sign(pred - target) / n (0 where equal), d/dtarget its negative.
    Tensor d = mul(mul(sign_of(sub(pred.detach(), target.detach())), g), inv_n);
    return {pred.requires_grad() ? d : Tensor(), target.requires_grad() ? neg(d) : Tensor()};
  });
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  check_pair(logits, target, "bce_with_logits", "logits", "target");
  Tensor x = dense(logits), t = dense(target);
  Tensor out = Tensor::empty({}, options_of(logits));
  switch (logits.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(logits.dtype(), kernels::bce_with_logits_forward_cpu(
                                               x.data<scalar_t>(), t.data<scalar_t>(), out.data<scalar_t>(),
                                               logits.numel()));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(logits, "bce_with_logits");
      GESSO_RUN_CUDA_TWIN(logits.device(), "bce_with_logits", bce_with_logits_forward_cuda, x.data<float>(),
                          t.data<float>(), out.data<float>(), logits.numel());
      break;
  }
  double inv_n = 1.0 / static_cast<double>(logits.numel());
  return record(out, OpKind::BceWithLogits, {logits, target}, [logits, target, inv_n](const Tensor& g) -> Grads {
    // d/dx = (sigmoid(x) - t) / n, d/dt = -x / n.
    Tensor gn = mul(g, inv_n);
    return {logits.requires_grad() ? mul(sub(sigmoid(logits), target), gn) : Tensor(),
            target.requires_grad() ? mul(neg(logits), gn) : Tensor()};
  });
}

// ---- GAN losses (compositions; mean over the batch's logits)

Tensor gan_d_loss_nonsaturating(const Tensor& real_logits, const Tensor& fake_logits) {
  check_defined_nonempty(real_logits, "gan_d_loss_nonsaturating", "real_logits");
  check_defined_nonempty(fake_logits, "gan_d_loss_nonsaturating", "fake_logits");
  check_same_device_dtype({real_logits, fake_logits}, "gan_d_loss_nonsaturating");
  // -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f).
  return add(mean(softplus(neg(real_logits))), mean(softplus(fake_logits)));
}

Tensor gan_g_loss_nonsaturating(const Tensor& fake_logits) {
  check_defined_nonempty(fake_logits, "gan_g_loss_nonsaturating", "fake_logits");
  return mean(softplus(neg(fake_logits)));
}

Tensor gan_d_loss_hinge(const Tensor& real_logits, const Tensor& fake_logits) {
  check_defined_nonempty(real_logits, "gan_d_loss_hinge", "real_logits");
  check_defined_nonempty(fake_logits, "gan_d_loss_hinge", "fake_logits");
  check_same_device_dtype({real_logits, fake_logits}, "gan_d_loss_hinge");
  return add(mean(relu(1.0 - real_logits)), mean(relu(add(fake_logits, 1.0))));
}

Tensor gan_g_loss_hinge(const Tensor& fake_logits) {
  check_defined_nonempty(fake_logits, "gan_g_loss_hinge", "fake_logits");
  return neg(mean(fake_logits));
}

// ---- total variation

Tensor total_variation(const Tensor& x) {
  GESSO_CHECK(x.defined(), "total_variation: argument 'x' is undefined");
  GESSO_CHECK(x.dim() == 4, "total_variation: argument 'x' must be 4-d (N, C, H, W), got shape ", x.shape());
  check_defined_nonempty(x, "total_variation", "x");
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({}, options_of(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::total_variation_forward_cpu(xc.data<scalar_t>(), out.data<scalar_t>(),
                                                                          N * C, H, W));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "total_variation");
      GESSO_RUN_CUDA_TWIN(x.device(), "total_variation", total_variation_forward_cuda, xc.data<float>(),
                          out.data<float>(), N * C, H, W);
      break;
  }
  return record(out, OpKind::TotalVariation, {x}, [x, N, C, H, W](const Tensor& g) -> Grads {
    // A difference d = x[i+1] - x[i] along an axis of length L contributes
    // 2 d / pairs to x[i+1] and -2 d / pairs to x[i]: the differences padded
    // with a zero on the left minus the same padded on the right.
    auto term = [&](int axis, int64_t length, const Shape& pad_shape, double pairs) {
      Tensor d = sub(x.narrow(axis, 1, length - 1), x.narrow(axis, 0, length - 1));
      Tensor z = zeros(pad_shape, options_of(x));
      return mul(sub(concat({z, d}, axis), concat({d, z}, axis)), 2.0 / pairs);
    };
    Tensor gx;
    if (W > 1) gx = term(3, W, {N, C, H, 1}, static_cast<double>(N * C * H * (W - 1)));
    if (H > 1) {
      Tensor v = term(2, H, {N, C, 1, W}, static_cast<double>(N * C * (H - 1) * W));
      gx = gx.defined() ? add(gx, v) : v;
    }
    if (!gx.defined()) return {zeros(x.shape(), options_of(x))};
    return {mul(gx, g)};
  });
}

// ---- classification

Tensor log_softmax(const Tensor& x, int64_t axis_in) {
  GESSO_CHECK(x.defined(), "log_softmax: argument 'x' is undefined");
  GESSO_CHECK(x.dim() >= 1, "log_softmax: argument 'x' must have at least 1 dim, got shape ", x.shape());
  int axis = normalize_axis(axis_in, x.dim(), "log_softmax");
  GESSO_CHECK(x.shape()[axis] > 0, "log_softmax: axis ", axis, " of shape ", x.shape(), " is empty");
  int64_t outer = 1, n = x.shape()[axis], inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  Tensor xc = dense(x);
  Tensor out = Tensor::empty(x.shape(), options_of(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::log_softmax_forward_cpu(xc.data<scalar_t>(), out.data<scalar_t>(),
                                                                      outer, n, inner));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, "log_softmax");
      GESSO_RUN_CUDA_TWIN(x.device(), "log_softmax", log_softmax_forward_cuda, xc.data<float>(), out.data<float>(),
                          outer, n, inner);
      break;
  }
  return record(out, OpKind::LogSoftmax, {x}, [x, axis](const Tensor& g) -> Grads {
    // dx = g - softmax(x) * sum(g along axis); softmax recomputed from x.
    Tensor softmax = exp(log_softmax(x, axis));
    return {sub(g, mul(softmax, sum(g, {axis}, true)))};
  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  GESSO_CHECK(logits.defined(), "cross_entropy: argument 'logits' is undefined");
  GESSO_CHECK(labels.defined(), "cross_entropy: argument 'labels' is undefined");
  GESSO_CHECK(logits.dim() == 2, "cross_entropy: argument 'logits' must be 2-d (N, K), got shape ", logits.shape());
  const int64_t N = logits.shape()[0], K = logits.shape()[1];
  GESSO_CHECK(N > 0 && K > 0, "cross_entropy: argument 'logits' must be non-empty (N, K), got shape ",
              logits.shape());
  GESSO_CHECK(labels.dim() == 1 && labels.shape()[0] == N, "cross_entropy: argument 'labels' must have shape (",
              N, ",) to match logits ", logits.shape(), ", got ", labels.shape());
  check_same_device_dtype({logits, labels}, "cross_entropy");
  std::vector<double> lv = labels.to_vector<double>();
  for (int64_t i = 0; i < N; ++i) {
    double c = lv[i];
    GESSO_CHECK(c >= 0 && c < static_cast<double>(K) && c == std::floor(c),
                "cross_entropy: argument 'labels' must hold class indices in [0, ", K, "), got ", c,
                " at position ", i);
  }
  // Picks log p[i, label_i] with a one-hot mask: (1, K) class ids == (N, 1) labels.
  Tensor one_hot = eq(arange(K, options_of(logits)).reshape({1, K}), labels.detach().reshape({N, 1}));
  return mul(sum(mul(log_softmax(logits, 1), one_hot)), -1.0 / static_cast<double>(N));
}

}  // namespace gesso
