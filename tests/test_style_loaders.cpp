// test_style_loaders.cpp: the feature networks' loaders on generated files.
//   TF.js: a small Keras-named ResNet (width 4, blocks 2-1-1-1) written as
//   model.json + 3 shards cut at arbitrary bytes, little-endian; names,
//   shapes and values read back exactly; the built network (BN folded, BGR
//   moved into conv1) against Keras' semantics computed here with unfolded
//   ops; truncated, oversized, missing, mistyped and mis-configured files.
//   VGG-19: a random-weight file with torchvision's names and shapes; layer
//   names against torchvision's indices; fused forward against the plain
//   Sequential; missing, misnamed and misshapen tensors.
#include <doctest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/safetensors.h"
#include "style/resnet50.h"
#include "style/tfjs.h"
#include "style/vgg19.h"

using namespace gesso;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_style_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// ---- a small Keras ResNet in TF.js layers format

struct KerasWeight {
  std::string name;
  Shape shape;
  Tensor value;  // float32, Keras layout
};

struct TinyResNet {
  json layers = json::array();
  std::vector<KerasWeight> weights;
  const Tensor& get(const std::string& name) const {
    for (const auto& w : weights)
      if (w.name == name) return w.value;
    FAIL("no weight " << name);
    static Tensor none;
    return none;
  }
};

void add_conv(TinyResNet& net, const std::string& name, int64_t k, int64_t c_in, int64_t c_out, int stride,
              const std::string& padding, Generator& gen) {
  net.layers.push_back({{"name", name},
                        {"class_name", "Conv2D"},
                        {"config",
                         {{"name", name},
                          {"filters", c_out},
                          {"kernel_size", {k, k}},
                          {"strides", {stride, stride}},
                          {"padding", padding},
                          {"dilation_rate", {1, 1}},
                          {"use_bias", true}}}});
  const double scale = std::sqrt(2.0 / static_cast<double>(k * k * c_in));
  net.weights.push_back({name + "/kernel", {k, k, c_in, c_out}, mul(randn({k, k, c_in, c_out}, gen), scale)});
  net.weights.push_back({name + "/bias", {c_out}, mul(randn({c_out}, gen), 0.1)});
}

void add_bn(TinyResNet& net, const std::string& name, int64_t c, Generator& gen) {
  net.layers.push_back({{"name", name},
                        {"class_name", "BatchNormalization"},
                        {"config", {{"name", name}, {"epsilon", 0.001}, {"center", true}, {"scale", true}}}});
  net.weights.push_back({name + "/gamma", {c}, rand({c}, gen, {}, 0.5, 1.5)});
  net.weights.push_back({name + "/beta", {c}, rand({c}, gen, {}, -0.2, 0.2)});
  net.weights.push_back({name + "/moving_mean", {c}, rand({c}, gen, {}, -0.5, 0.5)});
  net.weights.push_back({name + "/moving_variance", {c}, rand({c}, gen, {}, 0.5, 2.0)});
}

