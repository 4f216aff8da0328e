/*
 * transfer.cpp: the optimisation loop of transfer.h: targets per stage, the
 * objective as a closure, L-BFGS or Adam over the image, progress lines,
 * intermediate and final images, the JSON log.
 */
#include "style/transfer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/optim.h"
#include "style/color.h"
#include "style/losses.h"
#include "tensor/image.h"

namespace gesso::style {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string stem_of(const std::string& path) {
  const auto dot = path.find_last_of('.');
  const auto slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path;
  return path.substr(0, dot);
}

std::string extension_of(const std::string& path) {
  const std::string stem = stem_of(path);
  return stem.size() < path.size() ? lower(path.substr(stem.size())) : std::string();
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) return str(static_cast<int>(std::lround(s)), "s");
  const long m = static_cast<long>(s) / 60;
  if (m < 60) return str(m, "m", static_cast<long>(s) % 60, "s");
  return str(m / 60, "h", m % 60, "m");
}

void check_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  GESSO_CHECK(f.good(), "style: ", what, " '", path, "' cannot be opened");
}

void check_options(const FeatureNet& net, const StyleOptions& o) {
  GESSO_CHECK(!o.content_image.empty(), "style: no content image given (--content)");
  GESSO_CHECK(!o.style_images.empty(), "style: no style image given (--style)");
  check_file(o.content_image, "content image");
  for (const auto& s : o.style_images) check_file(s, "style image");
  if (!o.init_image.empty()) check_file(o.init_image, "init image");
  GESSO_CHECK(o.style_blend_weights.empty() || o.style_blend_weights.size() == o.style_images.size(),
              "style: --style-blend-weights has ", o.style_blend_weights.size(), " values for ", o.style_images.size(),
              " style images");
  double blend = 0;
  for (double w : o.style_blend_weights) {
    GESSO_CHECK(w >= 0, "style: --style-blend-weights must be >= 0, got ", w);
    blend += w;
  }
  GESSO_CHECK(o.style_blend_weights.empty() || blend > 0, "style: --style-blend-weights must not all be 0");
  net.check_layers(o.content_layers, "--content-layers");
  net.check_layers(o.style_layers, "--style-layers");
  GESSO_CHECK(o.style_layer_weights.empty() || o.style_layer_weights.size() == o.style_layers.size(),
              "style: --style-layer-weights has ", o.style_layer_weights.size(), " values for ", o.style_layers.size(),
              " style layers");
  for (double w : {o.content_weight, o.style_weight, o.tv_weight})
    GESSO_CHECK(std::isfinite(w) && w >= 0, "style: the content, style and tv weights must be finite and >= 0, got ",
                w);
  GESSO_CHECK(o.num_iterations >= 1, "style: --num-iterations must be >= 1, got ", o.num_iterations);
  GESSO_CHECK(o.print_iter >= 0 && o.save_iter >= 0, "style: --print-iter and --save-iter must be >= 0");
  GESSO_CHECK(o.init == "image" || o.init == "random", "style: --init must be 'image' or 'random', got '", o.init,
              "'");
  GESSO_CHECK(o.optimizer == "lbfgs" || o.optimizer == "adam", "style: --optimizer must be 'lbfgs' or 'adam', got '",
              o.optimizer, "'");
  GESSO_CHECK(o.learning_rate > 0 && std::isfinite(o.learning_rate), "style: --learning-rate must be > 0, got ",
              o.learning_rate);
  GESSO_CHECK(o.lbfgs_history >= 0, "style: --lbfgs-num-correction must be >= 0 (0: automatic), got ",
              o.lbfgs_history);
  GESSO_CHECK(o.image_size >= 16, "style: --image-size must be >= 16, got ", o.image_size);
  for (int s : o.scales) GESSO_CHECK(s >= 16, "style: every --scales size must be >= 16, got ", s);
  GESSO_CHECK(o.style_scale > 0 && std::isfinite(o.style_scale), "style: --style-scale must be > 0, got ",
              o.style_scale);
  GESSO_CHECK(o.smoothing_temperature > 0, "style: the smoothing temperature must be > 0, got ",
              o.smoothing_temperature);
  const std::string ext = extension_of(o.output);
  GESSO_CHECK(ext == ".png" || ext == ".jpg" || ext == ".jpeg", "style: the output must end in .png, .jpg or .jpeg, got '",
              o.output, "'");
}

