/*
 * style.cpp: `gesso style`, neural style transfer from the command line
 * (style/transfer.h), with jcjohnson/neural-style's flag names wherever
 * they mean the same thing:
 *
 *   gesso style --content photo.jpg --style painting.jpg --out out.png
 *   gesso style --default        the astronaut in the style of the Starry Night and of the Scream
 *
 * Each flag has a hyphenated long name (--content-weight) and neural-style's
 * own spelling (--content_weight); neural-style's single-dash form
 * (-content_weight 5) is accepted too: CLI11 has no single-dash long names,
 * so the subcommand takes such arguments as extras and parses them again
 * with a leading "--". There are no one-letter options, so a single-dash
 * word is never mistaken for a cluster of short flags.
 */
#include "tools/commands.h"

#include <omp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "style/paths.h"
#include "style/resnet50.h"
#include "style/transfer.h"
#include "style/vgg19.h"
#include "style/workload.h"
#include "tensor/image.h"

namespace gesso::tools {

namespace {

constexpr double kUnset = std::numeric_limits<double>::quiet_NaN();

struct StyleCli {
  std::string content, style, blend, out = "out.png", log;
  double content_weight = kUnset, style_weight = kUnset, tv_weight = kUnset;
  int num_iterations = 0, print_iter = 50, save_iter = 100;
  uint64_t seed = 0;
  std::string content_layers, style_layers, style_layer_weights;
  std::string pooling = "max", init = "image", init_image, optimizer = "lbfgs";
  double learning_rate = 0.02;
  int lbfgs_history = 0;
  int image_size = 0;  // 0: 512, or 256 for --default
  double style_scale = 1;
  bool original_colors = false;
  int original_colors_value = 0;  // neural-style's "-original_colors 1"
  std::string scales, model = "resnet50", weights, device = "cpu";
  std::string smoothing;  // "", "on" or "off"
  bool no_swag = false;
  double smoothing_temperature = kUnset;
  bool run_default = false, classify = false;
  int bench_size = 0, bench_steps = 5, bench_warmup = 1;
};

// Registers every option of `gesso style` on `app`, bound to `o`.
void add_options(CLI::App* app, StyleCli& o) {
  app->add_option("--content,--content-image,--content_image", o.content, "the photo to repaint");
  app->add_option("--style,--style-image,--style_image", o.style, "painting(s), comma-separated");
  app->add_option("--style-blend-weights,--style_blend_weights", o.blend,
                  "one weight per style image, comma-separated (normalised to sum 1; default equal)");
  app->add_option("--out,--output,--output_image,--output-image", o.out, "the result (.png or .jpg)");
  app->add_option("--log", o.log, "JSON log of the losses (default: <out stem>.log.jsonl)");
  app->add_option("--content-weight,--content_weight", o.content_weight, "weight of the content loss");
  app->add_option("--style-weight,--style_weight", o.style_weight, "weight of the style loss");
  app->add_option("--tv-weight,--tv_weight", o.tv_weight, "weight of the total-variation loss");
  app->add_option("--num-iterations,--num_iterations", o.num_iterations, "iterations per scale (default 300; 150 for --default)");
  app->add_option("--print-iter,--print_iter", o.print_iter, "progress line every N iterations (0: none)");
  app->add_option("--save-iter,--save_iter", o.save_iter, "intermediate image every N iterations (0: none)");
  app->add_option("--seed", o.seed, "seed of the random initialisation");
  app->add_option("--content-layers,--content_layers", o.content_layers, "comma-separated layer names");
  app->add_option("--style-layers,--style_layers", o.style_layers, "comma-separated layer names");
  app->add_option("--style-layer-weights,--style_layer_weights", o.style_layer_weights,
                  "one weight per style layer, comma-separated (default 1 each)");
  app->add_option("--pooling", o.pooling, "VGG-19's pooling: max or avg");
  app->add_option("--init", o.init, "image (the content, or --init-image) or random (noise)");
  app->add_option("--init-image,--init_image", o.init_image, "start from this image (with --init image)");
  app->add_option("--optimizer", o.optimizer, "lbfgs or adam");
  app->add_option("--learning-rate,--learning_rate", o.learning_rate, "Adam's step, in [0, 1] pixel units");
  app->add_option("--lbfgs-num-correction,--lbfgs_num_correction", o.lbfgs_history,
                  "L-BFGS history size (default 0: 100, fewer above ~700 px so that it stays within 1 GiB)");
  app->add_option("--image-size,--image_size", o.image_size, "longer side of the result, in pixels (default 512; 256 for --default)");
  app->add_option("--style-scale,--style_scale", o.style_scale, "style images' size relative to --image-size");
  app->add_flag("--original-colors", o.original_colors, "keep the content's colours (luminance-only transfer)");
  app->add_option("--original_colors", o.original_colors_value, "neural-style's spelling: 1 keeps the colours");
  app->add_option("--scales", o.scales, "coarse-to-fine sizes, e.g. 256,512 (overrides --image-size)");
  app->add_option("--model", o.model, "feature network: resnet50 (default) or vgg19");
  app->add_option("--weights,--model_file", o.weights,
                  "the network's file (resnet50: model.json; vgg19: torchvision safetensors)");
  app->add_option("--device", o.device, "cpu (default), cuda, simt or auto");
  app->add_option("--smoothing", o.smoothing, "on or off: softmax smoothing before the Gram matrices (SWAG)");
  app->add_flag("--no-swag", o.no_swag, "same as --smoothing off");
  app->add_option("--smoothing-temperature", o.smoothing_temperature, "softmax temperature of the smoothing (default 10 for resnet50)");
  app->add_flag("--default", o.run_default,
                "the embedded demo: the astronaut in the style of the Starry Night and of the Scream, 256 px");
  app->add_flag("--classify", o.classify, "print ResNet-50's top-5 ImageNet classes for --content and exit");
  app->add_option("--bench", o.bench_size,
                  "time one Gatys iteration (forward + backward to the image) at SIZE px on random images and "
                  "print one JSON line (vgg19: random weights unless --weights); see bench/compare_pytorch.py");
  app->add_option("--steps", o.bench_steps, "with --bench: timed iterations (default 5)");
  app->add_option("--warmup", o.bench_warmup, "with --bench: untimed iterations first (default 1)");
}

std::string megabytes(size_t bytes) { return str(std::lround(static_cast<double>(bytes) / (1 << 20)), " MB"); }

std::unique_ptr<style::FeatureNet> load_network(const StyleCli& o) {
  if (o.model == "resnet50") {
    GESSO_CHECK(o.pooling == "max", "gesso style: --pooling applies to --model vgg19 only");
    return style::load_resnet50(o.weights.empty() ? style::default_resnet50_path() : o.weights);
  }
  if (o.model == "vgg19")
    return style::load_vgg19(o.weights.empty() ? style::default_vgg19_file() : o.weights,
                             style::parse_pooling(o.pooling));
  fail("gesso style: --model must be resnet50 or vgg19, got '", o.model, "'");
}

style::StyleOptions to_options(const StyleCli& o, Device device) {
  const style::ModelDefaults d = style::model_defaults(o.model);
  style::StyleOptions s;
  s.content_image = o.content;
  if (!o.style.empty()) s.style_images = style::split_list(o.style, "--style");
  if (!o.blend.empty()) s.style_blend_weights = style::parse_doubles(o.blend, "--style-blend-weights");
  s.output = o.out;
  s.log_path = o.log;
  s.content_weight = std::isnan(o.content_weight) ? d.content_weight : o.content_weight;
  s.style_weight = std::isnan(o.style_weight) ? d.style_weight : o.style_weight;
  s.tv_weight = std::isnan(o.tv_weight) ? d.tv_weight : o.tv_weight;
  s.content_layers = o.content_layers.empty() ? d.content_layers : style::split_list(o.content_layers, "--content-layers");
  s.style_layers = o.style_layers.empty() ? d.style_layers : style::split_list(o.style_layers, "--style-layers");
  if (!o.style_layer_weights.empty())
    s.style_layer_weights = style::parse_doubles(o.style_layer_weights, "--style-layer-weights");
  else if (o.style_layers.empty())
    s.style_layer_weights = d.style_layer_weights;
  GESSO_CHECK(o.smoothing.empty() || o.smoothing == "on" || o.smoothing == "off",
              "gesso style: --smoothing must be on or off, got '", o.smoothing, "'");
  s.smoothing = o.no_swag ? false : o.smoothing.empty() ? d.smoothing : o.smoothing == "on";
  s.smoothing_temperature = std::isnan(o.smoothing_temperature) ? d.smoothing_temperature : o.smoothing_temperature;
  GESSO_CHECK(o.num_iterations >= 0, "gesso style: --num-iterations must be >= 1, got ", o.num_iterations);
  s.num_iterations = o.num_iterations > 0 ? o.num_iterations : 300;
  s.print_iter = o.print_iter;
  s.save_iter = o.save_iter;
  s.seed = o.seed;
  s.init = o.init;
  s.init_image = o.init_image;
  s.optimizer = o.optimizer;
  s.learning_rate = o.learning_rate;
  s.lbfgs_history = o.lbfgs_history;
  s.image_size = o.image_size > 0 ? o.image_size : 512;
  if (!o.scales.empty())
    for (double v : style::parse_doubles(o.scales, "--scales")) {
      GESSO_CHECK(v == std::floor(v) && v >= 16 && v <= 16384, "gesso style: --scales sizes must be whole numbers "
                  "in 16..16384, got ", v);
      s.scales.push_back(static_cast<int>(v));
    }
  s.style_scale = o.style_scale;
  GESSO_CHECK(o.original_colors_value == 0 || o.original_colors_value == 1,
              "gesso style: --original_colors takes 0 or 1, got ", o.original_colors_value);
  s.original_colors = o.original_colors || o.original_colors_value == 1;
  s.device = device;
  return s;
}

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void run_one(style::FeatureNet& net, const style::StyleOptions& s) {
  style::StyleReport r = style::run_style_transfer(net, s, print_line);
  std::printf("gesso style: wrote %s (%lld iterations, %lld evaluations, %.1f s; loss %.4g -> %.4g); log %s\n",
              s.output.c_str(), static_cast<long long>(r.iterations), static_cast<long long>(r.evaluations),
              r.seconds, r.first.total, r.last.total, r.log_path.c_str());
}

// `--bench SIZE`: the timing that bench/compare_pytorch.py reads (its last JSON line).
void bench(const StyleCli& o, Device device) {
  GESSO_CHECK(o.bench_steps >= 1 && o.bench_warmup >= 0, "gesso style: --steps must be >= 1 and --warmup >= 0");
  std::unique_ptr<style::FeatureNet> net;
  if (o.model == "vgg19" && o.weights.empty()) {
    Generator gen(0);
    net = std::make_unique<style::Vgg19>(style::parse_pooling(o.pooling), 1, gen);
  } else {
    net = load_network(o);
  }
  net->to(device);
  const style::ModelDefaults d = style::model_defaults(o.model);
  style::GatysWorkload work(*net, o.bench_size, d.content_layers, d.style_layers, d.smoothing,
                            d.smoothing_temperature);
  for (int i = 0; i < o.bench_warmup; ++i) work.step();
  const auto start = std::chrono::steady_clock::now();
  double loss = 0;
  for (int i = 0; i < o.bench_steps; ++i) loss = work.step();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j = {{"engine", "gesso"},
                      {"workload", str("gatys", o.bench_size)},
                      {"model", o.model},
                      {"seconds_per_step", secs / o.bench_steps},
                      {"loss", loss},
                      {"peak_tensor_bytes", style::peak_tensor_bytes()},
                      {"max_rss_bytes", max_rss_bytes()},
                      {"threads", omp_get_max_threads()}};
  std::printf("%s\n", j.dump().c_str());
}

void classify(style::FeatureNet& net, const StyleCli& o) {
  auto* resnet = dynamic_cast<style::ResNet50*>(&net);
  GESSO_CHECK(resnet && resnet->has_classifier(), "gesso style: --classify needs --model resnet50 with its fc1000");
  GESSO_CHECK(!o.content.empty(), "gesso style: --classify needs --content IMAGE");
  NoGradGuard no_grad;
  // Keras' ImageNet evaluation: the shorter side to 256, the centre 224 x 224.
  Tensor img = center_crop(resize_shorter_side(load_image(o.content, 3), 256), 224, 224).unsqueeze(0);
  Tensor logits = resnet->logits(img);
  std::vector<float> v = logits.to_vector<float>();
  std::vector<std::string> labels =
      style::load_imagenet_labels(o.weights.empty() ? style::default_resnet50_path() : o.weights);
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](size_t a, size_t b) { return v[a] > v[b]; });
  double mx = v[order[0]], z = 0;
  for (float x : v) z += std::exp(x - mx);
  std::printf("gesso style --classify %s:\n", o.content.c_str());
  for (int k = 0; k < 5; ++k) {
    const size_t c = order[k];
    std::printf("  %5.1f%%  %4zu %s\n", 100.0 * std::exp(v[c] - mx) / z, c,
                c < labels.size() ? labels[c].c_str() : "");
  }
}

}  // namespace

