/*
 * workload.h: one Gatys iteration as a fixed, timeable unit, shared by
 * bench/bench_style.cpp and `gesso style --bench` (which
 * bench/compare_pytorch.py runs beside its PyTorch twin, gatys256/gatys512).
 *
 * One step = the network's forward on the image (1, 3, size, size) to the
 * deepest layer asked for, the content loss (mean squared error), the style
 * losses (Gram matrices normalised by C*H*W, mean squared error), total
 * variation, and the backward pass to the image (the weights are frozen).
 * Images are random (uniform in [0, 1), from a fixed seed); the targets are
 * computed once, outside the timed steps.
 */
#pragma once
#include <string>
#include <vector>

#include "style/feature_net.h"

namespace gesso::style {

class GatysWorkload {
 public:
  GatysWorkload(FeatureNet& net, int size, std::vector<std::string> content_layers,
                std::vector<std::string> style_layers, bool smoothing = false, double temperature = 1);
  // Runs one step; returns the loss.
  double step();

 private:
  FeatureNet& net_;
  std::vector<std::string> content_layers_, style_layers_, all_layers_;
  bool smoothing_;
  double temperature_;
  Tensor image_;
  FeatureMap content_targets_, gram_targets_;
};

}  // namespace gesso::style
