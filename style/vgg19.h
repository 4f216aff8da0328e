/*
 * vgg19.h: VGG-19, the network of Gatys et al., in torchvision's `features`
 * layout, so that its weights load from a safetensors file with
 * torchvision's names ("features.0.weight", "features.0.bias", ...,
 * "features.34.bias"; tools/convert_vgg19.py makes that file).
 *
 *   index  0 conv1_1  1 relu1_1  2 conv1_2  3 relu1_2  4 pool1
 *          5 conv2_1  6 relu2_1  7 conv2_2  8 relu2_2  9 pool2
 *         10 conv3_1 ... 17 relu3_4 18 pool3
 *         19 conv4_1 ... 26 relu4_4 27 pool4
 *         28 conv5_1 ... 35 relu5_4 36 pool5
 *
 * Convolutions are 3x3 with padding 1; pools 2x2 stride 2, max or average
 * (Gatys et al. found average pooling gives slightly smoother results).
 * Input preprocessing is torchvision's: (x - mean) / std with ImageNet's
 * mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), RGB in [0, 1].
 * A convolution followed by its relu runs as one fused node
 * (conv_relu.h) unless the convolution's own output is asked for.
 *
 * width_divisor > 1 divides every channel count (a small network of the
 * same shape, for tests and quick checks; only 1 loads torchvision files).
 */
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"
#include "style/feature_net.h"

namespace gesso::style {

enum class Pooling { max, avg };
Pooling parse_pooling(const std::string& name);

class Vgg19 : public nn::Module, public FeatureNet {
 public:
  // Random weights (PyTorch's default initialisation) drawn from gen.
  explicit Vgg19(Pooling pooling = Pooling::max, int width_divisor = 1, Generator& gen = default_generator());
  std::string type_name() const override { return "Vgg19"; }
  std::string name() const override { return "vgg19"; }
  const std::vector<std::string>& layer_names() const override { return names_; }
  FeatureMap forward(const Tensor& image, const std::vector<std::string>& layers) override;
  void to(Device d) override { nn::Module::to(d); }

  // Loads torchvision's weights from a safetensors file: every
  // "features.<i>.weight/bias" must be there with its shape (other names,
  // such as the classifier's, are ignored). The weights are frozen.
  void load_weights(const std::string& path);

  std::shared_ptr<nn::Sequential> features;
  Pooling pooling;

 private:
  std::vector<std::string> names_;  // names_[i] names features[i]
};

// Loads VGG-19 from `path`; when the file is missing, the error is one line
// naming the file and the command that makes it.
std::unique_ptr<Vgg19> load_vgg19(const std::string& path, Pooling pooling);

}  // namespace gesso::style
