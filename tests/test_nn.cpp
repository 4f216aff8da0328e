// test_nn.cpp: Module naming and traversal, train/eval, state_dict and
// load_state_dict (round trip, mismatch messages, prefixes), freezing,
// device/dtype moves, initialisers' statistics and seeding, and the layers'
// shapes and behaviour.
#include <doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/optim.h"

using namespace gesso;
using namespace gesso::nn;

namespace {

// A two-part model, the shape of a transfer-learning setup.
struct Net : Module {
  std::shared_ptr<Sequential> features, classifier;
  Net(int64_t hidden, int64_t classes, Generator& gen) {
    features = register_module("features", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
        std::make_shared<Conv2d>(3, 4, 3, Conv2dOptions().padding(1), gen), std::make_shared<BatchNorm2d>(4),
        std::make_shared<ReLU>()}));
    classifier = register_module("classifier", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
        std::make_shared<Flatten>(), std::make_shared<Linear>(4 * 5 * 5, hidden, true, gen),
        std::make_shared<Tanh>(), std::make_shared<Linear>(hidden, classes, true, gen)}));
  }
  std::string type_name() const override { return "Net"; }
  Tensor forward(const Tensor& x) override { return classifier->forward(features->forward(x)); }
};

std::vector<std::string> names_of(const NamedTensors& nt) {
  std::vector<std::string> out;
  for (auto& [n, t] : nt) out.push_back(n);
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

struct Moments {
  double mean = 0, std = 0, min = 1e300, max = -1e300;
};
Moments moments_of(const Tensor& t) {
  auto v = t.to_vector<double>();
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(v.size()));
  return m;
}

}  // namespace

TEST_CASE("modules name their tensors with dotted paths in registration order") {
  Generator gen(1);
  Net net(8, 3, gen);
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                                 "classifier.1.weight", "classifier.1.bias", "classifier.3.weight",
                                 "classifier.3.bias"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"features.1.running_mean", "features.1.running_var",
                                                                  "features.1.num_batches_tracked"});
  CHECK(net.parameters().size() == 8);
  CHECK(net.num_parameters() == (4 * 3 * 9 + 4) + (4 + 4) + (100 * 8 + 8) + (8 * 3 + 3));
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
  std::vector<std::string> modules;
  for (auto& [name, m] : net.named_modules()) modules.push_back(name + ":" + m->type_name());
  CHECK(modules.size() == 10);
  CHECK(modules[0] == ":Net");
  CHECK(modules[2] == "features.0:Conv2d");
  CHECK(modules[9] == "classifier.3:Linear");
  // The registry and the layer's member are the same tensor.
  auto conv = net.features->at<Conv2d>(0);
  CHECK(conv->weight.impl_ptr() == net.named_parameters()[0].second.impl_ptr());
  CHECK_THROWS_WITH_AS(net.features->at<Linear>(0), doctest::Contains("child 0 is a Conv2d"), Error);
  std::string text = net.repr();
  CHECK(text.find("(0): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))") != std::string::npos);
  CHECK(text.find("(1): BatchNorm2d(4, eps=1e-05") != std::string::npos);
}

TEST_CASE("registration rejects bad names") {
  Module m;
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH_AS(m.register_buffer("w", zeros({2})), doctest::Contains("name 'w' is already registered"), Error);
  CHECK_THROWS_WITH_AS(m.register_parameter("a.b", zeros({2})), doctest::Contains("must not contain '.'"), Error);
  CHECK_THROWS_WITH_AS(m.register_module("", std::make_shared<ReLU>()), doctest::Contains("must not be empty"), Error);
  CHECK_THROWS_WITH_AS(m.forward(zeros({1})), doctest::Contains("Module: this module has no single-input forward"),
                       Error);
}