void add_style_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("style", "neural style transfer: repaint a photo in the style of a painting");
  auto o = std::make_shared<StyleCli>();
  add_options(cmd, *o);
  cmd->allow_extras();
  cmd->callback([cmd, o]() {
    // neural-style's single-dash spellings come back as extras: parse them again as "--name".
    std::vector<std::string> extras = cmd->remaining();
    if (!extras.empty()) {
      CLI::App again{"gesso style (single-dash options)"};
      add_options(&again, *o);
      std::vector<std::string> args;
      for (const auto& a : extras) {
        const bool single_dash_word = a.size() > 2 && a[0] == '-' && a[1] != '-' && std::isalpha(static_cast<unsigned char>(a[1]));
        args.push_back(single_dash_word ? "-" + a : a);
      }
      std::reverse(args.begin(), args.end());  // CLI11 parses a vector from its back
      try {
        again.parse(args);
      } catch (const CLI::ParseError& e) {
        fail("gesso style: cannot parse '", extras.front(), "'", extras.size() > 1 ? " ..." : "", ": ", e.what());
      }
    }
    const Device device = parse_device(o->device, o->bench_size == 0);
    if (o->bench_size > 0) {
      bench(*o, device);
      return;
    }
    std::unique_ptr<style::FeatureNet> net = load_network(*o);
    net->to(device);
    if (o->classify) {
      classify(*net, *o);
      return;
    }
    if (o->run_default) {
      // The embedded demo: each painting alone, at 256 px, unless flags say otherwise.
      const std::vector<std::pair<std::string, std::string>> paintings = {
          {style::starry_night_path(), "starry_night"}, {style::scream_path(), "scream"}};
      style::require_file(style::astronaut_path(), "the astronaut (python3-skimage)", style::setup_command());
      for (const auto& p : paintings) style::require_file(p.first, "the painting " + p.second, style::setup_command());
      std::filesystem::create_directories("out/style");
      for (const auto& p : paintings) {
        StyleCli demo = *o;
        demo.content = style::astronaut_path();
        demo.style = p.first;
        demo.blend.clear();
        demo.out = "out/style/astronaut_" + p.second + ".png";
        demo.log.clear();
        if (demo.image_size == 0) demo.image_size = 256;
        if (demo.num_iterations == 0) demo.num_iterations = 150;
        std::printf("gesso style --default: the astronaut in the style of %s -> %s\n", p.second.c_str(),
                    demo.out.c_str());
        run_one(*net, to_options(demo, device));
      }
    } else {
      run_one(*net, to_options(*o, device));
    }
    const AllocatorStats stats = allocator_stats(Device::cpu);
    std::printf("gesso style: peak memory: tensors %s (CPU allocator's peak in use; it holds %s now, cached "
                "included), process max RSS %s\n",
                megabytes(stats.peak_bytes_in_use).c_str(), megabytes(stats.bytes_in_use + stats.bytes_cached).c_str(),
                megabytes(max_rss_bytes()).c_str());
  });
}

}  // namespace gesso::tools
