/*
 * models.cpp: DCGAN generator and discriminator, spectral norm, weight EMA
 * (layouts and formulas in models.h).
 */
#include "gan/models.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"

namespace gesso::gan {

// ---- ModelConfig

namespace {

bool known_size(int s) { return s == 28 || s == 32 || s == 64 || s == 128; }

}  // namespace

int num_stages(int image_size) {
  GESSO_CHECK(known_size(image_size), "DCGAN: image size must be 28, 32, 64 or 128, got ", image_size);
  switch (image_size) {
    case 28: return 2;
    case 32: return 3;
    case 64: return 4;
    default: return 5;
  }
}

int base_side(int image_size) {
  GESSO_CHECK(known_size(image_size), "DCGAN: image size must be 28, 32, 64 or 128, got ", image_size);
  return image_size == 28 ? 7 : 4;
}

void ModelConfig::validate() const {
  GESSO_CHECK(known_size(image_size), "model config: 'image_size' must be 28, 32, 64 or 128, got ", image_size);
  GESSO_CHECK(channels == 1 || channels == 3, "model config: 'channels' must be 1 or 3, got ", channels);
  GESSO_CHECK(latent >= 1 && latent <= 4096, "model config: 'latent' must be in [1, 4096], got ", latent);
  GESSO_CHECK(g_width >= 1 && g_width <= 1024, "model config: 'g_width' must be in [1, 1024], got ", g_width);
  GESSO_CHECK(d_width >= 1 && d_width <= 1024, "model config: 'd_width' must be in [1, 1024], got ", d_width);
  GESSO_CHECK(d_norm == "batch" || d_norm == "none", "model config: 'd_norm' must be \"batch\" or \"none\", got \"",
              d_norm, "\"");
}

nlohmann::json ModelConfig::to_json() const {
  return {{"image_size", image_size}, {"channels", channels}, {"latent", latent},       {"g_width", g_width},
          {"d_width", d_width},       {"d_norm", d_norm},     {"spectral_norm", spectral_norm}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  GESSO_CHECK(j.is_object(), "model config: expected a JSON object, got ", j.dump());
  ModelConfig c;
  auto get_int = [&](const char* key, int& field) {
    GESSO_CHECK(j.contains(key) && j[key].is_number_integer(), "model config: '", key,
                "' is missing or not an integer in ", j.dump());
    field = j[key].get<int>();
  };
  get_int("image_size", c.image_size);
  get_int("channels", c.channels);
  get_int("latent", c.latent);
  get_int("g_width", c.g_width);
  get_int("d_width", c.d_width);
  GESSO_CHECK(j.contains("d_norm") && j["d_norm"].is_string(), "model config: 'd_norm' is missing in ", j.dump());
  c.d_norm = j["d_norm"].get<std::string>();
  GESSO_CHECK(j.contains("spectral_norm") && j["spectral_norm"].is_boolean(),
              "model config: 'spectral_norm' is missing in ", j.dump());
  c.spectral_norm = j["spectral_norm"].get<bool>();
  c.validate();
  return c;
}

std::string ModelConfig::difference(const ModelConfig& o) const {
  if (image_size != o.image_size) return str("image size ", image_size, " vs ", o.image_size);
  if (channels != o.channels) return str("channels ", channels, " vs ", o.channels);
  if (latent != o.latent) return str("latent size ", latent, " vs ", o.latent);
  if (g_width != o.g_width) return str("generator width ", g_width, " vs ", o.g_width);
  if (d_width != o.d_width) return str("discriminator width ", d_width, " vs ", o.d_width);
  if (d_norm != o.d_norm) return str("discriminator norm ", d_norm, " vs ", o.d_norm);
  if (spectral_norm != o.spectral_norm)
    return str("spectral norm ", spectral_norm ? "on" : "off", " vs ", o.spectral_norm ? "on" : "off");
  return "";
}

// ---- SpectralNorm

namespace {

Tensor l2_normalize(const Tensor& x, double eps) {
  double norm = std::sqrt(sum(mul(x, x)).item());
  return mul(x, 1.0 / std::max(norm, eps));
}

}  // namespace

SpectralNorm::SpectralNorm(std::shared_ptr<nn::Module> layer, Generator& gen, int power_iterations, double eps)
    : power_iterations_(power_iterations), eps_(eps) {
  GESSO_CHECK(layer != nullptr, "SpectralNorm: argument 'layer' is null");
  GESSO_CHECK(power_iterations >= 1, "SpectralNorm: argument 'power_iterations' must be >= 1, got ", power_iterations);
  conv_ = std::dynamic_pointer_cast<nn::Conv2d>(layer);
  linear_ = std::dynamic_pointer_cast<nn::Linear>(layer);
  GESSO_CHECK(conv_ || linear_, "SpectralNorm: wraps a Conv2d or a Linear, got a ", layer->type_name());
  Tensor w = conv_ ? conv_->weight : linear_->weight;
  Tensor b = conv_ ? conv_->bias : linear_->bias;
  const int64_t rows = w.size(0), cols = w.numel() / rows;
  weight_orig = register_parameter("weight_orig", w);
  if (b.defined()) bias = register_parameter("bias", b);
  TensorOptions opt = TensorOptions(w.dtype()).with(w.device());
  NoGradGuard ng;
  Tensor u = l2_normalize(randn({rows}, gen, opt), eps);
  Tensor v = l2_normalize(randn({cols}, gen, opt), eps);
  weight_u = register_buffer("weight_u", u);
  weight_v = register_buffer("weight_v", v);
}

std::string SpectralNorm::extra_repr() const {
  return str(conv_ ? "Conv2d(" + conv_->extra_repr() + ")" : "Linear(" + linear_->extra_repr() + ")",
             ", power_iterations=", power_iterations_);
}

Tensor SpectralNorm::normalized_weight(bool update) {
  const int64_t rows = weight_orig.size(0), cols = weight_orig.numel() / rows;
  Tensor w_mat = weight_orig.reshape({rows, cols});
  if (update) {
    NoGradGuard ng;
    Tensor wd = w_mat.detach();
    Tensor wt = wd.transpose(0, 1).contiguous();
    Tensor u = weight_u, v = weight_v;
    for (int i = 0; i < power_iterations_; ++i) {
      v = l2_normalize(matmul(wt, u.reshape({rows, 1})).reshape({cols}), eps_);
      u = l2_normalize(matmul(wd, v.reshape({cols, 1})).reshape({rows}), eps_);
    }
    weight_u.copy_(u);
    weight_v.copy_(v);
  }
  // Copies: a later forward updates the buffers in place, and this graph's
  // backward must still see the u and v that its sigma was computed with.
  Tensor u = weight_u.detach().clone(), v = weight_v.detach().clone();
  Tensor sigma = sum(mul(u, matmul(w_mat, v.reshape({cols, 1})).reshape({rows})));
  return div(weight_orig, sigma);
}

Tensor SpectralNorm::forward(const Tensor& x) {
  Tensor w = normalized_weight(is_training());
  if (conv_) return conv2d(x, w, bias, conv_->params());
  return linear(x, w, bias);
}

// ---- the DCGAN pair

namespace {

void init_conv_weight(const Tensor& w, const Tensor& b, Generator& gen) {
  nn::init::normal_(w, 0.0, 0.02, gen);
  if (b.defined()) nn::init::zeros_(b);
}

std::shared_ptr<nn::BatchNorm2d> make_batch_norm(int64_t c, Generator& gen) {
  auto bn = std::make_shared<nn::BatchNorm2d>(c);
  nn::init::normal_(bn->weight, 1.0, 0.02, gen);
  nn::init::zeros_(bn->bias);
  return bn;
}

}  // namespace

DcganGenerator::DcganGenerator(const ModelConfig& c, Generator& gen) : config(c) {
  config.validate();
  const int n = num_stages(c.image_size), base = base_side(c.image_size);
  main = register_module("main", std::make_shared<nn::Sequential>());
  int64_t ch = static_cast<int64_t>(c.g_width) << (n - 1);
  auto first = std::make_shared<nn::ConvTranspose2d>(c.latent, ch, base, nn::Conv2dOptions().bias(false), gen);
  init_conv_weight(first->weight, first->bias, gen);
  main->push_back(first);
  main->push_back(make_batch_norm(ch, gen));
  main->push_back(std::make_shared<nn::ReLU>());
  for (int stage = 1; stage < n; ++stage) {
    auto up = std::make_shared<nn::ConvTranspose2d>(ch, ch / 2, 4, nn::Conv2dOptions().stride(2).padding(1).bias(false),
                                                    gen);
    init_conv_weight(up->weight, up->bias, gen);
    main->push_back(up);
    ch /= 2;
    main->push_back(make_batch_norm(ch, gen));
    main->push_back(std::make_shared<nn::ReLU>());
  }
  auto last = std::make_shared<nn::ConvTranspose2d>(ch, c.channels, 4, nn::Conv2dOptions().stride(2).padding(1), gen);
  init_conv_weight(last->weight, last->bias, gen);
  main->push_back(last);
  main->push_back(std::make_shared<nn::Tanh>());
}

Tensor DcganGenerator::forward(const Tensor& z) {
  GESSO_CHECK(z.defined() && z.dim() == 2 && z.size(1) == config.latent, "DcganGenerator: z must be (N, ", config.latent,
              "), got ", z.defined() ? z.shape() : Shape{});
  return main->forward(z.reshape({z.size(0), config.latent, 1, 1}));
}

DcganDiscriminator::DcganDiscriminator(const ModelConfig& c, Generator& gen) : config(c) {
  config.validate();
  const int n = num_stages(c.image_size), base = base_side(c.image_size);
  const bool batch_norm = c.d_norm == "batch";
  main = register_module("main", std::make_shared<nn::Sequential>());
  auto add_conv = [&](int64_t in, int64_t out, int kernel, const nn::Conv2dOptions& opt) {
    auto conv = std::make_shared<nn::Conv2d>(in, out, kernel, opt, gen);
    init_conv_weight(conv->weight, conv->bias, gen);
    if (c.spectral_norm) main->push_back(std::make_shared<SpectralNorm>(conv, gen));
    else main->push_back(conv);
  };
  int64_t ch = c.d_width;
  add_conv(c.channels, ch, 4, nn::Conv2dOptions().stride(2).padding(1));
  main->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  for (int stage = 1; stage < n; ++stage) {
    add_conv(ch, ch * 2, 4, nn::Conv2dOptions().stride(2).padding(1).bias(!batch_norm));
    ch *= 2;
    if (batch_norm) main->push_back(make_batch_norm(ch, gen));
    main->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  }
  add_conv(ch, 1, base, nn::Conv2dOptions());
}

Tensor DcganDiscriminator::forward(const Tensor& x) {
  const int s = config.image_size;
  GESSO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == config.channels && x.size(2) == s && x.size(3) == s,
              "DcganDiscriminator: images must be (N, ", config.channels, ", ", s, ", ", s, "), got ",
              x.defined() ? x.shape() : Shape{});
  return main->forward(x).reshape({x.size(0)});
}

// ---- Ema

namespace {

bool averaged_buffer(const std::string& name) {
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends("running_mean") || ends("running_var");
}

}  // namespace

Ema::Ema(const nn::Module& module, double beta) : beta_(beta) {
  GESSO_CHECK(beta >= 0 && beta < 1, "Ema: argument 'beta' must be in [0, 1), got ", beta);
  NoGradGuard ng;
  for (const auto& [name, t] : module.state_dict()) average_.emplace(name, t.detach().clone());
}

void Ema::update(const nn::Module& module, int64_t num_updates) {
  NoGradGuard ng;
  const double n = static_cast<double>(num_updates);
  const double decay = num_updates < 0 ? beta_ : std::min(beta_, (1 + n) / (10 + n));
  auto blend = [&](Tensor& avg, const Tensor& now) {
    avg.copy_(add(mul(avg, decay), mul(now.detach(), 1.0 - decay)));
  };
  for (const auto& [name, p] : module.named_parameters()) blend(average_.at(name), p);
  for (const auto& [name, b] : module.named_buffers()) {
    Tensor& avg = average_.at(name);
    if (averaged_buffer(name)) blend(avg, b);
    else avg.copy_(b);
  }
}

void Ema::load_state_dict(const nn::StateDict& state) {
  for (const auto& [name, avg] : average_) {
    auto it = state.find(name);
    GESSO_CHECK(it != state.end(), "Ema::load_state_dict: no '", name, "' in the saved average");
    GESSO_CHECK(it->second.shape() == avg.shape(), "Ema::load_state_dict: '", name, "' has shape ",
                it->second.shape(), ", expected ", avg.shape());
  }
  GESSO_CHECK(state.size() == average_.size(), "Ema::load_state_dict: the saved average has ", state.size(),
              " tensors, expected ", average_.size());
  for (auto& [name, avg] : average_) avg.copy_(state.at(name));
}

}  // namespace gesso::gan