TinyResNet make_tiny_resnet(int64_t width, std::array<int, 4> blocks, uint64_t seed) {
  Generator gen(seed);
  TinyResNet net;
  net.layers.push_back({{"name", "input_1"}, {"class_name", "InputLayer"}, {"config", json::object()}});
  net.layers.push_back(
      {{"name", "conv1_pad"}, {"class_name", "ZeroPadding2D"}, {"config", {{"padding", {{3, 3}, {3, 3}}}}}});
  add_conv(net, "conv1", 7, 3, width, 2, "valid", gen);
  // The first conv sees caffe-scale input (0..255): keep its outputs moderate.
  for (auto& w : net.weights)
    if (w.name == "conv1/kernel") w.value = mul(w.value, 1.0 / 64);
  add_bn(net, "bn_conv1", width, gen);
  net.layers.push_back(
      {{"name", "pool1_pad"}, {"class_name", "ZeroPadding2D"}, {"config", {{"padding", {{1, 1}, {1, 1}}}}}});
  int64_t c_in = width;
  for (int s = 0; s < 4; ++s) {
    const int64_t mid = width << s, out = mid * 4;
    for (int n = 0; n < blocks[s]; ++n) {
      const std::string id = std::to_string(s + 2) + static_cast<char>('a' + n);
      const int stride = (n == 0 && s > 0) ? 2 : 1;
      add_conv(net, "res" + id + "_branch2a", 1, c_in, mid, stride, "valid", gen);
      add_bn(net, "bn" + id + "_branch2a", mid, gen);
      add_conv(net, "res" + id + "_branch2b", 3, mid, mid, 1, "same", gen);
      add_bn(net, "bn" + id + "_branch2b", mid, gen);
      add_conv(net, "res" + id + "_branch2c", 1, mid, out, 1, "valid", gen);
      add_bn(net, "bn" + id + "_branch2c", out, gen);
      if (n == 0) {
        add_conv(net, "res" + id + "_branch1", 1, c_in, out, stride, "valid", gen);
        add_bn(net, "bn" + id + "_branch1", out, gen);
      }
      c_in = out;
    }
  }
  net.weights.push_back({"fc1000/kernel", {c_in, 5}, mul(randn({c_in, 5}, gen), 0.1)});
  net.weights.push_back({"fc1000/bias", {5}, zeros({5})});
  // The manifest of the real files is sorted by name; so is this one.
  std::sort(net.weights.begin(), net.weights.end(),
            [](const KerasWeight& a, const KerasWeight& b) { return a.name < b.name; });
  return net;
}

void put_le_float(std::vector<unsigned char>& out, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(bits >> (8 * i)));
}

// Writes model.json and `shards` files cut at arbitrary byte offsets; `edit`
// may change the JSON, `edit_bytes` the concatenated data, before writing.
std::string write_tfjs(const fs::path& dir, const TinyResNet& net, int shards,
                       const std::function<void(json&)>& edit = nullptr,
                       const std::function<void(std::vector<unsigned char>&)>& edit_bytes = nullptr) {
  std::vector<unsigned char> bytes;
  json manifest_weights = json::array();
  for (const auto& w : net.weights) {
    manifest_weights.push_back({{"name", w.name}, {"shape", w.shape}, {"dtype", "float32"}});
    for (float v : w.value.contiguous().to_vector<float>()) put_le_float(bytes, v);
  }
  if (edit_bytes) edit_bytes(bytes);
  json paths = json::array();
  const size_t per = bytes.size() / shards + 3;  // not a multiple of 4: weights straddle shards
  for (int i = 0; i < shards; ++i) {
    const std::string name = "group1-shard" + std::to_string(i + 1) + "of" + std::to_string(shards) + ".bin";
    paths.push_back(name);
    const size_t begin = std::min(bytes.size(), per * i), end = std::min(bytes.size(), per * (i + 1));
    std::ofstream f(dir / name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data() + begin), static_cast<std::streamsize>(end - begin));
  }
  json root = {{"format", "layers-model"},
               {"generatedBy", "gesso test"},
               {"modelTopology", {{"model_config", {{"class_name", "Model"}, {"config", {{"layers", net.layers}}}}}}},
               {"weightsManifest", {{{"paths", paths}, {"weights", manifest_weights}}}}};
  if (edit) edit(root);
  const fs::path path = dir / "model.json";
  std::ofstream(path) << root.dump();
  return path.string();
}

// ---- Keras' ResNet50 semantics, unfolded, straight from the Keras tensors

Tensor keras_conv(const TinyResNet& net, const std::string& name, const Tensor& x, int stride, int pad) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  Tensor w = net.get(name + "/kernel").permute({3, 2, 0, 1}).contiguous();  // (kH,kW,in,out) -> (out,in,kH,kW)
  return conv2d(x, w, net.get(name + "/bias"), p);
}

