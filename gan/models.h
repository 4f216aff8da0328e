/*
 * models.h: the DCGAN family (Radford et al., 2016) at 28, 32, 64 and 128
 * pixels, spectral normalisation, and an exponential moving average of the
 * generator's weights.
 *
 * With base = 7 for 28 px and 4 otherwise, and n = log2(size / base)
 * stride-2 stages (2 for 28, 3 for 32, 4 for 64, 5 for 128):
 *
 *   generator      z (N, latent) -> (N, latent, 1, 1)
 *                  ConvT(latent, g*2^(n-1), base, 1, 0) BN ReLU          -> base x base
 *                  n-1 x ConvT(c, c/2, 4, 2, 1) BN ReLU                  -> doubling
 *                  ConvT(g, channels, 4, 2, 1) Tanh                      -> size x size, in [-1, 1]
 *   discriminator  Conv(channels, d, 4, 2, 1) LeakyReLU(0.2)
 *                  n-1 x Conv(c, 2c, 4, 2, 1) [BN] LeakyReLU(0.2)
 *                  Conv(d*2^(n-1), 1, base, 1, 0)                        -> (N) logits
 *
 * so the 64 px model with widths 64 is exactly the DCGAN paper's (512 ->
 * 256 -> 128 -> 64 channels). The layers sit in a Sequential named "main"
 * (tensor names "main.0.weight", ...). Weights start as in the paper:
 * convolutions N(0, 0.02), batch-norm scales N(1, 0.02), biases 0.
 *
 * The discriminator's normalisation: "batch" (DCGAN), "none" (what WGAN-GP
 * needs: its penalty is per sample, which batch statistics would mix), and
 * spectral norm (Miyato et al., 2018) on every convolution, optionally with
 * either.
 */
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/layers.h"
#include "nn/module.h"

namespace gesso::gan {

struct ModelConfig {
  int image_size = 28;  // 28, 32, 64 or 128
  int channels = 1;     // 1 or 3
  int latent = 100;     // z dimensions
  int g_width = 64;     // generator channels at the last stage before the image
  int d_width = 64;     // discriminator channels at its first stage
  std::string d_norm = "batch";  // "batch" or "none"
  bool spectral_norm = false;

  void validate() const;  // throws naming the field
  nlohmann::json to_json() const;
  static ModelConfig from_json(const nlohmann::json& j);  // throws naming a missing / bad field
  // Empty when equal; else one line naming the first field that differs (a vs b).
  std::string difference(const ModelConfig& other) const;
};

// Number of stride-2 stages and the first feature map's side (see above).
int num_stages(int image_size);
int base_side(int image_size);

// Divides a Conv2d's or Linear's weight by its largest singular value,
// estimated by one power iteration per forward in training mode (Miyato et
// al.). Tensors: "weight_orig" (the trained parameter), "bias", and buffers
// "weight_u" (C_out) and "weight_v" (C_in * kH * kW), PyTorch's names. The
// estimate sigma = u^T W v is differentiated through W (u and v are held
// constant), so the gradient sees the normalisation.
class SpectralNorm : public nn::Module {
 public:
  // Wraps a Conv2d or a Linear; u and v start as normalised Philox normals from `gen`.
  SpectralNorm(std::shared_ptr<nn::Module> layer, Generator& gen, int power_iterations = 1, double eps = 1e-12);
  std::string type_name() const override { return "SpectralNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  // W / sigma; updates u and v first when `update` (training mode does).
  Tensor normalized_weight(bool update);
  Tensor weight_orig, bias, weight_u, weight_v;

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::Linear> linear_;
  int power_iterations_;
  double eps_;
};

class DcganGenerator : public nn::Module {
 public:
  DcganGenerator(const ModelConfig& config, Generator& gen);
  std::string type_name() const override { return "DcganGenerator"; }
  // z (N, latent) -> images (N, channels, size, size) in [-1, 1].
  Tensor forward(const Tensor& z) override;
  ModelConfig config;
  std::shared_ptr<nn::Sequential> main;
};

class DcganDiscriminator : public nn::Module {
 public:
  DcganDiscriminator(const ModelConfig& config, Generator& gen);
  std::string type_name() const override { return "DcganDiscriminator"; }
  // images (N, channels, size, size) -> logits (N).
  Tensor forward(const Tensor& x) override;
  ModelConfig config;
  std::shared_ptr<nn::Sequential> main;
};

// An exponential moving average of a module's parameters (and its
// batch-norm running statistics): ema = d * ema + (1 - d) * p after each
// update, with d = beta, or, when the number of updates so far n is given,
// d = min(beta, (1 + n) / (10 + n)): a warm-up, so that a short run's average
// is not still its random initialisation (beta 0.999 alone needs thousands of
// steps to forget it). Its state_dict() has the module's names, so loading it
// into a fresh module of the same shape gives the averaged model.
class Ema {
 public:
  Ema(const nn::Module& module, double beta);
  void update(const nn::Module& module, int64_t num_updates = -1);
  const nn::StateDict& state_dict() const { return average_; }
  // Checks names and shapes against the module's, then copies.
  void load_state_dict(const nn::StateDict& state);
  double beta() const { return beta_; }

 private:
  double beta_;
  nn::StateDict average_;
};

}  // namespace gesso::gan
