// workload.cpp: the timeable Gatys iteration of workload.h.
#include "style/workload.h"

#include <algorithm>

#include "autograd/ops.h"
#include "style/losses.h"

namespace gesso::style {

GatysWorkload::GatysWorkload(FeatureNet& net, int size, std::vector<std::string> content_layers,
                             std::vector<std::string> style_layers, bool smoothing, double temperature)
    : net_(net),
      content_layers_(std::move(content_layers)),
      style_layers_(std::move(style_layers)),
      smoothing_(smoothing),
      temperature_(temperature) {
  GESSO_CHECK(size >= 16, "GatysWorkload: 'size' must be >= 16, got ", size);
  net.check_layers(content_layers_, "content_layers");
  net.check_layers(style_layers_, "style_layers");
  all_layers_ = content_layers_;
  for (const auto& l : style_layers_)
    if (std::find(all_layers_.begin(), all_layers_.end(), l) == all_layers_.end()) all_layers_.push_back(l);
  Generator gen(1234);
  Tensor content = rand({1, 3, size, size}, gen), style = rand({1, 3, size, size}, gen);
  NoGradGuard no_grad;
  content_targets_ = net.forward(content, content_layers_);
  FeatureMap s = net.forward(style, style_layers_);
  for (const auto& l : style_layers_)
    gram_targets_[l] = style_gram(smoothing_ ? smooth_activations(s.at(l), temperature_) : s.at(l));
  image_ = rand({1, 3, size, size}, gen).requires_grad_();
}

double GatysWorkload::step() {
  FeatureMap f = net_.forward(image_, all_layers_);
  Tensor loss = mul(total_variation(image_), 1e-3);
  for (const auto& l : content_layers_) loss = add(loss, content_loss(f.at(l), content_targets_.at(l)));
  for (const auto& l : style_layers_) {
    Tensor x = smoothing_ ? smooth_activations(f.at(l), temperature_) : f.at(l);
    loss = add(loss, mul(style_loss(style_gram(x), gram_targets_.at(l)), 1e3));
  }
  f.clear();
  image_.zero_grad();
  const double value = loss.item();
  loss.backward();
  return value;
}

}  // namespace gesso::style