Tensor keras_bn(const TinyResNet& net, const std::string& name, const Tensor& x) {
  return batch_norm(x, net.get(name + "/gamma"), net.get(name + "/beta"), net.get(name + "/moving_mean"),
                    net.get(name + "/moving_variance"), false, 0.1, 0.001);
}

std::map<std::string, Tensor> keras_forward(const TinyResNet& net, const Tensor& rgb01, std::array<int, 4> blocks) {
  std::map<std::string, Tensor> out;
  // preprocess_input(mode="caffe"): 0..255, RGB -> BGR, minus the BGR mean.
  Tensor bgr = concat({rgb01.narrow(1, 2, 1), rgb01.narrow(1, 1, 1), rgb01.narrow(1, 0, 1)}, 1);
  Tensor mean = from_vector(std::vector<float>{103.939f, 116.779f, 123.68f}, {1, 3, 1, 1});
  Tensor x = sub(mul(bgr, 255.0), mean);
  x = relu(keras_bn(net, "bn_conv1", keras_conv(net, "conv1", x, 2, 3)));
  out["conv1"] = x;
  x = max_pool2d(x, 3, 2, 1);  // zero padding before a max of relu outputs is padding by -inf
  out["pool1"] = x;
  for (int s = 0; s < 4; ++s)
    for (int n = 0; n < blocks[s]; ++n) {
      const std::string id = std::to_string(s + 2) + static_cast<char>('a' + n);
      const int stride = (n == 0 && s > 0) ? 2 : 1;
      Tensor h = relu(keras_bn(net, "bn" + id + "_branch2a", keras_conv(net, "res" + id + "_branch2a", x, stride, 0)));
      h = relu(keras_bn(net, "bn" + id + "_branch2b", keras_conv(net, "res" + id + "_branch2b", h, 1, 1)));
      h = keras_bn(net, "bn" + id + "_branch2c", keras_conv(net, "res" + id + "_branch2c", h, 1, 0));
      Tensor shortcut =
          n == 0 ? keras_bn(net, "bn" + id + "_branch1", keras_conv(net, "res" + id + "_branch1", x, stride, 0)) : x;
      x = relu(add(h, shortcut));
      out["res" + id] = x;
    }
  return out;
}

const std::array<int, 4> kBlocks{2, 1, 1, 1};

}  // namespace

TEST_CASE("TF.js loader: names in manifest order, shapes, and values exact across shard boundaries") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 1);
  const std::string path = write_tfjs(dir.path, net, 3);
  style::TfjsModel m = style::load_tfjs_layers_model(path);
  REQUIRE(m.weights.size() == net.weights.size());
  for (size_t i = 0; i < net.weights.size(); ++i) {
    CHECK(m.weights[i].first == net.weights[i].name);
    CHECK(m.weights[i].second.shape() == net.weights[i].shape);
    CHECK(m.weights[i].second.to_vector<float>() == net.weights[i].value.contiguous().to_vector<float>());
  }
  CHECK(m.find_layer("conv1") != nullptr);
  CHECK(m.find_layer("conv1")->class_name == "Conv2D");
  CHECK(m.find_layer("nope") == nullptr);
  CHECK_THROWS_WITH_AS(m.weight("nope/kernel"), doctest::Contains("has no weight named 'nope/kernel'"), Error);
}

TEST_CASE("TF.js loader: bytes are little-endian float32 whatever the host") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 2);
  // Overwrite the first weight's first value with the bytes of 1.5f written by hand: 00 00 C0 3F.
  const std::string path = write_tfjs(dir.path, net, 1, nullptr, [](std::vector<unsigned char>& b) {
    b[0] = 0x00;
    b[1] = 0x00;
    b[2] = 0xC0;
    b[3] = 0x3F;
  });
  style::TfjsModel m = style::load_tfjs_layers_model(path);
  CHECK(m.weights[0].second.to_vector<float>()[0] == 1.5f);
}

