/*
 * vgg19.cpp: VGG-19's features in torchvision's layout (vgg19.h), its
 * forward to the deepest layer asked for, and loading torchvision's weights
 * from safetensors.
 */
#include "style/vgg19.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "nn/safetensors.h"
#include "style/conv_relu.h"

namespace gesso::style {

namespace {

// Channels of each convolution, 0 for a pool: torchvision's configuration "E".
const int kConfig[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};

}  // namespace

Pooling parse_pooling(const std::string& name) {
  if (name == "max") return Pooling::max;
  if (name == "avg") return Pooling::avg;
  fail("pooling: expected 'max' or 'avg', got '", name, "'");
}

Vgg19::Vgg19(Pooling pooling_, int width_divisor, Generator& gen) : pooling(pooling_) {
  GESSO_CHECK(width_divisor >= 1 && 64 % width_divisor == 0, "Vgg19: 'width_divisor' must divide 64, got ",
              width_divisor);
  features = register_module("features", std::make_shared<nn::Sequential>());
  int in = 3, block = 1, conv = 1;
  for (int c : kConfig) {
    if (c == 0) {
      if (pooling == Pooling::max) features->push_back(std::make_shared<nn::MaxPool2d>(2, 2));
      else features->push_back(std::make_shared<nn::AvgPool2d>(2, 2));
      names_.push_back(str("pool", block));
      ++block;
      conv = 1;
      continue;
    }
    const int out = c / width_divisor;
    features->push_back(std::make_shared<nn::Conv2d>(in, out, 3, nn::Conv2dOptions().padding(1), gen));
    features->push_back(std::make_shared<nn::ReLU>());
    names_.push_back(str("conv", block, "_", conv));
    names_.push_back(str("relu", block, "_", conv));
    ++conv;
    in = out;
  }
  freeze();
}

FeatureMap Vgg19::forward(const Tensor& image, const std::vector<std::string>& layers) {
  check_layers(layers, "the layers asked for");
  GESSO_CHECK(image.defined() && image.dim() == 4 && image.size(1) == 3,
              "vgg19: expected an RGB image batch (N, 3, H, W), got shape ",
              image.defined() ? image.shape() : Shape{});
  const size_t last = deepest(layers);
  const std::set<std::string> wanted(layers.begin(), layers.end());
  // Four pools halve the image before conv5_1: smaller inputs would vanish.
  const int64_t pools_before = static_cast<int64_t>(std::count_if(
      names_.begin(), names_.begin() + static_cast<std::ptrdiff_t>(last), [](const std::string& n) {
        return n.rfind("pool", 0) == 0;
      }));
  GESSO_CHECK(image.size(2) >> pools_before >= 1 && image.size(3) >> pools_before >= 1, "vgg19: an image of ",
              image.size(2), " x ", image.size(3), " is too small to reach layer ", names_[last], " (", pools_before,
              " pools of stride 2 before it)");

  const TensorOptions opt = TensorOptions(image.dtype()).with(image.device());
  Tensor mean = from_vector(std::vector<float>{0.485f, 0.456f, 0.406f}, {1, 3, 1, 1}, opt);
  Tensor inv_std = from_vector(std::vector<float>{1 / 0.229f, 1 / 0.224f, 1 / 0.225f}, {1, 3, 1, 1}, opt);
  Tensor x = mul(sub(image, mean), inv_std);

  FeatureMap out;
  for (size_t i = 0; i <= last; ++i) {
    const std::string& layer = names_[i];
    auto conv = std::dynamic_pointer_cast<nn::Conv2d>((*features)[i]);
    if (conv && !wanted.count(layer) && i + 1 < names_.size()) {
      // conv + relu as one node; the relu's name is the next one.
      x = conv2d_relu(x, conv->weight, conv->bias, conv->params());
      ++i;
    } else {
      x = (*features)[i]->forward(x);
    }
    if (wanted.count(names_[i])) out[names_[i]] = x;
  }
  return out;
}

void Vgg19::load_weights(const std::string& path) {
  nn::SafetensorsFile file = nn::load_safetensors(path);
  nn::LoadOptions options;
  options.strict = true;
  options.prefix = "features.";
  try {
    load_state_dict(file.tensors, options);
  } catch (const Error& e) {
    fail("vgg19: '", path, "' does not hold torchvision's VGG-19 features (", e.what(), ")");
  }
  freeze();
}

std::unique_ptr<Vgg19> load_vgg19(const std::string& path, Pooling pooling) {
  std::ifstream probe(path, std::ios::binary);
  GESSO_CHECK(probe.good(), "VGG-19 weights not found: ", path,
              " is missing; make it where torch and torchvision are installed with: "
              "python3 tools/convert_vgg19.py --out ", path,
              " (or use --model resnet50, which scripts/setup_style_data.sh installs)");
  Generator gen(0);
  auto net = std::make_unique<Vgg19>(pooling, 1, gen);
  net->load_weights(path);
  return net;
}

}  // namespace gesso::style
