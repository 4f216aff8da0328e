/*
 * norm.cpp: batch_norm, instance_norm and layer_norm.
 *
 * Each forward runs one fused kernel (kernels/norm.h) that computes the
 * statistics and the normalised, affine-transformed output in one call.
 * Each backward has two paths:
 *   - grad mode off (a plain backward, no create_graph): the fused backward
 *     kernel, one pass for the sums and one for dx;
 *   - grad mode on (create_graph): the same formula composed of
 *     differentiable ops (mean, var, sub, mul, ...), so that the gradient
 *     can be differentiated again (gradient penalties).
 *
 * All three normalise x over some axes ("statistics axes") and apply a
 * weight and bias that broadcast over x; the composed backward is written
 * once for that common shape (composed_backward below).
 */
#include <cmath>

#include "autograd/ops/dispatch.h"
#include "kernels/kernel_impl.h"
#include "kernels/norm.h"
#ifdef GESSO_HAVE_CUDA
#include "kernels/cuda/vendor/batch_norm.h"
#endif

namespace gesso {

using autograd::GradMode;
using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::check_float32_on_device;
using ops_detail::dense;
using ops_detail::no_kernel;

namespace {

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

TensorOptions options_of(const Tensor& x) { return TensorOptions(x.dtype()).with(x.device()); }

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

// A 1-d per-channel tensor of C elements, or undefined.
void check_channel_param(const Tensor& t, int64_t C, const Tensor& x, const char* op, const char* arg) {
  if (!t.defined()) return;
  GESSO_CHECK(t.dim() == 1 && t.size(0) == C, op, ": argument '", arg, "' must have shape (", C,
              ",) to match the channels of input shape ", x.shape(), ", got ", t.shape());
}

// Where the statistics, the weight and the parameter gradients live, for
// the composed (differentiable) backward.
struct NormAxes {
  std::vector<int64_t> stat_axes;   // reduced to compute mean and variance
  std::vector<int64_t> param_axes;  // summed to get dweight and dbias
  Shape param_view;                 // weight/bias reshaped to broadcast against x
};

// Gradients of y = xhat * weight + bias, xhat = (x - mean) / sqrt(var + eps),
// written in differentiable ops. With batch_stats, mean and var are those
// of x over ax.stat_axes (so they depend on x); otherwise they are the
// constants fixed_mean and fixed_var (already shaped to broadcast).
Grads composed_backward(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& bias, const NormAxes& ax,
                        double eps, bool batch_stats, const Tensor& fixed_mean, const Tensor& fixed_var) {
  Tensor mu, invstd;
  if (batch_stats) {
    mu = mean(x, ax.stat_axes, true);
    invstd = pow(add(var(x, ax.stat_axes, false, true), eps), -0.5);
  } else {
    mu = fixed_mean;
    invstd = pow(add(fixed_var, eps), -0.5);
  }
  Tensor xhat = mul(sub(x, mu), invstd);
  Tensor dx, dweight, dbias;
  if (x.requires_grad()) {
    Tensor gw = weight.defined() ? mul(g, weight.reshape(ax.param_view)) : g;
    if (batch_stats) {
      Tensor centred = sub(gw, mean(gw, ax.stat_axes, true));
      dx = mul(invstd, sub(centred, mul(xhat, mean(mul(gw, xhat), ax.stat_axes, true))));
    } else {
      dx = mul(gw, invstd);
    }
  }
  auto reduce_to = [&](const Tensor& t, const Tensor& like) {
    Tensor s = ax.param_axes.empty() ? t : sum(t, ax.param_axes);
    return s.reshape(like.shape());
  };
  if (wants_grad(weight)) dweight = reduce_to(mul(g, xhat), weight);
  if (wants_grad(bias)) dbias = reduce_to(g, bias);
  return {dx, dweight, dbias};
}

// Zero-filled gradient buffers for the parameters that want one (the fused
// kernels accumulate into them with +=).
Tensor zeros_if_wanted(const Tensor& p) { return wants_grad(p) ? zeros(p.shape(), options_of(p)) : Tensor(); }

Shape ones_shape(int64_t ndim) { return Shape(static_cast<size_t>(ndim), 1); }

// True when batch norm on device d runs cuDNN (GESSO_KERNELS=vendor on a
// GPU, kernels/kernel_impl.h). The simt device has no cuDNN: it runs the
// handwritten kernels, and says so once.
bool batch_norm_uses_cudnn(Device d, const char* op) {
  if (d == Device::simt) {
    kernels::simt_kernel_impl(op);
    return false;
  }
  return d == Device::cuda && kernels::kernel_impl() == kernels::KernelImpl::vendor;
}

// Product of the sizes from dim 2 on: the spatial extent of (N, C, *).
int64_t spatial_size(const Tensor& x) {
  int64_t n = 1;
  for (int64_t d = 2; d < x.dim(); ++d) n *= x.size(d);
  return n;
}

}  // namespace

// ---- batch norm

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  GESSO_CHECK(x.defined(), op, ": argument 'x' is undefined");
  GESSO_CHECK(x.dim() >= 2, op, ": argument 'x' must be (N, C) or (N, C, *) with at least 2 dims, got shape ",
              x.shape());
  const int64_t N = x.size(0), C = x.size(1), HW = spatial_size(x);
  check_channel_param(weight, C, x, op, "weight");
  check_channel_param(bias, C, x, op, "bias");
  check_channel_param(running_mean, C, x, op, "running_mean");
  check_channel_param(running_var, C, x, op, "running_var");
  GESSO_CHECK(running_mean.defined() == running_var.defined(), op,
              ": 'running_mean' and 'running_var' must be given together (one is undefined)");
  check_same_device_dtype({x, weight, bias, running_mean, running_var}, op);
  GESSO_CHECK(eps >= 0, op, ": 'eps' must be >= 0, got ", eps);
  GESSO_CHECK(momentum >= 0 && momentum <= 1, op, ": 'momentum' must be in [0, 1], got ", momentum);
  // Without running statistics eval mode falls back to batch statistics, as in PyTorch.
  const bool batch_stats = training || !running_mean.defined();
  GESSO_CHECK(!batch_stats || N * HW > 1, op, ": expected more than 1 value per channel when using batch statistics",
              " (training), got input shape ", x.shape());
  if (running_mean.defined())
    GESSO_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(), op,
                ": running statistics must be contiguous (they are updated in place)");

  Tensor xc = dense(x), w = weight.defined() ? dense(weight) : Tensor(), b = bias.defined() ? dense(bias) : Tensor();
  Tensor y = Tensor::empty(x.shape(), options_of(x));
  Tensor save_mean, save_var;  // the statistics used, kept for the backward
  if (batch_stats) {
    save_mean = Tensor::empty({C}, options_of(x));
    save_var = Tensor::empty({C}, options_of(x));
  } else {
    NoGradGuard no_grad;
    save_mean = running_mean.detach().clone();
    save_var = running_var.detach().clone();
  }
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), {
        if (batch_stats) {
          kernels::batch_norm_forward_train_cpu(xc.data<scalar_t>(), ptr_or_null<scalar_t>(w),
                                                ptr_or_null<scalar_t>(b), y.data<scalar_t>(),
                                                save_mean.data<scalar_t>(), save_var.data<scalar_t>(), N, C, HW, eps);
          if (training && running_mean.defined())
            kernels::batch_norm_update_running_cpu(running_mean.data<scalar_t>(), running_var.data<scalar_t>(),
                                                   save_mean.data<scalar_t>(), save_var.data<scalar_t>(), C, N * HW,
                                                   momentum);
        } else {
          kernels::batch_norm_forward_eval_cpu(xc.data<scalar_t>(), save_mean.data<scalar_t>(),
                                               save_var.data<scalar_t>(), ptr_or_null<scalar_t>(w),
                                               ptr_or_null<scalar_t>(b), y.data<scalar_t>(), N, C, HW, eps);
        }
      });
      break;
    case Device::cuda:
    case Device::simt: {
      check_float32_on_device(x, op);
      const float* pw = ptr_or_null<float>(w);
      const float* pb = ptr_or_null<float>(b);
      float* sm = save_mean.data<float>();
      float* sv = save_var.data<float>();
      const bool update = training && running_mean.defined();
      if (batch_norm_uses_cudnn(x.device(), op)) {
        // cuDNN updates the running statistics in the same call.
        GESSO_IF_CUDA_BUILT(
            batch_stats ? kernels::vendor::batch_norm_forward_train_cudnn(
                              xc.data<float>(), pw, pb, y.data<float>(), sm, sv,
                              update ? running_mean.data<float>() : nullptr,
                              update ? running_var.data<float>() : nullptr, momentum, N, C, HW, eps,
                              ops_detail::cuda_stream())
                        : kernels::vendor::batch_norm_forward_eval_cudnn(xc.data<float>(), sm, sv, pw, pb,
                                                                         y.data<float>(), N, C, HW, eps,
                                                                         ops_detail::cuda_stream()),
            op);
      } else if (batch_stats) {
        GESSO_RUN_CUDA_TWIN(x.device(), op, batch_norm_forward_train_cuda, xc.data<float>(), pw, pb, y.data<float>(),
                            sm, sv, N, C, HW, eps);
        if (update)
          GESSO_RUN_CUDA_TWIN(x.device(), op, batch_norm_update_running_cuda, running_mean.data<float>(),
                              running_var.data<float>(), sm, sv, C, N * HW, momentum);
      } else {
        GESSO_RUN_CUDA_TWIN(x.device(), op, batch_norm_forward_eval_cuda, xc.data<float>(), sm, sv, pw, pb,
                            y.data<float>(), N, C, HW, eps);
      }
      break;
    }
    default: no_kernel(op, x.device());
  }

  return record(y, OpKind::BatchNorm, {x, weight, bias},
                [x, weight, bias, save_mean, save_var, eps, batch_stats, N, C, HW](const Tensor& g) -> Grads {
    if (GradMode::enabled()) {
      NormAxes ax;
      ax.stat_axes.push_back(0);
      for (int64_t d = 2; d < x.dim(); ++d) ax.stat_axes.push_back(d);
      ax.param_axes = ax.stat_axes;
      ax.param_view = ones_shape(x.dim());
      ax.param_view[1] = C;
      return composed_backward(g, x, weight, bias, ax, eps, batch_stats, save_mean.reshape(ax.param_view),
                               save_var.reshape(ax.param_view));
    }
    Tensor gc = dense(g), xc = dense(x), w = weight.defined() ? dense(weight) : Tensor();
    Tensor dx = x.requires_grad() ? Tensor::empty(x.shape(), options_of(x)) : Tensor();
    Tensor dw = zeros_if_wanted(weight), db = zeros_if_wanted(bias);
    switch (x.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(x.dtype(), kernels::batch_norm_backward_cpu(
            xc.data<scalar_t>(), gc.data<scalar_t>(), save_mean.data<scalar_t>(), save_var.data<scalar_t>(),
            ptr_or_null<scalar_t>(w), mut_ptr_or_null<scalar_t>(dx), mut_ptr_or_null<scalar_t>(dw),
            mut_ptr_or_null<scalar_t>(db), N, C, HW, eps, batch_stats));
        break;
      case Device::cuda:
      case Device::simt:
        check_float32_on_device(x, "batch_norm backward");
        // cuDNN's backward always differentiates through the batch
        // statistics; with fixed ones (eval) the handwritten kernel runs.
        if (batch_stats && batch_norm_uses_cudnn(x.device(), "batch_norm backward")) {
          GESSO_IF_CUDA_BUILT(kernels::vendor::batch_norm_backward_cudnn(
                                  xc.data<float>(), gc.data<float>(), save_mean.data<float>(),
                                  save_var.data<float>(), ptr_or_null<float>(w), mut_ptr_or_null<float>(dx),
                                  mut_ptr_or_null<float>(dw), mut_ptr_or_null<float>(db), N, C, HW, eps,
                                  ops_detail::cuda_stream()),
                              "batch_norm backward");
        } else {
          GESSO_RUN_CUDA_TWIN(x.device(), "batch_norm backward", batch_norm_backward_cuda, xc.data<float>(),
                              gc.data<float>(), save_mean.data<float>(), save_var.data<float>(),
                              ptr_or_null<float>(w), mut_ptr_or_null<float>(dx), mut_ptr_or_null<float>(dw),
                              mut_ptr_or_null<float>(db), N, C, HW, eps, batch_stats);
        }
        break;
      default: no_kernel("batch_norm backward", x.device());
    }
    return {dx, dw, db};
  });
}