TEST_CASE("ResNet-50 from TF.js files matches Keras' unfolded graph at every layer") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 3);
  style::ResNet50 model(style::load_tfjs_layers_model(write_tfjs(dir.path, net, 3)));
  CHECK(model.config().width == 4);
  CHECK(model.config().blocks == kBlocks);
  CHECK(model.layer_names() ==
        std::vector<std::string>{"conv1", "pool1", "res2a", "res2b", "res3a", "res4a", "res5a"});
  CHECK(model.has_classifier());
  Generator gen(4);
  Tensor img = rand({1, 3, 45, 38}, gen);  // odd sizes: padding and strides at the borders
  std::map<std::string, Tensor> want = keras_forward(net, img, kBlocks);
  style::FeatureMap got = model.forward(img, model.layer_names());
  for (const auto& name : model.layer_names()) {
    INFO("layer " << name);
    REQUIRE(got.at(name).shape() == want.at(name).shape());
    const double scale = max(abs(want.at(name))).item();
    // float32, BN folded in double then rounded: a few ulps of the layer's scale.
    CHECK(max(abs(sub(got.at(name), want.at(name)))).item() <= 2e-4 * scale + 1e-6);
  }
  // Asking for one layer stops there and gives the same values.
  style::FeatureMap only = model.forward(img, {"res2b"});
  CHECK(only.size() == 1);
  CHECK(max(abs(sub(only.at("res2b"), got.at("res2b")))).item() == 0.0);
  // The classifier head: global average pool then the Dense layer.
  Tensor logits = model.logits(img);
  Tensor want_logits = add(matmul(mean(want.at("res5a"), {2, 3}), net.get("fc1000/kernel")), net.get("fc1000/bias"));
  CHECK(max(abs(sub(logits, want_logits))).item() <= 2e-4 * max(abs(want_logits)).item() + 1e-6);
}

TEST_CASE("ResNet-50 gradients reach the image and not the frozen weights") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 5);
  style::ResNet50 model(style::load_tfjs_layers_model(write_tfjs(dir.path, net, 2)));
  Generator gen(6);
  Tensor img = rand({1, 3, 33, 33}, gen).requires_grad_();
  sum(model.forward(img, {"res3a"}).at("res3a")).backward();
  REQUIRE(img.grad().defined());
  CHECK(max(abs(img.grad())).item() > 0);
}

TEST_CASE("TF.js loader: truncated, oversized, missing and mistyped files are clear errors") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 7);
  SUBCASE("a truncated shard") {
    const std::string path = write_tfjs(dir.path, net, 3);
    fs::resize_file(dir.path / "group1-shard3of3.bin", fs::file_size(dir.path / "group1-shard3of3.bin") - 10);
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model(path), doctest::Contains("truncated"), Error);
  }
  SUBCASE("extra bytes") {
    const std::string path =
        write_tfjs(dir.path, net, 2, nullptr, [](std::vector<unsigned char>& b) { b.resize(b.size() + 8, 0); });
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model(path), doctest::Contains("mismatched"), Error);
  }
  SUBCASE("a missing shard") {
    const std::string path = write_tfjs(dir.path, net, 3);
    fs::remove(dir.path / "group1-shard2of3.bin");
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model(path),
                         doctest::Contains("group1-shard2of3.bin' is missing"), Error);
  }
  SUBCASE("a quantised or non-float32 weight") {
    const std::string path = write_tfjs(dir.path, net, 1, [](json& j) {
      j["weightsManifest"][0]["weights"][0]["dtype"] = "int32";
    });
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model(path), doctest::Contains("only float32 is read"), Error);
  }
  SUBCASE("not JSON, or not a layers model") {
    std::ofstream(dir.path / "model.json") << "{\"format\": ";
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model((dir.path / "model.json").string()),
                         doctest::Contains("is not valid JSON"), Error);
    const std::string path = write_tfjs(dir.path, net, 1, [](json& j) { j["format"] = "graph-model"; });
    CHECK_THROWS_WITH_AS(style::load_tfjs_layers_model(path), doctest::Contains("layers-model"), Error);
  }
  SUBCASE("no such file: one line naming it and the setup command") {
    CHECK_THROWS_WITH_AS(style::load_resnet50((dir.path / "absent/model.json").string()),
                         doctest::Contains("setup_style_data.sh"), Error);
  }
}