TEST_CASE("train() and eval() reach every module; BatchNorm2d follows the mode") {
  Generator gen(2);
  Net net(8, 3, gen);
  for (auto& [name, m] : net.named_modules()) CHECK(m->is_training());
  net.eval();
  for (auto& [name, m] : net.named_modules()) CHECK_FALSE(m->is_training());
  net.train();
  auto bn = net.features->at<BatchNorm2d>(1);
  CHECK(bn->is_training());

  Tensor x = randn({2, 4, 3, 3}, gen);
  Tensor y_train = bn->forward(x);
  CHECK(bn->num_batches_tracked.item() == 1);
  CHECK(moments_of(bn->running_mean).max != 0.0);  // updated
  bn->eval();
  Tensor rm = bn->running_mean.detach().clone();
  Tensor y_eval = bn->forward(x);
  CHECK(bn->num_batches_tracked.item() == 1);
  CHECK(same_values(bn->running_mean, rm));
  CHECK(same_values(y_eval, batch_norm(x, bn->weight, bn->bias, rm, bn->running_var, false)));
  CHECK_FALSE(same_values(y_eval, y_train));
  CHECK_THROWS_WITH_AS(bn->forward(zeros({2, 3, 4, 4})),
                       doctest::Contains("BatchNorm2d: expected 4 input channels, got input shape (2, 3, 4, 4)"), Error);
}

TEST_CASE("state_dict round trip in memory reproduces the model") {
  Generator g1(10), g2(20);
  Net a(8, 3, g1), b(8, 3, g2);
  a.features->at<BatchNorm2d>(1)->forward(randn({2, 4, 5, 5}, g1));  // non-trivial running stats
  StateDict sd = a.state_dict();
  CHECK(sd.size() == 11);
  CHECK_FALSE(same_values(a.named_parameters()[0].second, b.named_parameters()[0].second));
  LoadResult r = b.load_state_dict(sd);
  CHECK(r.loaded.size() == 11);
  for (auto& [name, t] : b.state_dict()) CHECK_MESSAGE(same_values(t, sd.at(name)), name);
  a.eval();
  b.eval();
  Tensor x = randn({2, 3, 5, 5}, g1);
  CHECK(same_values(a.forward(x), b.forward(x)));
  // Loading copies: b's tensors do not alias a's.
  CHECK_FALSE(b.named_parameters()[0].second.same_storage(a.named_parameters()[0].second));
}

TEST_CASE("load_state_dict reports every mismatch in one message and loads nothing") {
  Generator g(3);
  Net net(8, 3, g), other(6, 3, g);  // other's classifier has a different hidden size
  StateDict sd = other.state_dict();
  sd.erase("features.0.bias");
  sd.erase("features.1.running_var");
  sd["features.9.weight"] = zeros({1});
  sd["features.1.weight"] = zeros({4}, DType::f64);
  Tensor before = net.named_parameters()[0].second.detach().clone();
  std::string msg;
  try {
    net.load_state_dict(sd);
  } catch (const Error& e) {
    msg = e.what();
  }
  CAPTURE(msg);
  CHECK(msg.find("missing (in the module, not in the state dict): 'features.0.bias', 'features.1.running_var'") !=
        std::string::npos);
  CHECK(msg.find("unexpected (in the state dict, not in the module): 'features.9.weight'") != std::string::npos);
  CHECK(msg.find("'classifier.1.weight': shape (6, 100) in the state dict, (8, 100) in the module") != std::string::npos);
  CHECK(msg.find("'classifier.3.weight': shape (3, 6) in the state dict, (3, 8) in the module") != std::string::npos);
  CHECK(msg.find("'features.1.weight': dtype float64 in the state dict, float32 in the module") != std::string::npos);
  CHECK(msg.find("nothing was loaded") != std::string::npos);
  CHECK(same_values(net.named_parameters()[0].second, before));

  // Non-strict: names may be missing or unexpected; shapes must still match.
  StateDict partial = net.state_dict();
  partial.erase("classifier.3.bias");
  partial["extra"] = zeros({1});
  LoadResult r = net.load_state_dict(partial, LoadOptions{false, ""});
  CHECK(r.missing == std::vector<std::string>{"classifier.3.bias"});
  CHECK(r.unexpected == std::vector<std::string>{"extra"});
  CHECK(r.loaded.size() == 10);
  CHECK_THROWS_WITH_AS(net.load_state_dict(sd, LoadOptions{false, ""}), doctest::Contains("shape (6, 100)"), Error);
}