// The targets of one stage: content features, blended style Gram matrices.
struct Targets {
  FeatureMap content;
  FeatureMap grams;
};

Tensor style_input(const Tensor& features, const StyleOptions& o) {
  return o.smoothing ? smooth_activations(features, o.smoothing_temperature) : features;
}

Targets make_targets(FeatureNet& net, const StyleOptions& o, const Tensor& content,
                     const std::vector<Tensor>& styles) {
  NoGradGuard no_grad;
  Targets t;
  t.content = net.forward(content, o.content_layers);
  std::vector<double> blend = o.style_blend_weights;
  if (blend.empty()) blend.assign(styles.size(), 1.0);
  double total = 0;
  for (double w : blend) total += w;
  for (size_t i = 0; i < styles.size(); ++i) {
    if (blend[i] == 0) continue;
    FeatureMap f = net.forward(styles[i], o.style_layers);
    for (const auto& layer : o.style_layers) {
      Tensor g = mul(style_gram(style_input(f.at(layer), o)), blend[i] / total);
      auto it = t.grams.find(layer);
      t.grams[layer] = it == t.grams.end() ? g : add(it->second, g);
    }
  }
  return t;
}

std::vector<std::string> union_of(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out = a;
  for (const auto& x : b)
    if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
  return out;
}

}  // namespace

ModelDefaults model_defaults(const std::string& model) {
  ModelDefaults d;
  if (model == "vgg19") {
    // neural-style's layers; the weights are scaled for torchvision's input
    // normalisation (features about 1/60 of caffe's, style loss ~ scale^4).
    d.content_layers = {"relu4_2"};
    d.style_layers = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"};
    d.style_layer_weights = {};
    d.content_weight = 1;
    d.style_weight = 1e5;
    d.tv_weight = 1e-2;
    d.smoothing = false;
    d.smoothing_temperature = 1;
    return d;
  }
  if (model == "resnet50") {
    // Tuned by looking at the astronaut repainted as the Starry Night and the
    // Scream at 256 px (`gesso style --default`). Smoothing at T = 10: at
    // T = 1 a handful of values take almost all of the softmax's mass (the
    // opposite of smoothing for these activations, which reach 20-50). With
    // smoothing the Gram entries scale as 1/C, so the layer weights (C/64)^2
    // put the layers on one footing. res5c is left out: at 256 px it is 8 x 8
    // positions whose peaky Gram matrix swamped the others (and the Scream's
    // texture never appeared); stopping at res4f also skips stage 5's compute.
    d.content_layers = {"res4f"};
    d.style_layers = {"conv1", "res2c", "res3d", "res4f"};
    d.style_layer_weights = {1, 16, 64, 256};
    d.content_weight = 100;
    d.style_weight = 5e9;
    d.tv_weight = 100;
    d.smoothing = true;
    d.smoothing_temperature = 10;
    return d;
  }
  fail("style: --model must be 'vgg19' or 'resnet50', got '", model, "'");
}

Tensor load_resized(const std::string& path, int size) {
  Tensor img = load_image(path, 3);
  const int64_t H = img.size(1), W = img.size(2);
  int h, w;
  if (H >= W) {
    h = size;
    w = std::max<int>(1, static_cast<int>(std::lround(static_cast<double>(W) * size / H)));
  } else {
    w = size;
    h = std::max<int>(1, static_cast<int>(std::lround(static_cast<double>(H) * size / W)));
  }
  return resize_image(img, h, w).unsqueeze(0).contiguous();
}

size_t peak_tensor_bytes() { return allocator_stats(Device::cpu).peak_bytes_in_use; }

