/*
 * conv.cpp: conv2d, its two adjoints, conv_transpose2d and reflection
 * padding (kernels/conv.h).
 *
 * Three differentiable ops carry every gradient. Write A_w for the linear map
 * x -> conv2d(x, w) and B for the bilinear map (x, g) -> its weight gradient:
 *
 *   y = conv2d(x, w)              dx = conv2d_input_grad(g, w)      dw = conv2d_weight_grad(x, g)
 *   y = conv2d_input_grad(g, w)   dg = conv2d(gy, w)                dw = conv2d_weight_grad(gy, g)
 *   y = conv2d_weight_grad(x, g)  dx = conv2d_input_grad(g, gy)     dg = conv2d(x, gy)
 *
 * (the second row because <gy, A_w^T g> = <A_w gy, g>; the third because
 * <gy, B(x, g)> = <A_gy x, g>). Each backward is made of these same three
 * ops, so gradients of any order exist.
 *
 * conv_transpose2d(x, w) is conv2d_input_grad(x, w) for the output shape it
 * implies, plus a bias. padding_mode reflect is reflection_pad2d followed by
 * a convolution with zero padding 0; reflection_pad2d and its backward (the
 * fold of the mirrored borders) are each other's adjoint, so they too are
 * differentiable to any order. Bias gradients are sum(g, {0, 2, 3}).
 */
#include "autograd/ops/device_gemm_conv.h"
#include "autograd/ops/dispatch.h"
#include "kernels/conv.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using kernels::Conv2dGeometry;
using ops_detail::dense;
using ops_detail::no_kernel;

namespace {

const char* mode_name(PaddingMode m) { return m == PaddingMode::zeros ? "zeros" : "reflect"; }

void check_4d(const Tensor& t, const char* op, const char* arg, const char* layout) {
  GESSO_CHECK(t.defined(), op, ": argument '", arg, "' is undefined");
  GESSO_CHECK(t.dim() == 4, op, ": argument '", arg, "' must be 4-d ", layout, ", got shape ", t.shape());
}

void check_shape_4d(const Shape& s, const char* op, const char* arg, const char* layout) {
  GESSO_CHECK(s.size() == 4, op, ": argument '", arg, "' must have 4 sizes ", layout, ", got ", s);
  for (int64_t d : s) GESSO_CHECK(d >= 0, op, ": argument '", arg, "' must have sizes >= 0, got ", s);
}

void check_params(const Conv2dParams& p, const char* op) {
  GESSO_CHECK(p.stride_h > 0 && p.stride_w > 0, op, ": argument 'stride' must be positive, got (", p.stride_h, ", ",
              p.stride_w, ")");
  GESSO_CHECK(p.dilation_h > 0 && p.dilation_w > 0, op, ": argument 'dilation' must be positive, got (",
              p.dilation_h, ", ", p.dilation_w, ")");
  GESSO_CHECK(p.pad_h >= 0 && p.pad_w >= 0, op, ": argument 'pad' must be >= 0, got (", p.pad_h, ", ", p.pad_w, ")");
}

// The geometry of conv2d(x, w) for an input of x_shape and a weight of
// w_shape, checked: channels agree and the dilated kernel fits the padded input.
Conv2dGeometry make_geometry(const Shape& x_shape, const Shape& w_shape, const Conv2dParams& p, const char* op) {
  check_params(p, op);
  GESSO_CHECK(x_shape[1] == w_shape[1], op, ": channel mismatch: input has shape ", x_shape, " (", x_shape[1],
              " channels) but weight has shape ", w_shape, " (expects ", w_shape[1], " input channels)");
  Conv2dGeometry g;
  g.N = x_shape[0];
  g.C_in = x_shape[1];
  g.H = x_shape[2];
  g.W = x_shape[3];
  g.C_out = w_shape[0];
  g.kH = w_shape[2];
  g.kW = w_shape[3];
  g.stride_h = p.stride_h;
  g.stride_w = p.stride_w;
  g.pad_h = p.pad_h;
  g.pad_w = p.pad_w;
  g.dilation_h = p.dilation_h;
  g.dilation_w = p.dilation_w;
  GESSO_CHECK(g.kH > 0 && g.kW > 0, op, ": weight must have a kernel of at least 1 x 1, got shape ", w_shape);
  const int64_t span_h = g.dilation_h * (g.kH - 1) + 1, span_w = g.dilation_w * (g.kW - 1) + 1;
  GESSO_CHECK(span_h <= g.H + 2 * g.pad_h && span_w <= g.W + 2 * g.pad_w, op,
              ": kernel larger than padded input: kernel ", g.kH, " x ", g.kW, " with dilation (", g.dilation_h,
              ", ", g.dilation_w, ") spans ", span_h, " x ", span_w, ", but the input of shape ", x_shape,
              " padded by (", g.pad_h, ", ", g.pad_w, ") is ", g.H + 2 * g.pad_h, " x ", g.W + 2 * g.pad_w);
  g.OH = kernels::conv2d_out_size(g.H, g.kH, g.stride_h, g.pad_h, g.dilation_h);
  g.OW = kernels::conv2d_out_size(g.W, g.kW, g.stride_w, g.pad_w, g.dilation_w);
  return g;
}

void check_bias(const Tensor& bias, int64_t channels, const char* op) {
  if (!bias.defined()) return;
  GESSO_CHECK(bias.dim() == 1 && bias.shape()[0] == channels, op, ": argument 'bias' must have shape (", channels,
              ",) (one value per output channel), got shape ", bias.shape());
}

void check_zero_padding(const Conv2dParams& p, const char* op) {
  GESSO_CHECK(p.padding_mode == PaddingMode::zeros, op,
              ": argument 'padding_mode' must be zeros (reflect padding is done by reflection_pad2d before the "
              "convolution), got ", mode_name(p.padding_mode));
}

// The same params with zero padding; what the adjoints of a zero-padded conv use.
Conv2dParams zeros_mode(Conv2dParams p) {
  p.padding_mode = PaddingMode::zeros;
  return p;
}

TensorOptions like(const Tensor& t) { return TensorOptions(t.dtype()).with(t.device()); }

// The adjoint of reflection_pad2d: folds the mirrored border of g back onto
// the pixels it copies. Differentiable: its backward is reflection_pad2d.
Tensor reflection_pad2d_backward(const Tensor& g, int pad_h, int pad_w, const Shape& in_shape) {
  Tensor gc = dense(g);
  Tensor out = Tensor::empty(in_shape, like(g));
  switch (g.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(g.dtype(), kernels::reflection_pad2d_backward_cpu(
                                          gc.data<scalar_t>(), out.data<scalar_t>(), in_shape[0] * in_shape[1],
                                          in_shape[2], in_shape[3], pad_h, pad_w));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/conv.cu
      ops_detail::check_float32_on_device(g, "reflection_pad2d_backward");
      ops_detail::device_reflection_pad2d_backward(g.device(), gc.data<float>(), out.data<float>(),
                                                   in_shape[0] * in_shape[1], in_shape[2], in_shape[3], pad_h, pad_w);
      break;
  }
  return record(out, OpKind::ReflectionPad2dBackward, {g}, [pad_h, pad_w](const Tensor& gg) -> Grads {
    return {reflection_pad2d(gg, pad_h, pad_w)};
  });
}

}  // namespace