TEST_CASE("prefix loading: transfer the features, keep the classifier") {
  Generator g(4);
  Net pretrained(6, 10, g), net(8, 3, g);  // same features, different classifier
  Tensor classifier_before = net.classifier->at<Linear>(1)->weight.detach().clone();
  StateDict sd = pretrained.state_dict();
  CHECK_THROWS_WITH_AS(net.load_state_dict(sd), doctest::Contains("shape (6, 100) in the state dict"), Error);
  LoadResult r = net.load_state_dict(sd, LoadOptions{true, "features."});
  CHECK(r.loaded.size() == 7);  // conv (2), bn (2 + 3 buffers)
  CHECK(same_values(net.features->at<Conv2d>(0)->weight, pretrained.features->at<Conv2d>(0)->weight));
  CHECK(same_values(net.classifier->at<Linear>(1)->weight, classifier_before));
  // Strict applies to the prefixed part only: a missing feature tensor is reported.
  sd.erase("features.0.bias");
  CHECK_THROWS_WITH_AS(net.load_state_dict(sd, LoadOptions{true, "features."}),
                       doctest::Contains("(under prefix 'features.')"), Error);
  CHECK_THROWS_WITH_AS(net.load_state_dict(sd, LoadOptions{true, "feature."}),
                       doctest::Contains("prefix 'feature.' matches no parameter or buffer of this Net"), Error);
}

TEST_CASE("frozen parameters stay unchanged through an optimizer step") {
  Generator g(5);
  Net net(8, 3, g);
  CHECK(net.freeze("features.") == 4);
  for (auto& [name, p] : net.named_parameters()) CHECK(p.requires_grad() == (name.rfind("classifier.", 0) == 0));
  StateDict before;
  for (auto& [name, t] : net.state_dict()) before[name] = t.clone();
  for (const char* kind : {"sgd", "adamw"}) {
    std::unique_ptr<Optimizer> opt;
    if (std::string(kind) == "sgd") opt = std::make_unique<SGD>(net.parameters(), SgdOptions(0.1).momentum(0.9).weight_decay(0.1));
    else opt = std::make_unique<AdamW>(net.parameters());
    net.zero_grad();
    Tensor loss = sum(pow(net.forward(randn({2, 3, 5, 5}, g)), 2.0));
    loss.backward();
    opt->step();
  }
  CHECK(same_values(net.features->at<Conv2d>(0)->weight, before.at("features.0.weight")));
  CHECK(same_values(net.features->at<BatchNorm2d>(1)->bias, before.at("features.1.bias")));
  CHECK_FALSE(same_values(net.classifier->at<Linear>(3)->weight, before.at("classifier.3.weight")));
  CHECK(net.unfreeze() == 8);
  CHECK_THROWS_WITH_AS(net.freeze("head."), doctest::Contains("prefix 'head.' matches no parameter"), Error);
}

TEST_CASE("to(dtype) converts in place: layers and optimizers keep their handles") {
  Generator g(6);
  Linear lin(4, 2, true, g);
  Tensor w = lin.weight;
  std::vector<float> wv = w.to_vector<float>();
  lin.to(DType::f64);
  CHECK(w.dtype() == DType::f64);
  CHECK(lin.weight.dtype() == DType::f64);
  auto wd = w.to_vector<double>();
  for (size_t i = 0; i < wv.size(); ++i) CHECK(wd[i] == static_cast<double>(wv[i]));
  lin.to(Device::cpu);  // no-op
  Tensor x = randn({3, 4}, g, TensorOptions(DType::f64));
  CHECK(lin.forward(x).dtype() == DType::f64);
}

