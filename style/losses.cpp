// losses.cpp: content, Gram, style and activation smoothing (losses.h), composed of engine ops.
#include "style/losses.h"

#include <cmath>

namespace gesso::style {

namespace {

void check_features(const Tensor& f, const char* fn, const char* arg) {
  GESSO_CHECK(f.defined() && f.dim() == 4, fn, ": argument '", arg, "' must be features (N, C, H, W), got shape ",
              f.defined() ? f.shape() : Shape{});
}

}  // namespace

Tensor content_loss(const Tensor& features, const Tensor& target) {
  check_features(features, "content_loss", "features");
  GESSO_CHECK(target.defined() && target.shape() == features.shape(), "content_loss: argument 'target' must have ",
              "the features' shape ", features.shape(), ", got ", target.defined() ? target.shape() : Shape{});
  return mse_loss(features, target);
}

Tensor style_gram(const Tensor& features) {
  check_features(features, "style_gram", "features");
  const int64_t chw = features.size(1) * features.size(2) * features.size(3);
  GESSO_CHECK(chw > 0, "style_gram: argument 'features' is empty, shape ", features.shape());
  return gram(features, 1.0 / static_cast<double>(chw));
}

Tensor style_loss(const Tensor& gram_matrix, const Tensor& target_gram) {
  GESSO_CHECK(gram_matrix.defined() && gram_matrix.dim() == 3 && gram_matrix.size(1) == gram_matrix.size(2),
              "style_loss: argument 'gram' must be (N, C, C), got shape ",
              gram_matrix.defined() ? gram_matrix.shape() : Shape{});
  GESSO_CHECK(target_gram.defined() && target_gram.shape() == gram_matrix.shape(),
              "style_loss: argument 'target_gram' must have the Gram matrix's shape ", gram_matrix.shape(), ", got ",
              target_gram.defined() ? target_gram.shape() : Shape{});
  return mse_loss(gram_matrix, target_gram);
}

Tensor smooth_activations(const Tensor& features, double temperature) {
  check_features(features, "smooth_activations", "features");
  GESSO_CHECK(std::isfinite(temperature) && temperature > 0,
              "smooth_activations: argument 'temperature' must be > 0, got ", temperature);
  const int64_t n = features.size(0), count = features.numel() / std::max<int64_t>(n, 1);
  Tensor flat = features.reshape({n, count});
  Tensor z = mul(flat, 1.0 / temperature);
  // Softmax is unchanged by a shift: subtracting the (constant) maximum keeps exp finite.
  Tensor shift;
  {
    NoGradGuard no_grad;
    shift = max(z, 1, true);
  }
  Tensor e = exp(sub(z, shift));
  Tensor soft = div(e, sum(e, {1}, true));
  return mul(soft, static_cast<double>(count)).reshape(features.shape());
}

}  // namespace gesso::style
