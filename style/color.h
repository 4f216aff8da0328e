/*
 * color.h: colour-space helpers for --original-colors (neural-style's
 * luminance-only transfer): the result keeps its luminance Y and takes the
 * content's chrominance U, V (YUV, BT.601 coefficients, as torch's
 * image.rgb2yuv that neural-style uses). Images (3, H, W) or (1, 3, H, W),
 * RGB in [0, 1]; nothing is recorded for autograd.
 */
#pragma once
#include "tensor/tensor.h"

namespace gesso::style {

Tensor rgb_to_yuv(const Tensor& rgb);
Tensor yuv_to_rgb(const Tensor& yuv);
// Y of `stylized`, U and V of `content` (same shape), back to RGB.
Tensor keep_original_colors(const Tensor& stylized, const Tensor& content);

}  // namespace gesso::style
