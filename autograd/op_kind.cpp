// op_kind.cpp: the name table of OpKind, checked against the enum's length.
#include "autograd/op_kind.h"

namespace gesso::autograd {

static const char* const kOpNames[] = {
  "reshape", "permute", "narrow", "expand", "contiguous", "to_device", "to_dtype", "concat",
  "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "abs", "pow", "pow_scalar", "clamp", "where",
  "relu", "leaky_relu", "tanh", "sigmoid", "softplus",
  "sum", "mean", "max", "var",
  "matmul", "bmm",
  "conv2d", "conv2d_input_grad", "conv2d_weight_grad", "reflection_pad2d", "reflection_pad2d_backward",
  "conv2d_relu",
  "max_pool2d", "index_scatter", "index_gather", "avg_pool2d", "avg_pool2d_backward", "upsample", "upsample_backward",
  "batch_norm", "batch_norm_backward", "instance_norm", "layer_norm", "norm_backward",
  "gram", "mse_loss", "l1_loss", "bce_with_logits", "total_variation", "log_softmax",
  "dropout",
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<int>(OpKind::Count),
              "every OpKind needs a name in kOpNames, in the same order");

const char* op_name(OpKind k) {
  int i = static_cast<int>(k);
  return (i >= 0 && i < static_cast<int>(OpKind::Count)) ? kOpNames[i] : "?";
}

}  // namespace gesso::autograd