TEST_CASE("initialisers: statistics within sampling tolerance") {
  Generator g(7);
  SUBCASE("dcgan_init") {
    Sequential model{std::make_shared<ConvTranspose2d>(64, 128, 4, Conv2dOptions(), g), std::make_shared<BatchNorm2d>(512),
                     std::make_shared<Conv2d>(128, 64, 4, Conv2dOptions(), g)};
    init::dcgan_init(model, g);
    // n = 131072 samples: the std estimate's relative error is ~ 1/sqrt(2n) = 0.2%; allow 2%.
    for (size_t i : {0u, 2u}) {
      Tensor w = model.named_parameters()[i == 0 ? 0 : 4].second;
      Moments m = moments_of(w);
      CHECK(m.std == doctest::Approx(0.02).epsilon(0.02));
      CHECK(std::abs(m.mean) < 4 * 0.02 / std::sqrt(static_cast<double>(w.numel())));
    }
    auto bn = model.at<BatchNorm2d>(1);
    Moments mw = moments_of(bn->weight);  // n = 512: std estimate within ~3%, allow 15%
    CHECK(mw.mean == doctest::Approx(1.0).epsilon(4 * 0.02 / std::sqrt(512.0)));
    CHECK(mw.std == doctest::Approx(0.02).epsilon(0.15));
    CHECK(moments_of(bn->bias).max == 0.0);
    CHECK(moments_of(bn->bias).min == 0.0);
  }
  SUBCASE("PyTorch's default init for Linear and Conv2d: U(+-1/sqrt(fan_in))") {
    Conv2d conv(32, 64, 3, Conv2dOptions(), g);  // fan_in = 288
    double bound = 1.0 / std::sqrt(288.0);
    Moments m = moments_of(conv.weight);
    CHECK(m.max <= bound);
    CHECK(m.min >= -bound);
    CHECK(m.max > 0.99 * bound);
    CHECK(m.std == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
    Moments mb = moments_of(conv.bias);
    CHECK(mb.max <= bound);
    CHECK(mb.min >= -bound);
  }
  SUBCASE("kaiming and xavier") {
    Tensor w = Tensor::empty({256, 128, 3, 3});  // fan_in 1152, fan_out 2304
    init::kaiming_normal_(w, 0.0, init::FanMode::fan_in, init::Nonlinearity::relu, g);
    CHECK(moments_of(w).std == doctest::Approx(std::sqrt(2.0 / 1152)).epsilon(0.02));
    init::kaiming_normal_(w, 0.2, init::FanMode::fan_out, init::Nonlinearity::leaky_relu, g);
    CHECK(moments_of(w).std == doctest::Approx(std::sqrt(2.0 / (1 + 0.04)) / std::sqrt(2304.0)).epsilon(0.02));
    init::kaiming_uniform_(w, 0.0, init::FanMode::fan_in, init::Nonlinearity::relu, g);
    CHECK(moments_of(w).max <= std::sqrt(6.0 / 1152));
    CHECK(moments_of(w).std == doctest::Approx(std::sqrt(2.0 / 1152)).epsilon(0.02));
    init::xavier_uniform_(w, 1.0, g);
    CHECK(moments_of(w).max <= std::sqrt(6.0 / (1152 + 2304)));
    CHECK(moments_of(w).std == doctest::Approx(std::sqrt(2.0 / (1152 + 2304))).epsilon(0.02));
    init::xavier_normal_(w, init::calculate_gain(init::Nonlinearity::tanh), g);
    CHECK(moments_of(w).std == doctest::Approx(5.0 / 3.0 * std::sqrt(2.0 / (1152 + 2304))).epsilon(0.02));
    CHECK_THROWS_WITH_AS(init::xavier_uniform_(zeros({5}), 1.0, g), doctest::Contains("at least 2 dims, got shape (5,)"),
                         Error);
  }
}

TEST_CASE("the same seed builds the same weights; another seed does not") {
  auto build = [](uint64_t seed) {
    Generator g(seed);
    auto net = std::make_shared<Net>(8, 3, g);
    init::dcgan_init(*net, g);
    return net;
  };
  auto a = build(123), b = build(123), c = build(124);
  StateDict sa = a->state_dict(), sb = b->state_dict(), sc = c->state_dict();
  for (auto& [name, t] : sa) CHECK_MESSAGE(same_values(t, sb.at(name)), name);
  CHECK_FALSE(same_values(sa.at("features.0.weight"), sc.at("features.0.weight")));
  CHECK_FALSE(same_values(sa.at("classifier.1.weight"), sc.at("classifier.1.weight")));
}

TEST_CASE("layers: output shapes and behaviour") {
  Generator g(8);
  Tensor x = randn({2, 3, 9, 7}, g);
  SUBCASE("Linear computes x W^T + b") {
    Linear lin(3, 2, true, g);
    Tensor in = randn({4, 3}, g);
    auto y = lin.forward(in).to_vector<double>();
    auto iv = in.to_vector<double>(), wv = lin.weight.to_vector<double>(), bv = lin.bias.to_vector<double>();
    for (int r = 0; r < 4; ++r)
      for (int o = 0; o < 2; ++o) {
        double ref = bv[o];
        for (int k = 0; k < 3; ++k) ref += iv[r * 3 + k] * wv[o * 3 + k];
        CHECK(y[r * 2 + o] == doctest::Approx(ref).epsilon(1e-5));
      }
    CHECK_THROWS_WITH_AS(lin.forward(randn({4, 5}, g)), doctest::Contains("Linear: expected input (..., 3), got shape (4, 5)"),
                         Error);
  }
  SUBCASE("Conv2d with stride, padding, dilation, reflection, no bias") {
    Conv2d c1(3, 5, 3, Conv2dOptions().stride(2).padding(1), g);
    CHECK(c1.forward(x).shape() == Shape{2, 5, 5, 4});
    Conv2d c2(3, 4, {3, 1}, Conv2dOptions().dilation(2).bias(false), g);
    CHECK(c2.forward(x).shape() == Shape{2, 4, 5, 7});
    CHECK(c2.named_parameters().size() == 1);
    Conv2d c3(3, 2, 3, Conv2dOptions().padding(1).padding_mode(PaddingMode::reflect), g);
    CHECK(c3.forward(x).shape() == Shape{2, 2, 9, 7});
    CHECK_THROWS_WITH_AS(c1.forward(randn({2, 4, 9, 7}, g)), doctest::Contains("Conv2d: expected 3 input channels"), Error);
    CHECK_THROWS_WITH_AS(Conv2d(3, 5, 0), doctest::Contains("'kernel_size' must be >= 1, got (0, 0)"), Error);
  }
  SUBCASE("ConvTranspose2d doubles the size like DCGAN's generator; output_padding adds one") {
    ConvTranspose2d up(3, 6, 4, Conv2dOptions().stride(2).padding(1), g);
    CHECK(up.weight.shape() == Shape{3, 6, 4, 4});
    CHECK(up.forward(x).shape() == Shape{2, 6, 18, 14});
    ConvTranspose2d up2(3, 2, 3, Conv2dOptions().stride(2).padding(1).output_padding(1), g);
    CHECK(up2.forward(x).shape() == Shape{2, 2, 18, 14});
    CHECK_THROWS_WITH_AS(ConvTranspose2d(3, 2, 3, Conv2dOptions().output_padding(1)),
                         doctest::Contains("'output_padding' (1, 1) must be smaller than stride or dilation"), Error);
  }
  SUBCASE("norm layers") {
    InstanceNorm2d in(3);
    CHECK(in.named_parameters().empty());
    CHECK(same_values(in.forward(x), instance_norm(x, Tensor(), Tensor())));
    InstanceNorm2d in_affine(3, 1e-5, true);
    CHECK(in_affine.named_parameters().size() == 2);
    LayerNorm ln({9, 7});
    CHECK(ln.weight.shape() == Shape{9, 7});
    CHECK(same_values(ln.forward(x), layer_norm(x, {9, 7}, Tensor(), Tensor())));
  }
  SUBCASE("activations, flatten, dropout") {
    CHECK(moments_of(ReLU().forward(x)).min == 0.0);
    CHECK(moments_of(Tanh().forward(x)).max < 1.0);
    CHECK(moments_of(Sigmoid().forward(x)).min > 0.0);
    Tensor lr = LeakyReLU(0.1).forward(from_vector(std::vector<float>{-2, 3}, {2}));
    CHECK(lr.to_vector<float>()[0] == doctest::Approx(-0.2));
    CHECK(Flatten().forward(x).shape() == Shape{2, 63 * 3});
    Dropout drop(0.25, 99);
    Tensor big = ones({4000});
    auto kept = drop.forward(big).to_vector<float>();
    int zeros_count = 0;
    for (float v : kept) {
      if (v == 0.0f) ++zeros_count;
      else CHECK(v == doctest::Approx(1.0 / 0.75));
    }
    CHECK(zeros_count > 900);  // 1000 expected, std ~27
    CHECK(zeros_count < 1100);
    drop.eval();
    CHECK(same_values(drop.forward(big), big));
  }
  SUBCASE("pooling and upsampling") {
    CHECK(MaxPool2d(2).forward(x).shape() == Shape{2, 3, 4, 3});
    CHECK(AvgPool2d(3, 2, 1).forward(x).shape() == Shape{2, 3, 5, 4});
    CHECK(Upsample(2.0).forward(x).shape() == Shape{2, 3, 18, 14});
    CHECK(Upsample(2.0, UpsampleMode::bilinear).forward(x).shape() == Shape{2, 3, 18, 14});
  }
}
