/*
 * transfer.h: Gatys et al.'s neural style transfer, end to end: the image
 * itself is the parameter, optimised so that its features match the
 * content image's (content loss) and its Gram matrices match the style
 * images' (style loss), with a total-variation term for smoothness
 * (losses.h). The controls are those of jcjohnson's neural-style.
 *
 *   sizes        the content is resized so that its longer side is the
 *                stage's size (--image-size, or each of --scales); each
 *                style image so that its longer side is size * style_scale
 *   targets      content features at content_layers; for each style image
 *                the Gram matrices at style_layers (of smoothed activations
 *                when `smoothing` is on), blended by style_blend_weights
 *                (normalised to sum 1)
 *   init         "image": the content (or init_image when given);
 *                "random": white noise, uniform in [0, 1), from `seed`;
 *                stages after the first start from the previous stage's
 *                result, upsampled (coarse to fine)
 *   optimiser    "lbfgs" (strong-Wolfe line search; one "iteration" is one
 *                L-BFGS iteration, which may evaluate the loss more than
 *                once) or "adam" (one evaluation per iteration)
 *   output       every save_iter iterations "<stem>_<iter>.png" (with the
 *                stage's size when there are several stages), the final
 *                image at `output` (written to a temporary name and renamed),
 *                and a JSON log, one line per loss evaluation
 *                (`log_path`, default "<stem>.log.jsonl")
 *   original_colors  the result's luminance with the content's colours (color.h)
 *
 * Pixels are RGB in [0, 1] (the networks do their own preprocessing), so
 * learning_rate and tv_weight are in those units. The library prints
 * nothing itself: progress lines go to the `print` callback.
 */
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "style/feature_net.h"

namespace gesso::style {

struct StyleOptions {
  std::string content_image;
  std::vector<std::string> style_images;
  std::vector<double> style_blend_weights;  // empty: equal weights
  std::string output = "out.png";
  std::string log_path;  // empty: "<output stem>.log.jsonl"

  double content_weight = 5;
  double style_weight = 100;
  double tv_weight = 1e-3;
  std::vector<std::string> content_layers;
  std::vector<std::string> style_layers;
  std::vector<double> style_layer_weights;  // empty: 1 per layer
  bool smoothing = false;                   // softmax smoothing before the Gram matrices (losses.h)
  double smoothing_temperature = 1;

  int num_iterations = 300;  // per stage
  int print_iter = 50;       // 0: no progress lines
  int save_iter = 100;       // 0: no intermediate images
  uint64_t seed = 0;
  std::string init = "image";  // "image" or "random"
  std::string init_image;      // used by init "image" when given
  std::string optimizer = "lbfgs";
  double learning_rate = 0.02;  // Adam's, in [0, 1] pixel units
  // L-BFGS keeps 2 image-sized vectors per remembered step: 0 picks 100
  // (neural-style's), fewer for large images so that they hold at most 1 GiB
  // (42 at 1024 x 1024).
  int lbfgs_history = 0;

  int image_size = 512;
  std::vector<int> scales;  // empty: one stage at image_size
  double style_scale = 1;
  bool original_colors = false;
  Device device = Device::cpu;
};

// The defaults that suit each network (layers, weights, smoothing), as tuned
// for gesso: applied by the tool where the user gave no value.
struct ModelDefaults {
  std::vector<std::string> content_layers, style_layers;
  std::vector<double> style_layer_weights;
  double content_weight, style_weight, tv_weight;
  bool smoothing;
  double smoothing_temperature;
};
ModelDefaults model_defaults(const std::string& model);  // "vgg19" or "resnet50"

struct Losses {
  double total = 0, content = 0, style = 0, tv = 0;  // content/style/tv weighted as in the total
};

struct StyleReport {
  Tensor image;                // the final image (1, 3, H, W), on the CPU, as saved
  Losses first, last;          // at the first and the last evaluation of the last stage
  int64_t iterations = 0;      // over all stages
  int64_t evaluations = 0;     // forward + backward passes over all stages
  double seconds = 0;          // optimisation time (targets and saving included)
  std::vector<std::string> saved;  // intermediate images, then the final one
  std::string log_path;
};

// Checks `opt` against `net` (layers, weights, files) before any work, then runs.
StyleReport run_style_transfer(FeatureNet& net, const StyleOptions& opt,
                               const std::function<void(const std::string&)>& print = nullptr);

// Reads an RGB image and resizes it so that its longer side is `size` (1, 3, h, w).
Tensor load_resized(const std::string& path, int size);

// Bytes: the CPU allocator's peak in use (the process's maximum resident set
// is gesso::max_rss_bytes(), tensor/allocator.h).
size_t peak_tensor_bytes();

}  // namespace gesso::style
