/*
 * feature_net.h: what style transfer asks of a feature network, and the
 * helpers every network shares.
 *
 * A FeatureNet takes RGB images in [0, 1] (N, 3, H, W), applies its own
 * preprocessing (ImageNet mean/std for torchvision's VGG-19, caffe-style BGR
 * mean subtraction for Keras' ResNet-50) and returns the activations of the
 * layers asked for, by name, running only as deep as the deepest of them.
 * When the image requires grad, the graph back to it is recorded; the
 * network's own weights never require grad (they are frozen), so backward
 * computes gradients for the image only.
 *
 * Layer names are the network's own ("relu4_2" for VGG-19, "res4f" for
 * ResNet-50); layer_names() lists them in forward order.
 */
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace gesso::style {

using FeatureMap = std::map<std::string, Tensor>;

class FeatureNet {
 public:
  virtual ~FeatureNet() = default;
  virtual std::string name() const = 0;
  // Every layer whose activation can be asked for, in forward order.
  virtual const std::vector<std::string>& layer_names() const = 0;
  // image (N, 3, H, W), RGB in [0, 1]; `layers` non-empty, each in layer_names().
  virtual FeatureMap forward(const Tensor& image, const std::vector<std::string>& layers) = 0;
  // Moves the weights.
  virtual void to(Device d) = 0;

  // Throws, listing the valid names, unless every name is in layer_names().
  void check_layers(const std::vector<std::string>& layers, const char* what) const;
  // Position of `layer` in layer_names() (checked).
  size_t layer_index(const std::string& layer) const;
  // The deepest position among `layers`.
  size_t deepest(const std::vector<std::string>& layers) const;
};

// "a,b, c" -> {"a", "b", "c"}; empty parts are an error naming `what`.
std::vector<std::string> split_list(const std::string& text, const char* what);
std::vector<double> parse_doubles(const std::string& text, const char* what);

}  // namespace gesso::style