Tensor reflection_pad2d(const Tensor& x, int pad_h, int pad_w) {
  check_4d(x, "reflection_pad2d", "x", "(N, C, H, W)");
  GESSO_CHECK(pad_h >= 0 && pad_w >= 0, "reflection_pad2d: arguments 'pad_h' and 'pad_w' must be >= 0, got (", pad_h,
              ", ", pad_w, ")");
  const int64_t H = x.shape()[2], W = x.shape()[3];
  GESSO_CHECK(pad_h < H || pad_h == 0, "reflection_pad2d: argument 'pad_h' must be < the input height ", H,
              " (a reflection does not repeat the edge row), got ", pad_h, " for x of shape ", x.shape());
  GESSO_CHECK(pad_w < W || pad_w == 0, "reflection_pad2d: argument 'pad_w' must be < the input width ", W,
              " (a reflection does not repeat the edge column), got ", pad_w, " for x of shape ", x.shape());
  const Shape in_shape = x.shape();
  Tensor xc = dense(x);
  Tensor out = Tensor::empty({in_shape[0], in_shape[1], H + 2 * pad_h, W + 2 * pad_w}, like(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::reflection_pad2d_forward_cpu(xc.data<scalar_t>(), out.data<scalar_t>(),
                                                                             in_shape[0] * in_shape[1], H, W, pad_h,
                                                                             pad_w));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/conv.cu
      ops_detail::check_float32_on_device(x, "reflection_pad2d");
      ops_detail::device_reflection_pad2d_forward(x.device(), xc.data<float>(), out.data<float>(),
                                                  in_shape[0] * in_shape[1], H, W, pad_h, pad_w);
      break;
  }
  return record(out, OpKind::ReflectionPad2d, {x}, [pad_h, pad_w, in_shape](const Tensor& g) -> Grads {
    return {reflection_pad2d_backward(g, pad_h, pad_w, in_shape)};
  });
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  check_4d(x, "conv2d", "x", "(N, C_in, H, W)");
  check_4d(weight, "conv2d", "weight", "(C_out, C_in, kH, kW)");
  check_bias(bias, weight.shape()[0], "conv2d");
  check_same_device_dtype({x, weight, bias}, "conv2d");
  if (p.padding_mode == PaddingMode::reflect && (p.pad_h > 0 || p.pad_w > 0)) {
    check_params(p, "conv2d");
    const int64_t H = x.shape()[2], W = x.shape()[3];
    GESSO_CHECK(p.pad_h < H && p.pad_w < W, "conv2d: padding_mode reflect needs 'pad' smaller than the input (",
                H, " x ", W, ", x of shape ", x.shape(), "), got pad (", p.pad_h, ", ", p.pad_w, ")");
    Conv2dParams inner = zeros_mode(p);
    inner.pad_h = inner.pad_w = 0;
    return conv2d(reflection_pad2d(x, p.pad_h, p.pad_w), weight, bias, inner);
  }
  const Conv2dParams q = zeros_mode(p);  // reflect with pad 0 is zero padding
  const Conv2dGeometry g = make_geometry(x.shape(), weight.shape(), q, "conv2d");
  Tensor xc = dense(x), wc = dense(weight), bc = bias.defined() ? dense(bias) : Tensor();
  Tensor out = Tensor::empty({g.N, g.C_out, g.OH, g.OW}, like(x));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::conv2d_forward_cpu(xc.data<scalar_t>(), wc.data<scalar_t>(),
                                                                   bc.defined() ? bc.data<scalar_t>() : nullptr,
                                                                   out.data<scalar_t>(), g));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/conv.cu (or cuDNN with GESSO_KERNELS=vendor)
      ops_detail::check_float32_on_device(x, "conv2d");
      ops_detail::device_conv2d_forward(x.device(), xc.data<float>(), wc.data<float>(),
                                        bc.defined() ? bc.data<float>() : nullptr, out.data<float>(), g);
      break;
  }
  return record(out, OpKind::Conv2d, {x, weight, bias}, [x, weight, bias, q](const Tensor& gy) -> Grads {
    return {x.requires_grad() ? conv2d_input_grad(gy, weight, x.shape(), q) : Tensor(),
            weight.requires_grad() ? conv2d_weight_grad(x, gy, weight.shape(), q) : Tensor(),
            bias.defined() && bias.requires_grad() ? sum(gy, {0, 2, 3}) : Tensor()};
  });
}

Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                         const Conv2dParams& p) {
  const char* op = "conv2d_input_grad";
  check_4d(grad_out, op, "grad_out", "(N, C_out, OH, OW)");
  check_4d(weight, op, "weight", "(C_out, C_in, kH, kW)");
  check_shape_4d(input_shape, op, "input_shape", "(N, C_in, H, W)");
  check_same_device_dtype({grad_out, weight}, op);
  check_zero_padding(p, op);
  GESSO_CHECK(grad_out.shape()[1] == weight.shape()[0], op, ": channel mismatch: grad_out has shape ",
              grad_out.shape(), " (", grad_out.shape()[1], " channels) but weight has shape ", weight.shape(),
              " (", weight.shape()[0], " output channels)");
  GESSO_CHECK(grad_out.shape()[0] == input_shape[0], op, ": batch mismatch: grad_out has shape ", grad_out.shape(),
              " but input_shape is ", input_shape);
  const Conv2dGeometry g = make_geometry(input_shape, weight.shape(), p, op);
  GESSO_CHECK(grad_out.shape()[2] == g.OH && grad_out.shape()[3] == g.OW, op, ": grad_out has shape ",
              grad_out.shape(), " but an input of shape ", input_shape, " and weight ", weight.shape(),
              " give an output of ", g.OH, " x ", g.OW);
  Tensor gc = dense(grad_out), wc = dense(weight);
  Tensor out = Tensor::empty(input_shape, like(grad_out));
  switch (grad_out.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(grad_out.dtype(), kernels::conv2d_backward_input_cpu(gc.data<scalar_t>(), wc.data<scalar_t>(),
                                                                                 out.data<scalar_t>(), g));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/conv.cu (or cuDNN with GESSO_KERNELS=vendor)
      ops_detail::check_float32_on_device(grad_out, op);
      ops_detail::device_conv2d_backward_input(grad_out.device(), gc.data<float>(), wc.data<float>(),
                                               out.data<float>(), g);
      break;
  }
  return record(out, OpKind::Conv2dInputGrad, {grad_out, weight}, [grad_out, weight, p](const Tensor& gy) -> Grads {
    return {grad_out.requires_grad() ? conv2d(gy, weight, Tensor(), p) : Tensor(),
            weight.requires_grad() ? conv2d_weight_grad(gy, grad_out, weight.shape(), p) : Tensor()};
  });
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, const Shape& weight_shape,
                          const Conv2dParams& p) {
  const char* op = "conv2d_weight_grad";
  check_4d(x, op, "x", "(N, C_in, H, W)");
  check_4d(grad_out, op, "grad_out", "(N, C_out, OH, OW)");
  check_shape_4d(weight_shape, op, "weight_shape", "(C_out, C_in, kH, kW)");
  check_same_device_dtype({x, grad_out}, op);
  check_zero_padding(p, op);
  GESSO_CHECK(grad_out.shape()[1] == weight_shape[0], op, ": channel mismatch: grad_out has shape ",
              grad_out.shape(), " (", grad_out.shape()[1], " channels) but weight_shape is ", weight_shape, " (",
              weight_shape[0], " output channels)");
  GESSO_CHECK(grad_out.shape()[0] == x.shape()[0], op, ": batch mismatch: grad_out has shape ", grad_out.shape(),
              " but x has shape ", x.shape());
  const Conv2dGeometry g = make_geometry(x.shape(), weight_shape, p, op);
  GESSO_CHECK(grad_out.shape()[2] == g.OH && grad_out.shape()[3] == g.OW, op, ": grad_out has shape ",
              grad_out.shape(), " but x of shape ", x.shape(), " and a weight of shape ", weight_shape,
              " give an output of ", g.OH, " x ", g.OW);
  Tensor xc = dense(x), gc = dense(grad_out);
  Tensor out = zeros(weight_shape, like(x));  // the kernel accumulates (+=)
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::conv2d_backward_weight_cpu(xc.data<scalar_t>(), gc.data<scalar_t>(),
                                                                           out.data<scalar_t>(), g));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/conv.cu (or cuDNN with GESSO_KERNELS=vendor)
      ops_detail::check_float32_on_device(x, op);
      ops_detail::device_conv2d_backward_weight(x.device(), xc.data<float>(), gc.data<float>(), out.data<float>(), g);
      break;
  }
  return record(out, OpKind::Conv2dWeightGrad, {x, grad_out}, [x, grad_out, p](const Tensor& gy) -> Grads {
    return {x.requires_grad() ? conv2d_input_grad(grad_out, gy, x.shape(), p) : Tensor(),
            grad_out.requires_grad() ? conv2d(x, gy, Tensor(), p) : Tensor()};
  });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                        int output_padding_h, int output_padding_w) {
  const char* op = "conv_transpose2d";
  check_4d(x, op, "x", "(N, C_in, H, W)");
  check_4d(weight, op, "weight", "(C_in, C_out, kH, kW)");
  check_bias(bias, weight.shape()[1], op);
  check_same_device_dtype({x, weight, bias}, op);
  check_params(p, op);
  check_zero_padding(p, op);
  GESSO_CHECK(x.shape()[1] == weight.shape()[0], op, ": channel mismatch: x has shape ", x.shape(), " (",
              x.shape()[1], " channels) but weight (C_in, C_out, kH, kW) has shape ", weight.shape(), " (expects ",
              weight.shape()[0], " input channels)");
  // Several output sizes convolve back to the same input size; output_padding
  // picks one of them, so it must stay below the stride.
  GESSO_CHECK(output_padding_h >= 0 && output_padding_w >= 0 && output_padding_h < p.stride_h &&
                  output_padding_w < p.stride_w,
              op, ": argument 'output_padding' must be >= 0 and smaller than the stride (", p.stride_h, ", ",
              p.stride_w, "), got (", output_padding_h, ", ", output_padding_w, ")");
  const int64_t kH = weight.shape()[2], kW = weight.shape()[3];
  const int64_t H_out = (x.shape()[2] - 1) * p.stride_h - 2 * p.pad_h + p.dilation_h * (kH - 1) + output_padding_h + 1;
  const int64_t W_out = (x.shape()[3] - 1) * p.stride_w - 2 * p.pad_w + p.dilation_w * (kW - 1) + output_padding_w + 1;
  GESSO_CHECK(x.shape()[2] > 0 && x.shape()[3] > 0 && H_out > 0 && W_out > 0, op, ": x of shape ", x.shape(),
              " with weight ", weight.shape(), ", stride (", p.stride_h, ", ", p.stride_w, ") and pad (", p.pad_h,
              ", ", p.pad_w, ") gives an empty output of ", H_out, " x ", W_out);
  Tensor y = conv2d_input_grad(x, weight, {x.shape()[0], weight.shape()[1], H_out, W_out}, p);
  if (bias.defined()) y = add(y, bias.reshape({1, bias.shape()[0], 1, 1}));
  return y;
}

}  // namespace gesso