TEST_CASE("ResNet-50 builder: mismatched shapes and layer configs are clear errors") {
  TempDir dir;
  TinyResNet net = make_tiny_resnet(4, kBlocks, 8);
  SUBCASE("a weight of the wrong shape (manifest and data agree, the architecture does not)") {
    TinyResNet bad = net;
    for (auto& w : bad.weights)
      if (w.name == "res2a_branch2b/kernel") {
        w.shape = {3, 3, 4, 5};
        w.value = zeros({3, 3, 4, 5});
      }
    style::TfjsModel m = style::load_tfjs_layers_model(write_tfjs(dir.path, bad, 2));
    CHECK_THROWS_WITH_AS(style::ResNet50{m}, doctest::Contains("'res2a_branch2b/kernel' has shape (3, 3, 4, 5)"),
                         Error);
  }
  SUBCASE("a missing weight") {
    TinyResNet bad = net;
    bad.weights.erase(std::remove_if(bad.weights.begin(), bad.weights.end(),
                                     [](const KerasWeight& w) { return w.name == "bn3a_branch1/moving_mean"; }),
                      bad.weights.end());
    style::TfjsModel m = style::load_tfjs_layers_model(write_tfjs(dir.path, bad, 2));
    CHECK_THROWS_WITH_AS(style::ResNet50{m}, doctest::Contains("has no weight 'bn3a_branch1/moving_mean'"), Error);
  }
  SUBCASE("a convolution whose strides differ from ResNet-50's") {
    const std::string path = write_tfjs(dir.path, net, 2, [](json& j) {
      for (auto& l : j["modelTopology"]["model_config"]["config"]["layers"])
        if (l["name"] == "res3a_branch2a") l["config"]["strides"] = {1, 1};
    });
    CHECK_THROWS_WITH_AS(style::ResNet50{style::load_tfjs_layers_model(path)},
                         doctest::Contains("layer 'res3a_branch2a' has kernel_size [1,1], strides [1,1]"), Error);
  }
  SUBCASE("a layer missing from the topology") {
    const std::string path = write_tfjs(dir.path, net, 2, [](json& j) {
      auto& layers = j["modelTopology"]["model_config"]["config"]["layers"];
      for (size_t i = 0; i < layers.size(); ++i)
        if (layers[i]["name"] == "bn_conv1") layers.erase(i);
    });
    CHECK_THROWS_WITH_AS(style::ResNet50{style::load_tfjs_layers_model(path)},
                         doctest::Contains("the topology has no layer 'bn_conv1'"), Error);
  }
  SUBCASE("a projection shortcut where ResNet-50 has none") {
    TinyResNet bad = make_tiny_resnet(4, kBlocks, 8);
    Generator gen(9);
    add_conv(bad, "res2b_branch1", 1, 16, 16, 1, "valid", gen);
    std::sort(bad.weights.begin(), bad.weights.end(),
              [](const KerasWeight& a, const KerasWeight& b) { return a.name < b.name; });
    style::TfjsModel m = style::load_tfjs_layers_model(write_tfjs(dir.path, bad, 2));
    CHECK_THROWS_WITH_AS(style::ResNet50{m}, doctest::Contains("only the first block of a stage"), Error);
  }
}

// ---- VGG-19

TEST_CASE("VGG-19: torchvision's layer indices and names") {
  style::Vgg19 vgg(style::Pooling::max, 8);
  const auto& names = vgg.layer_names();
  REQUIRE(names.size() == 37);
  CHECK(names[0] == "conv1_1");
  CHECK(names[1] == "relu1_1");
  CHECK(names[4] == "pool1");
  CHECK(names[22] == "relu4_2");
  CHECK(names[28] == "conv5_1");
  CHECK(names[29] == "relu5_1");
  CHECK(names[36] == "pool5");
  CHECK((*vgg.features)[36]->type_name() == "MaxPool2d");
  style::Vgg19 avg(style::Pooling::avg, 8);
  CHECK((*avg.features)[4]->type_name() == "AvgPool2d");
  // Every parameter is frozen.
  for (const auto& [name, p] : vgg.named_parameters()) CHECK_MESSAGE(!p.requires_grad(), name);
}

