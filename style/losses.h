/*
 * losses.h: the terms of Gatys et al.'s objective, as jcjohnson's
 * neural-style normalises them, for features F of one image (1, C, H, W):
 *
 *   content   mean over C*H*W of (F - F_content)^2
 *   Gram      G = F F^T / (C*H*W), F viewed as (C, H*W)          (C, C)
 *   style     mean over C*C of (G - G_style)^2
 *   total     content_weight * sum_l content_l
 *           + style_weight * sum_l w_l * style_l + tv_weight * TV(image)
 *
 * with TV the total_variation op (mean squared neighbour differences).
 *
 * Activation smoothing (Wang et al., CVPR 2021, "Rethinking and Improving
 * the Robustness of Image Style Transfer", SWAG): ResNet's activations are
 * peaky (a few large values, low entropy), so their Gram matrices are
 * dominated by a few positions and style transfer with them looks poor.
 * Passing each layer's activations through a softmax over all of their
 * C*H*W values before the Gram matrix fixes that:
 *
 *   smooth(F) = C*H*W * softmax(F / T)      (per image, over every value)
 *
 * The factor C*H*W (not in the paper) makes the mean value 1 whatever the
 * layer's size, so the same style weight suits every layer; T is the
 * temperature (1 in the paper).
 */
#pragma once
#include "autograd/ops.h"

namespace gesso::style {

Tensor content_loss(const Tensor& features, const Tensor& target);
Tensor style_gram(const Tensor& features);                     // (N, C, H, W) -> (N, C, C)
Tensor style_loss(const Tensor& gram, const Tensor& target_gram);
Tensor smooth_activations(const Tensor& features, double temperature = 1.0);

}  // namespace gesso::style
