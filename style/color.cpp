// color.cpp: RGB <-> YUV (BT.601) and luminance-only transfer (color.h), plain loops on the CPU.
#include "style/color.h"

#include <algorithm>

#include "autograd/grad_mode.h"

namespace gesso::style {

namespace {

// Applies a 3x3 matrix to the channels of (3, H, W) or (1, 3, H, W).
Tensor mix_channels(const Tensor& image, const double m[3][3], const char* fn) {
  GESSO_CHECK(image.defined() && ((image.dim() == 3 && image.size(0) == 3) ||
                                  (image.dim() == 4 && image.size(0) == 1 && image.size(1) == 3)),
              fn, ": expected an image (3, H, W) or (1, 3, H, W), got shape ",
              image.defined() ? image.shape() : Shape{});
  NoGradGuard no_grad;
  Tensor x = image.to(Device::cpu).to(DType::f32).contiguous();
  Tensor out = Tensor::empty(x.shape());
  const int64_t plane = x.numel() / 3;
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < plane; ++i) {
    const double a = src[i], b = src[plane + i], c = src[2 * plane + i];
    for (int k = 0; k < 3; ++k) dst[k * plane + i] = static_cast<float>(m[k][0] * a + m[k][1] * b + m[k][2] * c);
  }
  return out.to(image.device());
}

}  // namespace

Tensor rgb_to_yuv(const Tensor& rgb) {
  static const double m[3][3] = {{0.299, 0.587, 0.114}, {-0.14713, -0.28886, 0.436}, {0.615, -0.51499, -0.10001}};
  return mix_channels(rgb, m, "rgb_to_yuv");
}

Tensor yuv_to_rgb(const Tensor& yuv) {
  static const double m[3][3] = {{1.0, 0.0, 1.13983}, {1.0, -0.39465, -0.58060}, {1.0, 2.03211, 0.0}};
  return mix_channels(yuv, m, "yuv_to_rgb");
}

Tensor keep_original_colors(const Tensor& stylized, const Tensor& content) {
  GESSO_CHECK(stylized.defined() && content.defined() && stylized.shape() == content.shape(),
              "keep_original_colors: 'stylized' and 'content' must have one shape, got ",
              stylized.defined() ? stylized.shape() : Shape{}, " and ", content.defined() ? content.shape() : Shape{});
  NoGradGuard no_grad;
  Tensor s = rgb_to_yuv(stylized), c = rgb_to_yuv(content);
  const int64_t plane = s.numel() / 3;
  // Luminance of the result, chrominance of the content.
  std::copy(s.data<float>(), s.data<float>() + plane, c.data<float>());
  return yuv_to_rgb(c);
}

}  // namespace gesso::style
