/*
 * init.h: weight initialisers, in place on a tensor's storage (outside
 * autograd), every random one drawing from a Generator (Philox), so that the
 * same seed gives the same weights on every device.
 *
 * Fans follow PyTorch: for a weight of shape (d0, d1, k...) the receptive
 * field is prod(k...), fan_in = d1 * receptive, fan_out = d0 * receptive.
 * (For ConvTranspose2d's (C_in, C_out, kH, kW) this makes fan_in use C_out,
 * exactly as PyTorch does, so converted models start alike.)
 *
 *   xavier_uniform_   U(-a, a),  a = gain * sqrt(6 / (fan_in + fan_out))
 *   xavier_normal_    N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
 *   kaiming_uniform_  U(-b, b),  b = gain * sqrt(3 / fan)
 *   kaiming_normal_   N(0, s^2), s = gain / sqrt(fan)
 * with fan = fan_in or fan_out (mode) and gain = calculate_gain(nonlinearity, a).
 */
#pragma once
#include <cstdint>
#include <utility>

#include "nn/module.h"
#include "tensor/tensor.h"

namespace gesso::nn::init {

enum class FanMode { fan_in, fan_out };
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu };

// 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu,
// sqrt(2 / (1 + slope^2)) for leaky_relu (slope = param).
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);
// (fan_in, fan_out) of a weight with at least 2 dims.
std::pair<int64_t, int64_t> fans(const Tensor& weight);

Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0, Generator& gen = default_generator());
Tensor uniform_(const Tensor& t, double lo = 0.0, double hi = 1.0, Generator& gen = default_generator());
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());
Tensor xavier_normal_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());
// `a` is the negative slope used by the gain when nonlinearity is leaky_relu.
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator());
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                       Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator& gen = default_generator());

// PyTorch's default for Linear and convolutions: weight kaiming_uniform_
// with a = sqrt(5) (= U(+-1/sqrt(fan_in))), bias U(+-1/sqrt(fan_in)).
void default_linear_init_(const Tensor& weight, const Tensor& bias, Generator& gen = default_generator());

// The DCGAN paper's initialisation over a whole model: every Conv2d and
// ConvTranspose2d weight N(0, 0.02); every BatchNorm2d weight N(1, 0.02)
// and bias 0. Other tensors are left as they are.
void dcgan_init(Module& model, Generator& gen = default_generator());

}  // namespace gesso::nn::init