TEST_CASE("VGG-19: the fused forward equals the plain Sequential, layer by layer") {
  Generator gen(21);
  style::Vgg19 vgg(style::Pooling::max, 8, gen);
  Tensor img = rand({1, 3, 37, 29}, gen);
  const std::vector<std::string> layers = {"relu1_1", "conv2_1", "relu2_1", "pool3", "relu4_2", "relu5_1"};
  style::FeatureMap got = vgg.forward(img, layers);
  Tensor mean = from_vector(std::vector<float>{0.485f, 0.456f, 0.406f}, {1, 3, 1, 1});
  Tensor stdv = from_vector(std::vector<float>{0.229f, 0.224f, 0.225f}, {1, 3, 1, 1});
  Tensor x = div(sub(img, mean), stdv);
  for (size_t i = 0; i <= vgg.layer_index("relu5_1"); ++i) {
    x = (*vgg.features)[i]->forward(x);
    const std::string& name = vgg.layer_names()[i];
    if (got.count(name)) {
      INFO("layer " << name);
      CHECK(max(abs(sub(got.at(name), x))).item() <= 1e-5 * (max(abs(x)).item() + 1e-6));
    }
  }
  CHECK_THROWS_WITH_AS(vgg.forward(img, {"relu6_1"}), doctest::Contains("does not have; its layers are: conv1_1"),
                       Error);
}

TEST_CASE("VGG-19 loads a safetensors file with torchvision's names and shapes") {
  TempDir dir;
  Generator gen(31);
  style::Vgg19 source(style::Pooling::max, 1, gen);
  nn::StateDict state = source.state_dict();
  REQUIRE(state.size() == 32);
  CHECK(state.at("features.0.weight").shape() == Shape{64, 3, 3, 3});
  CHECK(state.at("features.34.weight").shape() == Shape{512, 512, 3, 3});
  state["classifier.0.weight"] = zeros({4, 2});  // torchvision's classifier, ignored
  const std::string path = (dir.path / "vgg19.safetensors").string();
  nn::save_safetensors(path, state);

  auto loaded = style::load_vgg19(path, style::Pooling::avg);
  for (const auto& [name, t] : source.state_dict())
    CHECK_MESSAGE(loaded->state_dict().at(name).to_vector<float>() == t.to_vector<float>(), name);
  CHECK(loaded->pooling == style::Pooling::avg);

  SUBCASE("a missing tensor") {
    nn::StateDict bad = source.state_dict();
    bad.erase("features.21.bias");
    nn::save_safetensors(path, bad);
    CHECK_THROWS_WITH_AS(style::load_vgg19(path, style::Pooling::max), doctest::Contains("features.21.bias"), Error);
  }
  SUBCASE("a tensor of the wrong shape") {
    nn::StateDict bad = source.state_dict();
    bad["features.2.weight"] = zeros({64, 64, 1, 1});
    nn::save_safetensors(path, bad);
    CHECK_THROWS_WITH_AS(style::load_vgg19(path, style::Pooling::max),
                         doctest::Contains("does not hold torchvision's VGG-19 features"), Error);
  }
  SUBCASE("a truncated file") {
    fs::resize_file(path, fs::file_size(path) / 2);
    CHECK_THROWS_AS(style::load_vgg19(path, style::Pooling::max), Error);
  }
  SUBCASE("no file: one line naming it and the converter") {
    CHECK_THROWS_WITH_AS(style::load_vgg19((dir.path / "none.safetensors").string(), style::Pooling::max),
                         doctest::Contains("tools/convert_vgg19.py"), Error);
  }
}
