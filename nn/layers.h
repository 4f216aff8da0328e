/*
 * layers.h: the layers gesso's models are built from, each a Module with
 * PyTorch's parameter names, shapes and default initialisation, so that
 * weights convert one to one.
 *
 *   Linear           weight (out, in), bias (out)
 *   Conv2d           weight (C_out, C_in, kH, kW), bias (C_out)
 *   ConvTranspose2d  weight (C_in, C_out, kH, kW), bias (C_out)
 *   BatchNorm2d      weight, bias (C); buffers running_mean, running_var,
 *                    num_batches_tracked (a float scalar, exact to 2^24 in float32)
 *   InstanceNorm2d   weight, bias (C) when affine
 *   LayerNorm        weight, bias (normalized_shape) when elementwise_affine
 *   ReLU, LeakyReLU, Tanh, Sigmoid, Dropout, MaxPool2d, AvgPool2d, Upsample,
 *   Flatten          no parameters
 *   Sequential       children named "0", "1", ... (or given names)
 *
 * Default initialisation (PyTorch's): Linear and convolution weights
 * kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); norm weights 1, biases 0.
 * Random draws come from the Generator given to the constructor, in
 * construction order, so the same seed builds the same model.
 */
#pragma once
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/module.h"

namespace gesso::nn {

// A pair of sizes (height, width) that an int converts to: 3 -> (3, 3).
struct Size2 {
  int h = 0, w = 0;
  Size2(int s) : h(s), w(s) {}  // NOLINT: lets Conv2d(3, 8, 3) read naturally
  Size2(int h_, int w_) : h(h_), w(w_) {}
};

// Options of Conv2d and ConvTranspose2d, chained: Conv2dOptions().stride(2).padding(1).
// Taken by const reference: GCC 12 with AVX-512 (-march=native) was seen
// miscompiling this struct passed by value (a wrong vector constant stored
// into the argument area set output_padding along with padding).
struct Conv2dOptions {
  Conv2dOptions& stride(Size2 s) { stride_ = s; return *this; }
  Conv2dOptions& padding(Size2 p) { padding_ = p; return *this; }
  Conv2dOptions& dilation(Size2 d) { dilation_ = d; return *this; }
  Conv2dOptions& padding_mode(PaddingMode m) { padding_mode_ = m; return *this; }
  Conv2dOptions& bias(bool b) { bias_ = b; return *this; }
  Conv2dOptions& output_padding(Size2 p) { output_padding_ = p; return *this; }  // ConvTranspose2d only

  Size2 stride_ = 1, padding_ = 0, dilation_ = 1, output_padding_ = 0;
  PaddingMode padding_mode_ = PaddingMode::zeros;
  bool bias_ = true;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator());
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when disabled
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const Conv2dOptions& options = {},
         Generator& gen = default_generator());
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Conv2dParams params() const;
  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, const Conv2dOptions& options = {},
                  Generator& gen = default_generator());
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Conv2dParams params() const;
  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true);
  std::string type_name() const override { return "BatchNorm2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  int64_t num_features;
  double eps, momentum;
  bool affine, track_running_stats;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

class InstanceNorm2d : public Module {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, bool affine = false);
  std::string type_name() const override { return "InstanceNorm2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  int64_t num_features;
  double eps;
  bool affine;
  Tensor weight, bias;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;
};

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override { return gesso::relu(x); }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return gesso::leaky_relu(x, negative_slope); }
  double negative_slope;
};

class Tanh : public Module {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override { return gesso::tanh(x); }
};

class Sigmoid : public Module {
 public:
  std::string type_name() const override { return "Sigmoid"; }
  Tensor forward(const Tensor& x) override { return gesso::sigmoid(x); }
};

// Draws its masks from its own generator, so that a model's dropout noise
// does not shift the stream that initialises weights or samples latents.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return gesso::dropout(x, p, is_training(), generator); }
  double p;
  Generator generator;
};

class MaxPool2d : public Module {
 public:
  // stride 0 means stride = kernel_size, as PyTorch's default.
  explicit MaxPool2d(int kernel_size, int stride = 0, int padding = 0);
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return gesso::max_pool2d(x, kernel_size, stride, padding); }
  int kernel_size, stride, padding;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel_size, int stride = 0, int padding = 0);
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return gesso::avg_pool2d(x, kernel_size, stride, padding); }
  int kernel_size, stride, padding;
};

// Scales H and W by scale_factor (the output size is floor(size * scale)).
class Upsample : public Module {
 public:
  explicit Upsample(double scale_factor, UpsampleMode mode = UpsampleMode::nearest, bool align_corners = false);
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  double scale_factor;
  UpsampleMode mode;
  bool align_corners;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  int64_t start_dim, end_dim;
};

// Runs its children in order. Children added without a name are named by
// their position ("0", "1", ...), as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  Sequential& push_back(std::shared_ptr<Module> module);
  Sequential& push_back(const std::string& name, std::shared_ptr<Module> module);
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const;
  // The i-th child as its concrete type; throws if it is another type.
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    GESSO_CHECK(m != nullptr, "Sequential::at: child ", i, " is a ", (*this)[i]->type_name(),
                ", not the type asked for");
    return m;
  }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace gesso::nn
