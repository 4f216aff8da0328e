/*
 * layers.cpp: constructors (parameters, buffers, default initialisation),
 * forwards and one-line descriptions of the layers in nn/layers.h.
 */
#include "nn/layers.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "nn/init.h"

namespace gesso::nn {

namespace {

std::string size2_str(Size2 s) { return str("(", s.h, ", ", s.w, ")"); }

void check_positive(int64_t v, const char* layer, const char* arg) {
  GESSO_CHECK(v > 0, layer, ": '", arg, "' must be > 0, got ", v);
}

void check_size2(Size2 s, int min, const char* layer, const char* arg) {
  GESSO_CHECK(s.h >= min && s.w >= min, layer, ": '", arg, "' must be >= ", min, ", got ", size2_str(s));
}

// The (N, C, H, W) check every image layer starts with.
void check_image(const Tensor& x, int64_t channels, const char* layer) {
  GESSO_CHECK(x.defined(), layer, ": the input is undefined");
  GESSO_CHECK(x.dim() == 4, layer, ": expected a 4-d input (N, C, H, W), got shape ", x.shape());
  GESSO_CHECK(channels < 0 || x.size(1) == channels, layer, ": expected ", channels,
              " input channels, got input shape ", x.shape());
}

}  // namespace

// ---- Linear

Linear::Linear(int64_t in_features_, int64_t out_features_, bool with_bias, Generator& gen)
    : in_features(in_features_), out_features(out_features_) {
  check_positive(in_features, "Linear", "in_features");
  check_positive(out_features, "Linear", "out_features");
  weight = register_parameter("weight", Tensor::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", Tensor::empty({out_features}));
  init::default_linear_init_(weight, bias, gen);
}

std::string Linear::extra_repr() const {
  return str("in_features=", in_features, ", out_features=", out_features, ", bias=", bias.defined() ? "true" : "false");
}

Tensor Linear::forward(const Tensor& x) {
  GESSO_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features, "Linear: expected input (..., ", in_features,
              "), got shape ", x.defined() ? x.shape() : Shape{});
  return linear(x, weight, bias);
}

// ---- Conv2d

Conv2d::Conv2d(int64_t in_channels_, int64_t out_channels_, Size2 kernel_size_, const Conv2dOptions& options_,
               Generator& gen)
    : in_channels(in_channels_), out_channels(out_channels_), kernel_size(kernel_size_), options(options_) {
  check_positive(in_channels, "Conv2d", "in_channels");
  check_positive(out_channels, "Conv2d", "out_channels");
  check_size2(kernel_size, 1, "Conv2d", "kernel_size");
  check_size2(options.stride_, 1, "Conv2d", "stride");
  check_size2(options.padding_, 0, "Conv2d", "padding");
  check_size2(options.dilation_, 1, "Conv2d", "dilation");
  GESSO_CHECK(options.output_padding_.h == 0 && options.output_padding_.w == 0,
              "Conv2d: 'output_padding' is an option of ConvTranspose2d only");
  weight = register_parameter("weight", Tensor::empty({out_channels, in_channels, kernel_size.h, kernel_size.w}));
  if (options.bias_) bias = register_parameter("bias", Tensor::empty({out_channels}));
  init::default_linear_init_(weight, bias, gen);
}

Conv2dParams Conv2d::params() const {
  Conv2dParams p;
  p.stride_h = options.stride_.h;
  p.stride_w = options.stride_.w;
  p.pad_h = options.padding_.h;
  p.pad_w = options.padding_.w;
  p.dilation_h = options.dilation_.h;
  p.dilation_w = options.dilation_.w;
  p.padding_mode = options.padding_mode_;
  return p;
}

std::string Conv2d::extra_repr() const {
  std::string s = str(in_channels, ", ", out_channels, ", kernel_size=", size2_str(kernel_size),
                      ", stride=", size2_str(options.stride_));
  if (options.padding_.h || options.padding_.w) s += ", padding=" + size2_str(options.padding_);
  if (options.dilation_.h != 1 || options.dilation_.w != 1) s += ", dilation=" + size2_str(options.dilation_);
  if (options.padding_mode_ == PaddingMode::reflect) s += ", padding_mode=reflect";
  if (!bias.defined()) s += ", bias=false";
  return s;
}

Tensor Conv2d::forward(const Tensor& x) {
  check_image(x, in_channels, "Conv2d");
  return conv2d(x, weight, bias, params());
}

// ---- ConvTranspose2d

ConvTranspose2d::ConvTranspose2d(int64_t in_channels_, int64_t out_channels_, Size2 kernel_size_,
                                 const Conv2dOptions& options_, Generator& gen)
    : in_channels(in_channels_), out_channels(out_channels_), kernel_size(kernel_size_), options(options_) {
  check_positive(in_channels, "ConvTranspose2d", "in_channels");
  check_positive(out_channels, "ConvTranspose2d", "out_channels");
  check_size2(kernel_size, 1, "ConvTranspose2d", "kernel_size");
  check_size2(options.stride_, 1, "ConvTranspose2d", "stride");
  check_size2(options.padding_, 0, "ConvTranspose2d", "padding");
  check_size2(options.dilation_, 1, "ConvTranspose2d", "dilation");
  check_size2(options.output_padding_, 0, "ConvTranspose2d", "output_padding");
  GESSO_CHECK(options.output_padding_.h < std::max(options.stride_.h, options.dilation_.h) &&
                  options.output_padding_.w < std::max(options.stride_.w, options.dilation_.w),
              "ConvTranspose2d: 'output_padding' ", size2_str(options.output_padding_),
              " must be smaller than stride or dilation (stride ", size2_str(options.stride_), ", dilation ",
              size2_str(options.dilation_), ")");
  GESSO_CHECK(options.padding_mode_ == PaddingMode::zeros,
              "ConvTranspose2d: only padding_mode zeros is supported (as in PyTorch)");
  weight = register_parameter("weight", Tensor::empty({in_channels, out_channels, kernel_size.h, kernel_size.w}));
  if (options.bias_) bias = register_parameter("bias", Tensor::empty({out_channels}));
  init::default_linear_init_(weight, bias, gen);
}

Conv2dParams ConvTranspose2d::params() const {
  Conv2dParams p;
  p.stride_h = options.stride_.h;
  p.stride_w = options.stride_.w;
  p.pad_h = options.padding_.h;
  p.pad_w = options.padding_.w;
  p.dilation_h = options.dilation_.h;
  p.dilation_w = options.dilation_.w;
  return p;
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = str(in_channels, ", ", out_channels, ", kernel_size=", size2_str(kernel_size),
                      ", stride=", size2_str(options.stride_));
  if (options.padding_.h || options.padding_.w) s += ", padding=" + size2_str(options.padding_);
  if (options.output_padding_.h || options.output_padding_.w)
    s += ", output_padding=" + size2_str(options.output_padding_);
  if (options.dilation_.h != 1 || options.dilation_.w != 1) s += ", dilation=" + size2_str(options.dilation_);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_image(x, in_channels, "ConvTranspose2d");
  return conv_transpose2d(x, weight, bias, params(), options.output_padding_.h, options.output_padding_.w);
}

// ---- BatchNorm2d

BatchNorm2d::BatchNorm2d(int64_t num_features_, double eps_, double momentum_, bool affine_,
                         bool track_running_stats_)
    : num_features(num_features_), eps(eps_), momentum(momentum_), affine(affine_),
      track_running_stats(track_running_stats_) {
  check_positive(num_features, "BatchNorm2d", "num_features");
  GESSO_CHECK(momentum >= 0 && momentum <= 1, "BatchNorm2d: 'momentum' must be in [0, 1], got ", momentum);
  if (affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}));
  }
}

