/*
 * op_kind.h: the one list of graph ops. Every node in an autograd graph is
 * tagged with one of these; op_name() gives the name used in error messages
 * and graph dumps. The name table in op_kind.cpp has a count check, so an op
 * added here without a name does not compile.
 */
#pragma once

namespace gesso::autograd {

enum class OpKind {
  // views and copies
  Reshape, Permute, Narrow, Expand, Contiguous, ToDevice, ToDtype, Concat,
  // elementwise
  Add, Sub, Mul, Div, Neg, Exp, Log, Sqrt, Abs, Pow, PowScalar, Clamp, Where,
  // activations
  Relu, LeakyRelu, Tanh, Sigmoid, Softplus,
  // reductions
  Sum, Mean, Max, Var,
  // linear algebra
  Matmul, Bmm,
  // convolution: the forward and its two backwards, each differentiable;
  // conv_transpose2d is Conv2dInputGrad under another name
  Conv2d, Conv2dInputGrad, Conv2dWeightGrad, ReflectionPad2d, ReflectionPad2dBackward,
  // relu(conv2d(x)) as one node (style/conv_relu.h): keeps one activation per layer, not two
  Conv2dRelu,
  // pooling and resampling (each linear op paired with its adjoint)
  MaxPool2d, IndexScatter, IndexGather, AvgPool2d, AvgPool2dBackward, Upsample, UpsampleBackward,
  // normalisation
  BatchNorm, BatchNormBackward, InstanceNorm, LayerNorm, NormBackward,
  // style and losses
  Gram, MseLoss, L1Loss, BceWithLogits, TotalVariation, LogSoftmax,
  // regularisation
  Dropout,
  Count  // keep last
};

const char* op_name(OpKind k);

}  // namespace gesso::autograd