// ---- instance norm

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "instance_norm";
  GESSO_CHECK(x.defined(), op, ": argument 'x' is undefined");
  GESSO_CHECK(x.dim() >= 3, op, ": argument 'x' must be (N, C, H, W) or (N, C, *spatial) with at least 3 dims, got shape ",
              x.shape());
  const int64_t N = x.size(0), C = x.size(1), HW = spatial_size(x);
  check_channel_param(weight, C, x, op, "weight");
  check_channel_param(bias, C, x, op, "bias");
  check_same_device_dtype({x, weight, bias}, op);
  GESSO_CHECK(eps >= 0, op, ": 'eps' must be >= 0, got ", eps);
  GESSO_CHECK(HW > 1, op, ": expected more than 1 spatial element per channel, got input shape ", x.shape());

  Tensor xc = dense(x), w = weight.defined() ? dense(weight) : Tensor(), b = bias.defined() ? dense(bias) : Tensor();
  Tensor y = Tensor::empty(x.shape(), options_of(x));
  Tensor save_mean = Tensor::empty({N, C}, options_of(x)), save_var = Tensor::empty({N, C}, options_of(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::instance_norm_forward_cpu(
          xc.data<scalar_t>(), ptr_or_null<scalar_t>(w), ptr_or_null<scalar_t>(b), y.data<scalar_t>(),
          save_mean.data<scalar_t>(), save_var.data<scalar_t>(), N, C, HW, eps));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, op);
      GESSO_RUN_CUDA_TWIN(x.device(), op, instance_norm_forward_cuda, xc.data<float>(), ptr_or_null<float>(w),
                          ptr_or_null<float>(b), y.data<float>(), save_mean.data<float>(), save_var.data<float>(), N,
                          C, HW, eps);
      break;
    default: no_kernel(op, x.device());
  }

  return record(y, OpKind::InstanceNorm, {x, weight, bias},
                [x, weight, bias, save_mean, save_var, eps, N, C, HW](const Tensor& g) -> Grads {
    if (GradMode::enabled()) {
      NormAxes ax;
      for (int64_t d = 2; d < x.dim(); ++d) ax.stat_axes.push_back(d);
      ax.param_axes.push_back(0);
      for (int64_t d = 2; d < x.dim(); ++d) ax.param_axes.push_back(d);
      ax.param_view = ones_shape(x.dim());
      ax.param_view[1] = C;
      return composed_backward(g, x, weight, bias, ax, eps, true, Tensor(), Tensor());
    }
    Tensor gc = dense(g), xc = dense(x), w = weight.defined() ? dense(weight) : Tensor();
    Tensor dx = x.requires_grad() ? Tensor::empty(x.shape(), options_of(x)) : Tensor();
    Tensor dw = zeros_if_wanted(weight), db = zeros_if_wanted(bias);
    switch (x.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(x.dtype(), kernels::instance_norm_backward_cpu(
            xc.data<scalar_t>(), gc.data<scalar_t>(), save_mean.data<scalar_t>(), save_var.data<scalar_t>(),
            ptr_or_null<scalar_t>(w), mut_ptr_or_null<scalar_t>(dx), mut_ptr_or_null<scalar_t>(dw),
            mut_ptr_or_null<scalar_t>(db), N, C, HW, eps));
        break;
      case Device::cuda:
      case Device::simt:
        check_float32_on_device(x, "instance_norm backward");
        GESSO_RUN_CUDA_TWIN(x.device(), "instance_norm backward", instance_norm_backward_cuda, xc.data<float>(),
                            gc.data<float>(), save_mean.data<float>(), save_var.data<float>(), ptr_or_null<float>(w),
                            mut_ptr_or_null<float>(dx), mut_ptr_or_null<float>(dw), mut_ptr_or_null<float>(db), N, C,
                            HW, eps);
        break;
      default: no_kernel("instance_norm backward", x.device());
    }
    return {dx, dw, db};
  });
}