StyleReport run_style_transfer(FeatureNet& net, const StyleOptions& opt,
                               const std::function<void(const std::string&)>& print) {
  check_options(net, opt);
  auto say = [&](const std::string& line) {
    if (print) print(line);
  };
  const std::vector<int> scales = opt.scales.empty() ? std::vector<int>{opt.image_size} : opt.scales;
  const std::vector<std::string> layers = union_of(opt.content_layers, opt.style_layers);
  std::vector<double> layer_weights = opt.style_layer_weights;
  if (layer_weights.empty()) layer_weights.assign(opt.style_layers.size(), 1.0);
  const std::string stem = stem_of(opt.output), ext = extension_of(opt.output);

  StyleReport report;
  report.log_path = opt.log_path.empty() ? stem + ".log.jsonl" : opt.log_path;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(std::fopen(report.log_path.c_str(), "w"), &std::fclose);
  GESSO_CHECK(log != nullptr, "style: cannot write the log '", report.log_path, "'");

  const auto start = Clock::now();
  auto elapsed = [&]() { return std::chrono::duration<double>(Clock::now() - start).count(); };
  Tensor previous;  // the last stage's result (CPU, (1, 3, h, w))
  Tensor content_cpu;
  for (size_t stage = 0; stage < scales.size(); ++stage) {
    const int size = scales[stage];
    // ---- images of this stage
    content_cpu = load_resized(opt.content_image, size);
    const int64_t H = content_cpu.size(2), W = content_cpu.size(3);
    const int style_size = std::max(16, static_cast<int>(std::lround(size * opt.style_scale)));
    std::vector<Tensor> styles;
    for (const auto& s : opt.style_images) styles.push_back(load_resized(s, style_size).to(opt.device));
    Tensor content = content_cpu.to(opt.device);
    Targets targets = make_targets(net, opt, content, styles);
    styles.clear();

    Tensor init;
    if (stage > 0) {
      init = resize_image(previous, static_cast<int>(H), static_cast<int>(W));
    } else if (opt.init == "random") {
      Generator gen(opt.seed);
      init = rand({1, 3, H, W}, gen);
    } else if (!opt.init_image.empty()) {
      init = resize_image(load_image(opt.init_image, 3), static_cast<int>(H), static_cast<int>(W)).unsqueeze(0);
    } else {
      init = content_cpu.clone();
    }
    Tensor image = init.to(opt.device).contiguous().clone().requires_grad_(true);

    const std::string tag = scales.size() > 1 ? str("_", size) : std::string();
    say(str("style: stage ", stage + 1, "/", scales.size(), ": ", W, " x ", H, " (style images at ", style_size,
            " px), ", opt.num_iterations, " iterations of ", opt.optimizer, " with ", net.name()));

    // ---- the objective; `current` keeps the last evaluation's terms
    Losses current;
    int64_t stage_evals = 0;
    auto evaluate = [&]() -> Tensor {
      FeatureMap f = net.forward(image, layers);
      Tensor c_loss = scalar_tensor(0.0, TensorOptions(image.device()));
      for (const auto& l : opt.content_layers) c_loss = add(c_loss, content_loss(f.at(l), targets.content.at(l)));
      Tensor s_loss = scalar_tensor(0.0, TensorOptions(image.device()));
      for (size_t k = 0; k < opt.style_layers.size(); ++k) {
        const std::string& l = opt.style_layers[k];
        if (layer_weights[k] == 0) continue;
        s_loss = add(s_loss, mul(style_loss(style_gram(style_input(f.at(l), opt)), targets.grams.at(l)),
                                 layer_weights[k]));
      }
      f.clear();
      Tensor tv = total_variation(image);
      Tensor c_w = mul(c_loss, opt.content_weight), s_w = mul(s_loss, opt.style_weight),
             t_w = mul(tv, opt.tv_weight);
      Tensor total = add(add(c_w, s_w), t_w);
      current.content = c_w.item();
      current.style = s_w.item();
      current.tv = t_w.item();
      current.total = total.item();
      GESSO_CHECK(std::isfinite(current.total), "style: the loss became ", current.total, " at evaluation ",
                  stage_evals + 1, " of stage ", stage + 1, " (content ", current.content, ", style ", current.style,
                  ", tv ", current.tv, "); lower --learning-rate or the weights");
      if (image.grad().defined()) image.zero_grad();
      total.backward();
      ++stage_evals;
      ++report.evaluations;
      return total;
    };

    // ---- reporting: one JSON line per evaluation; progress lines and images per iteration
    const auto stage_start = Clock::now();
    auto stage_seconds = [&]() { return std::chrono::duration<double>(Clock::now() - stage_start).count(); };
    auto log_eval = [&](int64_t iteration) {
      nlohmann::json j = {{"stage", stage + 1},      {"size", size},          {"iteration", iteration},
                          {"evaluation", stage_evals}, {"total", current.total}, {"content", current.content},
                          {"style", current.style},  {"tv", current.tv},      {"seconds", elapsed()}};
      std::fprintf(log.get(), "%s\n", j.dump().c_str());
      std::fflush(log.get());
    };
    auto save_view = [&](const Tensor& img, const std::string& path) {
      NoGradGuard no_grad;
      Tensor out = clamp(img.detach().to(Device::cpu), 0.0, 1.0);
      if (opt.original_colors) out = keep_original_colors(out, content_cpu);
      save_image(path, out.squeeze(0));
      return out;
    };
    auto on_iteration = [&](int64_t it, const Losses& l, const Tensor& img) {
      if (opt.print_iter > 0 && (it % opt.print_iter == 0 || it == opt.num_iterations)) {
        const double secs = stage_seconds();
        const double per_it = secs / static_cast<double>(it);
        double eta = per_it * static_cast<double>(opt.num_iterations - it);
        for (size_t later = stage + 1; later < scales.size(); ++later)
          eta += per_it * opt.num_iterations * std::pow(static_cast<double>(scales[later]) / size, 2.0);
        say(str("iteration ", it, "/", opt.num_iterations, "  total ", l.total, "  content ", l.content, "  style ",
                l.style, "  tv ", l.tv, "  ", 1.0 / per_it, " it/s (", stage_evals / secs, " evals/s)  ETA ",
                format_duration(eta)));
      }
      if (opt.save_iter > 0 && it % opt.save_iter == 0 && it < opt.num_iterations) {
        const std::string path = str(stem, tag, "_", it, ext);
        save_view(img, path);
        report.saved.push_back(path);
      }
    };

    Losses first;
    if (opt.optimizer == "adam") {
      nn::Adam adam({image}, nn::AdamOptions(opt.learning_rate));
      for (int it = 1; it <= opt.num_iterations; ++it) {
        evaluate();
        if (it == 1) first = current;
        log_eval(it);
        adam.step();
        on_iteration(it, current, image);
      }
    } else {
      int history = opt.lbfgs_history;
      if (history == 0) {
        const double pair_bytes = 2.0 * static_cast<double>(image.numel()) * dtype_size(image.dtype());
        history = static_cast<int>(std::clamp((1 << 30) / pair_bytes, 5.0, 100.0));
      }
      nn::LBFGS lbfgs({image}, nn::LbfgsOptions(1.0)
                                   .max_iter(opt.num_iterations)
                                   .max_eval(opt.num_iterations * 2)
                                   .history_size(history)
                                   .tolerance_grad(0)
                                   .line_search(nn::LineSearch::strong_wolfe));
      // L-BFGS calls the closure at trial points; iteration k is reported when
      // iteration k + 1 first evaluates (or the run ends), with the losses and
      // the image of the last evaluation, the point that iteration accepted.
      int64_t reported = 0;
      Losses last_losses;
      Tensor last_image;
      auto report_up_to = [&](int64_t done) {
        if (done <= reported) return;
        reported = done;
        on_iteration(done, last_losses, last_image);
      };
      auto closure = [&]() -> Tensor {
        report_up_to(lbfgs.iterations() - 1);
        Tensor loss = evaluate();
        if (stage_evals == 1) first = current;
        log_eval(lbfgs.iterations());
        last_losses = current;
        if (opt.save_iter > 0) {
          NoGradGuard no_grad;
          last_image = image.detach().clone();
        }
        return loss;
      };
      lbfgs.step(closure);
      report_up_to(lbfgs.iterations());
    }
    report.iterations += opt.num_iterations;
    report.first = first;
    report.last = current;
    {
      NoGradGuard no_grad;
      previous = image.detach().to(Device::cpu).contiguous();
    }
  }

  // ---- the final image, written to a temporary name and renamed
  {
    NoGradGuard no_grad;
    Tensor out = clamp(previous, 0.0, 1.0);
    if (opt.original_colors) out = keep_original_colors(out, content_cpu);
    save_image(opt.output, out.squeeze(0));
    report.image = out;
  }
  report.saved.push_back(opt.output);
  report.seconds = elapsed();
  return report;
}

}  // namespace gesso::style