std::string BatchNorm2d::extra_repr() const {
  return str(num_features, ", eps=", eps, ", momentum=", momentum, ", affine=", affine ? "true" : "false",
             ", track_running_stats=", track_running_stats ? "true" : "false");
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  check_image(x, num_features, "BatchNorm2d");
  if (is_training() && track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.fill_(num_batches_tracked.item() + 1);
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

// ---- InstanceNorm2d

InstanceNorm2d::InstanceNorm2d(int64_t num_features_, double eps_, bool affine_)
    : num_features(num_features_), eps(eps_), affine(affine_) {
  check_positive(num_features, "InstanceNorm2d", "num_features");
  if (affine) {
    weight = register_parameter("weight", ones({num_features}));
    bias = register_parameter("bias", zeros({num_features}));
  }
}

std::string InstanceNorm2d::extra_repr() const {
  return str(num_features, ", eps=", eps, ", affine=", affine ? "true" : "false");
}

Tensor InstanceNorm2d::forward(const Tensor& x) {
  check_image(x, num_features, "InstanceNorm2d");
  return instance_norm(x, weight, bias, eps);
}

// ---- LayerNorm

LayerNorm::LayerNorm(Shape normalized_shape_, double eps_, bool elementwise_affine_)
    : normalized_shape(std::move(normalized_shape_)), eps(eps_), elementwise_affine(elementwise_affine_) {
  GESSO_CHECK(!normalized_shape.empty(), "LayerNorm: 'normalized_shape' must name at least one dim");
  for (int64_t s : normalized_shape)
    GESSO_CHECK(s > 0, "LayerNorm: 'normalized_shape' sizes must be > 0, got ", normalized_shape);
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

std::string LayerNorm::extra_repr() const {
  return str(shape_str(normalized_shape), ", eps=", eps, ", elementwise_affine=", elementwise_affine ? "true" : "false");
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

// ---- parameter-free layers

std::string LeakyReLU::extra_repr() const { return str("negative_slope=", negative_slope); }

Dropout::Dropout(double p_, uint64_t seed) : p(p_), generator(seed) {
  GESSO_CHECK(p >= 0 && p < 1, "Dropout: 'p' must be in [0, 1), got ", p);
}
std::string Dropout::extra_repr() const { return str("p=", p); }

MaxPool2d::MaxPool2d(int kernel_size_, int stride_, int padding_)
    : kernel_size(kernel_size_), stride(stride_ == 0 ? kernel_size_ : stride_), padding(padding_) {
  check_positive(kernel_size, "MaxPool2d", "kernel_size");
  check_positive(stride, "MaxPool2d", "stride");
  GESSO_CHECK(padding >= 0 && 2 * padding <= kernel_size, "MaxPool2d: 'padding' must be in [0, kernel_size / 2], got ",
              padding);
}
std::string MaxPool2d::extra_repr() const {
  return str("kernel_size=", kernel_size, ", stride=", stride, ", padding=", padding);
}

AvgPool2d::AvgPool2d(int kernel_size_, int stride_, int padding_)
    : kernel_size(kernel_size_), stride(stride_ == 0 ? kernel_size_ : stride_), padding(padding_) {
  check_positive(kernel_size, "AvgPool2d", "kernel_size");
  check_positive(stride, "AvgPool2d", "stride");
  GESSO_CHECK(padding >= 0 && 2 * padding <= kernel_size, "AvgPool2d: 'padding' must be in [0, kernel_size / 2], got ",
              padding);
}
std::string AvgPool2d::extra_repr() const {
  return str("kernel_size=", kernel_size, ", stride=", stride, ", padding=", padding);
}

Upsample::Upsample(double scale_factor_, UpsampleMode mode_, bool align_corners_)
    : scale_factor(scale_factor_), mode(mode_), align_corners(align_corners_) {
  GESSO_CHECK(scale_factor > 0, "Upsample: 'scale_factor' must be > 0, got ", scale_factor);
  GESSO_CHECK(!align_corners || mode == UpsampleMode::bilinear,
              "Upsample: 'align_corners' only applies to bilinear mode");
}
std::string Upsample::extra_repr() const {
  return str("scale_factor=", scale_factor, ", mode=", mode == UpsampleMode::nearest ? "nearest" : "bilinear");
}
Tensor Upsample::forward(const Tensor& x) {
  check_image(x, -1, "Upsample");
  int out_h = static_cast<int>(std::floor(static_cast<double>(x.size(2)) * scale_factor));
  int out_w = static_cast<int>(std::floor(static_cast<double>(x.size(3)) * scale_factor));
  GESSO_CHECK(out_h > 0 && out_w > 0, "Upsample: scale_factor ", scale_factor, " gives an empty output for input shape ",
              x.shape());
  return upsample2d(x, out_h, out_w, mode, align_corners);
}

std::string Flatten::extra_repr() const { return str("start_dim=", start_dim, ", end_dim=", end_dim); }

// ---- Sequential

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

Sequential& Sequential::push_back(std::shared_ptr<Module> module) {
  return push_back(std::to_string(modules_.size()), std::move(module));
}

Sequential& Sequential::push_back(const std::string& name, std::shared_ptr<Module> module) {
  register_module(name, module);
  modules_.push_back(std::move(module));
  return *this;
}

const std::shared_ptr<Module>& Sequential::operator[](size_t i) const {
  GESSO_CHECK(i < modules_.size(), "Sequential: index ", i, " out of range (", modules_.size(), " modules)");
  return modules_[i];
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& m : modules_) h = m->forward(h);
  return h;
}

}  // namespace gesso::nn