// ---- layer norm

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  GESSO_CHECK(x.defined(), op, ": argument 'x' is undefined");
  const int64_t nd = static_cast<int64_t>(normalized_shape.size());
  GESSO_CHECK(nd >= 1, op, ": 'normalized_shape' must name at least one dim, got ", normalized_shape);
  GESSO_CHECK(x.dim() >= nd && Shape(x.shape().end() - nd, x.shape().end()) == normalized_shape, op,
              ": the trailing dims of input shape ", x.shape(), " must equal normalized_shape ", normalized_shape);
  auto check_affine = [&](const Tensor& p, const char* arg) {
    GESSO_CHECK(!p.defined() || p.shape() == normalized_shape, op, ": argument '", arg, "' must have shape ",
                normalized_shape, " (normalized_shape), got ", p.shape());
  };
  check_affine(weight, "weight");
  check_affine(bias, "bias");
  check_same_device_dtype({x, weight, bias}, op);
  GESSO_CHECK(eps >= 0, op, ": 'eps' must be >= 0, got ", eps);
  const int64_t K = numel_of(normalized_shape), M = K > 0 ? x.numel() / K : 0;

  Tensor xc = dense(x), w = weight.defined() ? dense(weight) : Tensor(), b = bias.defined() ? dense(bias) : Tensor();
  Tensor y = Tensor::empty(x.shape(), options_of(x));
  Tensor save_mean = Tensor::empty({M}, options_of(x)), save_var = Tensor::empty({M}, options_of(x));
  if (M > 0 && K > 0) {
    switch (x.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(x.dtype(), kernels::layer_norm_forward_cpu(
            xc.data<scalar_t>(), ptr_or_null<scalar_t>(w), ptr_or_null<scalar_t>(b), y.data<scalar_t>(),
            save_mean.data<scalar_t>(), save_var.data<scalar_t>(), M, K, eps));
        break;
      case Device::cuda:
      case Device::simt:
        check_float32_on_device(x, op);
        GESSO_RUN_CUDA_TWIN(x.device(), op, layer_norm_forward_cuda, xc.data<float>(), ptr_or_null<float>(w),
                            ptr_or_null<float>(b), y.data<float>(), save_mean.data<float>(), save_var.data<float>(), M,
                            K, eps);
        break;
      default: no_kernel(op, x.device());
    }
  }

  return record(y, OpKind::LayerNorm, {x, weight, bias},
                [x, weight, bias, save_mean, save_var, eps, nd, M, K](const Tensor& g) -> Grads {
    if (GradMode::enabled()) {
      NormAxes ax;
      for (int64_t d = x.dim() - nd; d < x.dim(); ++d) ax.stat_axes.push_back(d);
      for (int64_t d = 0; d < x.dim() - nd; ++d) ax.param_axes.push_back(d);
      ax.param_view = Shape(x.shape().end() - nd, x.shape().end());
      return composed_backward(g, x, weight, bias, ax, eps, true, Tensor(), Tensor());
    }
    Tensor gc = dense(g), xc = dense(x), w = weight.defined() ? dense(weight) : Tensor();
    Tensor dx = x.requires_grad() ? zeros(x.shape(), options_of(x)) : Tensor();
    Tensor dw = zeros_if_wanted(weight), db = zeros_if_wanted(bias);
    if (M == 0 || K == 0) return {dx, dw, db};
    switch (x.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(x.dtype(), kernels::layer_norm_backward_cpu(
            xc.data<scalar_t>(), gc.data<scalar_t>(), save_mean.data<scalar_t>(), save_var.data<scalar_t>(),
            ptr_or_null<scalar_t>(w), mut_ptr_or_null<scalar_t>(dx), mut_ptr_or_null<scalar_t>(dw),
            mut_ptr_or_null<scalar_t>(db), M, K, eps));
        break;
      case Device::cuda:
      case Device::simt:
        check_float32_on_device(x, "layer_norm backward");
        GESSO_RUN_CUDA_TWIN(x.device(), "layer_norm backward", layer_norm_backward_cuda, xc.data<float>(),
                            gc.data<float>(), save_mean.data<float>(), save_var.data<float>(), ptr_or_null<float>(w),
                            mut_ptr_or_null<float>(dx), mut_ptr_or_null<float>(dw), mut_ptr_or_null<float>(db), M, K,
                            eps);
        break;
      default: no_kernel("layer_norm backward", x.device());
    }
    return {dx, dw, db};
  });
}

}  // namespace gesso
