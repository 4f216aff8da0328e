/*
 * conv_relu.h: relu(conv2d(x, w, b)) as one graph node, the layer that
 * feature networks (VGG-19, ResNet-50) are made of.
 *
 * Why one node: composed, conv2d's node keeps its input and relu's node
 * keeps the convolution's output, so every layer holds two activations until
 * backward. Here the node keeps its input (an edge) and its own output (for
 * the relu mask y > 0, which equals x' > 0 for the pre-activation x'), and
 * the output is the next layer's input: one activation per layer, about half
 * the memory of a style-transfer iteration. The relu also runs in place on
 * the convolution's output instead of in a second buffer.
 *
 * The backward, right below the forward in conv_relu.cpp, is written in
 * differentiable ops (mask, conv2d_input_grad, conv2d_weight_grad), so
 * higher-order gradients exist; for first-order gradients (grad mode off
 * during backward) the mask is applied by one fused loop on the CPU.
 */
#pragma once
#include "autograd/ops.h"

namespace gesso::style {

// x (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out) or undefined;
// zero padding only (the feature networks use no other). residual, when
// defined, has the output's shape (N, C_out, OH, OW) and is added before the relu.
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p,
                   const Tensor& residual = Tensor());

}  // namespace gesso::style
