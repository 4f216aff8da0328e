/*
 * init.cpp: the initialisers of nn/init.h. Values are drawn on the CPU from
 * the Philox stream and copied into the tensor (any device, any dtype).
 */
#include "nn/init.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "nn/layers.h"

namespace gesso::nn::init {

namespace {

void check_target(const Tensor& t, const char* what) {
  GESSO_CHECK(t.defined(), "init::", what, ": the tensor is undefined");
  GESSO_CHECK(t.is_contiguous(), "init::", what, ": the tensor must be contiguous, got strides ", t.strides());
}

double fan_of(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = fans(t);
  return static_cast<double>(mode == FanMode::fan_in ? fan_in : fan_out);
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::conv:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
  }
  return 1.0;
}

std::pair<int64_t, int64_t> fans(const Tensor& weight) {
  GESSO_CHECK(weight.defined() && weight.dim() >= 2, "init::fans: fan in and fan out need a weight with at least 2 dims, got shape ",
              weight.defined() ? weight.shape() : Shape{});
  int64_t receptive = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) receptive *= weight.size(d);
  return {weight.size(1) * receptive, weight.size(0) * receptive};
}

Tensor normal_(const Tensor& t, double mean, double std, Generator& gen) {
  check_target(t, "normal_");
  GESSO_CHECK(std >= 0, "init::normal_: 'std' must be >= 0, got ", std);
  NoGradGuard no_grad;
  Tensor r = randn(t.shape(), gen, TensorOptions(t.dtype()), mean, std);
  Tensor dst = t;
  dst.copy_(r);
  return t;
}

Tensor uniform_(const Tensor& t, double lo, double hi, Generator& gen) {
  check_target(t, "uniform_");
  GESSO_CHECK(lo <= hi, "init::uniform_: 'lo' (", lo, ") must be <= 'hi' (", hi, ")");
  NoGradGuard no_grad;
  Tensor r = rand(t.shape(), gen, TensorOptions(t.dtype()), lo, hi);
  Tensor dst = t;
  dst.copy_(r);
  return t;
}

Tensor constant_(const Tensor& t, double value) {
  check_target(t, "constant_");
  NoGradGuard no_grad;
  Tensor dst = t;
  if (t.device() == Device::cuda) dst.copy_(full(t.shape(), value, TensorOptions(t.dtype())));
  else dst.fill_(value);
  return t;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor xavier_uniform_(const Tensor& t, double gain, Generator& gen) {
  auto [fan_in, fan_out] = fans(t);
  double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -a, a, gen);
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator& gen) {
  auto [fan_in, fan_out] = fans(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
  double fan = fan_of(t, mode);
  GESSO_CHECK(fan > 0, "init::kaiming_uniform_: zero fan for shape ", t.shape());
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan);
  return uniform_(t, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
  double fan = fan_of(t, mode);
  GESSO_CHECK(fan > 0, "init::kaiming_normal_: zero fan for shape ", t.shape());
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan), gen);
}

void default_linear_init_(const Tensor& weight, const Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), FanMode::fan_in, Nonlinearity::leaky_relu, gen);
  if (bias.defined()) {
    double fan_in = static_cast<double>(fans(weight).first);
    double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    uniform_(bias, -bound, bound, gen);
  }
}

void dcgan_init(Module& model, Generator& gen) {
  for (auto& [name, m] : model.named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(m)) {
      normal_(conv->weight, 0.0, 0.02, gen);
    } else if (auto* deconv = dynamic_cast<ConvTranspose2d*>(m)) {
      normal_(deconv->weight, 0.0, 0.02, gen);
    } else if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      if (bn->weight.defined()) normal_(bn->weight, 1.0, 0.02, gen);
      if (bn->bias.defined()) zeros_(bn->bias);
    }
  }
}

}  // namespace gesso::nn::init
