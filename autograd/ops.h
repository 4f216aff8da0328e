/*
 * ops.h: every tensor-level op of gesso, differentiable unless noted.
 * Each is defined in autograd/ops/<family>.cpp, which picks the kernel twin
 * by device with one switch and records the backward right below the forward.
 * Shapes: images are (N, C, H, W); conv weights (C_out, C_in, kH, kW);
 * conv_transpose2d weights (C_in, C_out, kH, kW), as in PyTorch.
 */
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace gesso {

// ---- elementwise (NumPy broadcasting) ------------------------ ops/elementwise.cpp
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a > 0 where b is not an integer
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor pow(const Tensor& a, double exponent);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor clamp(const Tensor& a, double lo, double hi);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond != 0 picks a
// Comparisons: 1 where true, 0 where false; not differentiable (no node).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);

// Sums `g` over broadcast dimensions down to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- activations -------------------------------------------- ops/activation.cpp
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.2);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor softplus(const Tensor& x);  // log(1 + e^x), computed without overflow

// ---- reductions --------------------------------------------- ops/reduce.cpp
Tensor sum(const Tensor& x);                                     // all elements -> scalar (shape ())
Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdim = false);
Tensor max(const Tensor& x);                                     // gradient split between ties
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor var(const Tensor& x, std::vector<int64_t> axes, bool unbiased = false, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t axis);                    // indices as float; no gradient

// ---- shape ---------------------------------------------------- ops/view.cpp
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
// Tensor methods reshape/view/permute/transpose/narrow/expand/squeeze/unsqueeze/
// flatten/contiguous/clone/to are in tensor.h and are defined in ops/view.cpp.

// ---- linear algebra ------------------------------------------ ops/matmul.cpp
Tensor matmul(const Tensor& a, const Tensor& b);  // (M, K) @ (K, N) -> (M, N)
Tensor bmm(const Tensor& a, const Tensor& b);     // (B, M, K) @ (B, K, N) -> (B, M, N)
// x (N, in) or (..., in); weight (out, in); bias (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- convolution ---------------------------------------------- ops/conv.cpp
enum class PaddingMode { zeros, reflect };
struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  PaddingMode padding_mode = PaddingMode::zeros;
};
// x (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out) or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);
// The adjoints of conv2d in x and in weight, differentiable themselves.
Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                         const Conv2dParams& p);
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_out, const Shape& weight_shape,
                          const Conv2dParams& p);
// x (N, C_in, H, W), weight (C_in, C_out, kH, kW), bias (C_out) or undefined.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Conv2dParams& p, int output_padding_h = 0, int output_padding_w = 0);
Tensor reflection_pad2d(const Tensor& x, int pad_h, int pad_w);

// ---- pooling and resampling ----------------------------------- ops/pool.cpp
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int pad = 0);
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int pad = 0);
enum class UpsampleMode { nearest, bilinear };
Tensor upsample2d(const Tensor& x, int out_h, int out_w, UpsampleMode mode,
                  bool align_corners = false);

// ---- normalisation -------------------------------------------- ops/norm.cpp
// Training mode uses batch statistics and, if given, updates running_mean and
// running_var in place (momentum as in PyTorch, running_var unbiased).
// Eval mode uses the running statistics. weight/bias (C) or undefined.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);
Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// Normalises over the last normalized_shape.size() dims; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps = 1e-5);

// ---- style ---------------------------------------------------- ops/gram.cpp
// x (N, C, H, W) -> (N, C, C), G = F F^T * scale with F = x viewed as (C, H*W).
Tensor gram(const Tensor& x, double scale = 1.0);

// ---- losses (scalars, mean over elements) ---------------------- ops/loss.cpp
Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor l1_loss(const Tensor& pred, const Tensor& target);
// mean(max(x,0) - x*t + log(1 + e^-|x|)): stable for any logit.
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);
// GAN losses; each term is a mean over its own logits (any shape, e.g. (N) or (N, 1)).
// Non-saturating GAN losses through softplus: D: softplus(-real) + softplus(fake); G: softplus(-fake).
Tensor gan_d_loss_nonsaturating(const Tensor& real_logits, const Tensor& fake_logits);
Tensor gan_g_loss_nonsaturating(const Tensor& fake_logits);
// Hinge: D: relu(1 - real) + relu(1 + fake); G: -fake.
Tensor gan_d_loss_hinge(const Tensor& real_logits, const Tensor& fake_logits);
Tensor gan_g_loss_hinge(const Tensor& fake_logits);
// Anisotropic total variation of x (N, C, H, W), a scalar:
//   mean over (N, C, H, W-1) of (x[..., h, w+1] - x[..., h, w])^2
// + mean over (N, C, H-1, W) of (x[..., h+1, w] - x[..., h, w])^2;
// a term with no neighbour pairs (W == 1 or H == 1) contributes 0.
Tensor total_variation(const Tensor& x);
// Mean cross-entropy of logits (N, K) against integer class labels (N) stored as floats;
// labels outside [0, K) or not integral throw. Labels get no gradient.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// x - max - log(sum(exp(x - max))) along axis: finite for any finite logits.
Tensor log_softmax(const Tensor& x, int64_t axis);

// ---- regularisation ------------------------------------------ ops/dropout.cpp
// Zeroes each element with probability p and scales the rest by 1/(1-p);
// the identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace gesso
