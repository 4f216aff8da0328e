/*
 * trainer.cpp: the GAN training step, the training loop with its run folder
 * (checkpoints, samples, log, loss curve), resuming, and the generator-side
 * helpers used by sampling (trainer.h).
 */
#include "gan/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "autograd/ops.h"
#include "data/loader.h"
#include "gan/data.h"
#include "gan/metrics.h"
#include "gan/plot.h"
#include "nn/checkpoint.h"
#include "tensor/atomic_file.h"
#include "tensor/image.h"

namespace gesso::gan {

namespace fs = std::filesystem;

uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  // SplitMix64 over (seed, stream): nearby run seeds give unrelated streams.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {

enum Stream : uint64_t { kWeights = 0, kNoise = 1, kShuffle = 2, kFlip = 3, kFixed = 4, kScore = 5 };
constexpr int kGridCount = 64;
constexpr const char* kRunFormat = "gesso-gan-1";

std::string fmt_double(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

// ---- TrainConfig

nlohmann::json TrainConfig::to_json() const {
  return {{"format", kRunFormat},
          {"data", data},
          {"data_limit", data_limit},
          {"flip", flip},
          {"model", model.to_json()},
          {"loss", loss},
          {"batch", batch},
          {"steps", steps},
          {"epochs", epochs},
          {"lr_g", lr_g},
          {"lr_d", lr_d},
          {"beta1", beta1},
          {"beta2", beta2},
          {"d_steps", resolved_d_steps()},
          {"gp_weight", gp_weight},
          {"ema_beta", ema_beta},
          {"seed", seed},
          {"device", device},
          {"out_dir", out_dir},
          {"log_every", log_every},
          {"sample_every", sample_every},
          {"checkpoint_every", checkpoint_every},
          {"scorer", scorer},
          {"score_every", score_every},
          {"score_samples", score_samples},
          {"init_from", init_from},
          {"freeze", freeze}};
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  GESSO_CHECK(j.is_object() && j.value("format", std::string()) == kRunFormat,
              "gan: the checkpoint's config is not a gesso GAN run config (format '", kRunFormat, "' expected), got ",
              j.dump().substr(0, 200));
  TrainConfig c;
  try {
    c.data = j.at("data").get<std::string>();
    c.data_limit = j.at("data_limit").get<int64_t>();
    c.flip = j.at("flip").get<bool>();
    c.model = ModelConfig::from_json(j.at("model"));
    c.loss = j.at("loss").get<std::string>();
    c.batch = j.at("batch").get<int64_t>();
    c.steps = j.at("steps").get<int64_t>();
    c.epochs = j.at("epochs").get<double>();
    c.lr_g = j.at("lr_g").get<double>();
    c.lr_d = j.at("lr_d").get<double>();
    c.beta1 = j.at("beta1").get<double>();
    c.beta2 = j.at("beta2").get<double>();
    c.d_steps = j.at("d_steps").get<int>();
    c.gp_weight = j.at("gp_weight").get<double>();
    c.ema_beta = j.at("ema_beta").get<double>();
    c.seed = j.at("seed").get<uint64_t>();
    c.device = j.at("device").get<std::string>();
    c.out_dir = j.at("out_dir").get<std::string>();
    c.log_every = j.at("log_every").get<int64_t>();
    c.sample_every = j.at("sample_every").get<int64_t>();
    c.checkpoint_every = j.at("checkpoint_every").get<int64_t>();
    c.scorer = j.at("scorer").get<std::string>();
    c.score_every = j.at("score_every").get<int64_t>();
    c.score_samples = j.at("score_samples").get<int64_t>();
    c.init_from = j.at("init_from").get<std::string>();
    c.freeze = j.at("freeze").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail("gan: the checkpoint's run config is incomplete or malformed (", e.what(), ")");
  }
  return c;
}

int TrainConfig::resolved_d_steps() const {
  if (d_steps > 0) return d_steps;
  return loss == "wgan-gp" ? 5 : 1;
}

void TrainConfig::validate() const {
  const char* who = "gan train";
  model.validate();
  const LossKind kind = parse_loss(loss);
  GESSO_CHECK(batch >= 1 && batch <= 65536, who, ": 'batch' must be in [1, 65536], got ", batch);
  GESSO_CHECK(steps >= 0, who, ": 'steps' must be >= 0, got ", steps);
  GESSO_CHECK(steps > 0 || (epochs > 0 && std::isfinite(epochs)), who,
              ": give a number of steps (> 0) or of epochs (> 0); got steps ", steps, " and epochs ", epochs);
  for (auto [name, v] : {std::pair<const char*, double>{"lr_g", lr_g}, {"lr_d", lr_d}})
    GESSO_CHECK(v > 0 && std::isfinite(v), who, ": '", name, "' must be finite and > 0, got ", v);
  GESSO_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, who, ": Adam betas must be in [0, 1), got ", beta1,
              " and ", beta2);
  GESSO_CHECK(d_steps >= 0 && d_steps <= 100, who, ": 'd_steps' must be in [0, 100] (0: automatic), got ", d_steps);
  GESSO_CHECK(gp_weight >= 0 && std::isfinite(gp_weight), who, ": 'gp_weight' must be >= 0, got ", gp_weight);
  GESSO_CHECK(ema_beta >= 0 && ema_beta < 1, who, ": 'ema_beta' must be in [0, 1) (0: no EMA), got ", ema_beta);
  GESSO_CHECK(!out_dir.empty(), who, ": 'out_dir' is empty");
  GESSO_CHECK(log_every >= 1 && sample_every >= 1 && checkpoint_every >= 1, who,
              ": 'log_every', 'sample_every' and 'checkpoint_every' must be >= 1, got ", log_every, ", ", sample_every,
              ", ", checkpoint_every);
  GESSO_CHECK(score_every >= 0, who, ": 'score_every' must be >= 0, got ", score_every);
  GESSO_CHECK(score_samples >= 2, who, ": 'score_samples' must be >= 2, got ", score_samples);
  GESSO_CHECK(time_limit_s >= 0, who, ": the time limit must be >= 0 seconds, got ", time_limit_s);
  GESSO_CHECK(resume.empty() || init_from.empty(), who,
              ": --resume continues a run and --init-from starts a new one from its weights; give one of them");
  GESSO_CHECK(!(kind == LossKind::wgan_gp && model.d_norm == "batch"), who,
              ": the wgan-gp loss penalises each sample's gradient, which batch norm in the discriminator would mix "
              "across the batch; use the discriminator norm \"none\" (optionally with spectral norm)");
  for (const auto& f : freeze)
    GESSO_CHECK(f == "G" || f == "D" || f.rfind("G.", 0) == 0 || f.rfind("D.", 0) == 0, who, ": --freeze '", f,
                "' must be G, D, or start with 'G.' or 'D.' (e.g. G.main.0)");
}

// ---- GanModels

GanModels::GanModels(const ModelConfig& m, LossKind l, double lr_g, double lr_d, double beta1, double beta2,
                     double gp, Generator& init)
    : model(m), loss(l), gp_weight(gp) {
  G = std::make_shared<DcganGenerator>(m, init);
  D = std::make_shared<DcganDiscriminator>(m, init);
  opt_g = std::make_unique<nn::Adam>(G->parameters(), nn::AdamOptions(lr_g).betas(beta1, beta2));
  opt_d = std::make_unique<nn::Adam>(D->parameters(), nn::AdamOptions(lr_d).betas(beta1, beta2));
}

void GanModels::to(Device d) {
  G->to(d);
  D->to(d);
}

namespace {

double checked(const Tensor& loss, const char* which) {
  const double v = loss.item();
  if (!std::isfinite(v))
    throw NonFiniteLoss(str("the ", which, " loss became ", std::isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf"));
  return v;
}

}  // namespace

StepStats GanModels::step(const std::vector<Tensor>& reals, Generator& noise) {
  GESSO_CHECK(!reals.empty(), "GanModels::step: needs at least one real batch");
  G->train();
  D->train();
  const Device device = reals[0].device();
  StepStats s;
  Tensor fake;
  for (size_t k = 0; k < reals.size(); ++k) {
    const Tensor& real = reals[k];
    const int64_t b = real.size(0);
    Tensor z = randn({b, model.latent}, noise).to(device);
    if (reals.size() == 1) {
      fake = G->forward(z);  // kept with its graph: the generator update below reuses it
    } else {
      NoGradGuard ng;
      fake = G->forward(z);
    }
    Tensor real_logits = D->forward(real);
    Tensor fake_logits = D->forward(fake.detach());
    Tensor loss_d = discriminator_loss(loss, real_logits, fake_logits);
    if (loss == LossKind::wgan_gp && gp_weight > 0) {
      Tensor alpha = rand({b}, noise).to(device);
      auto critic = [this](const Tensor& x) { return D->forward(x); };
      loss_d = add(loss_d, mul(gradient_penalty(critic, real, fake, alpha), gp_weight));
    }
    s.loss_d = checked(loss_d, "discriminator");
    s.d_real = discriminator_score(loss, real_logits);
    s.d_fake = discriminator_score(loss, fake_logits);
    opt_d->zero_grad();
    loss_d.backward();
    opt_d->step();
  }
  // Generator update: D's weights take no gradient (only what was trainable is switched back on).
  std::vector<Tensor> d_trainable;
  for (const Tensor& p : D->parameters())
    if (p.requires_grad()) d_trainable.push_back(p);
  for (Tensor& p : d_trainable) p.requires_grad_(false);
  try {
    if (reals.size() > 1) fake = G->forward(randn({reals[0].size(0), model.latent}, noise).to(device));
    Tensor loss_g = generator_loss(loss, D->forward(fake));
    s.loss_g = checked(loss_g, "generator");
    opt_g->zero_grad();
    loss_g.backward();
    opt_g->step();
  } catch (...) {
    for (Tensor& p : d_trainable) p.requires_grad_(true);
    throw;
  }
  for (Tensor& p : d_trainable) p.requires_grad_(true);
  return s;
}

// ---- helpers shared with sampling

std::string checkpoint_path(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path p = fs::path(path) / "checkpoint.safetensors";
    GESSO_CHECK(fs::is_regular_file(p, ec), "gan: the run folder '", path, "' holds no checkpoint.safetensors");
    return p.string();
  }
  GESSO_CHECK(fs::is_regular_file(path, ec), "gan: checkpoint '", path, "' does not exist");
  return path;
}

Tensor latents_for_seeds(const std::vector<uint64_t>& seeds, int latent) {
  GESSO_CHECK(latent >= 1, "latents_for_seeds: 'latent' must be >= 1, got ", latent);
  std::vector<Tensor> rows;
  for (uint64_t s : seeds) {
    Generator g(stream_seed(s, 100));
    rows.push_back(randn({1, latent}, g));
  }
  GESSO_CHECK(!rows.empty(), "latents_for_seeds: no seeds given");
  NoGradGuard ng;
  return concat(rows, 0);
}

namespace {

nn::StateDict with_prefix(const nn::StateDict& s, const std::string& prefix) {
  nn::StateDict out;
  for (const auto& [k, v] : s) out.emplace(prefix + k, v);
  return out;
}

nn::StateDict take_prefix(const nn::StateDict& s, const std::string& prefix) {
  nn::StateDict out;
  for (const auto& [k, v] : s)
    if (k.compare(0, prefix.size(), prefix) == 0) out.emplace(k.substr(prefix.size()), v);
  return out;
}

void load_part(nn::Module& m, const nn::StateDict& all, const std::string& prefix, const std::string& path,
               const char* what) {
  nn::StateDict part = take_prefix(all, prefix);
  GESSO_CHECK(!part.empty(), "gan: checkpoint '", path, "' holds no ", what, " (no tensors named ", prefix, "*)");
  try {
    m.load_state_dict(part);
  } catch (const Error& e) {
    fail("gan: checkpoint '", path, "' does not fit this ", what, ": ", e.what());
  }
}

}  // namespace

std::shared_ptr<DcganGenerator> load_generator(const std::string& checkpoint, bool use_ema, TrainConfig* config) {
  const std::string path = checkpoint_path(checkpoint);
  nn::Checkpoint ck = nn::load_checkpoint(path);
  TrainConfig c = TrainConfig::from_json(ck.config);
  Generator init(0);
  auto G = std::make_shared<DcganGenerator>(c.model, init);
  nn::StateDict ema = take_prefix(ck.extra, "ema.");
  if (use_ema && !ema.empty()) load_part(*G, ck.extra, "ema.", path, "generator (EMA weights)");
  else load_part(*G, ck.model, "G.", path, "generator");
  G->eval();
  if (config) *config = c;
  return G;
}

Tensor generate_images(DcganGenerator& G, const Tensor& z, int64_t batch) {
  check_dim(z, 2, "generate_images", "z");
  GESSO_CHECK(batch >= 1, "generate_images: 'batch' must be >= 1, got ", batch);
  NoGradGuard ng;
  const bool was_training = G.is_training();
  G.eval();
  std::vector<Tensor> parts;
  Device device = G.parameters()[0].device();
  for (int64_t start = 0; start < z.size(0); start += batch) {
    const int64_t take = std::min(batch, z.size(0) - start);
    Tensor x = G.forward(z.narrow(0, start, take).contiguous().to(device)).to(Device::cpu);
    parts.push_back(clamp(mul(add(x, 1.0), 0.5), 0.0, 1.0));
  }
  G.train(was_training);
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

Tensor slerp(const Tensor& a, const Tensor& b, double t) {
  GESSO_CHECK(a.defined() && b.defined() && a.dim() == 1 && a.shape() == b.shape(),
              "slerp: a and b must be 1-d latents of the same length, got ", a.defined() ? a.shape() : Shape{},
              " and ", b.defined() ? b.shape() : Shape{});
  GESSO_CHECK(t >= 0 && t <= 1, "slerp: t must be in [0, 1], got ", t);
  NoGradGuard ng;
  const double na = std::sqrt(sum(mul(a, a)).item()), nb = std::sqrt(sum(mul(b, b)).item());
  GESSO_CHECK(na > 0 && nb > 0, "slerp: a latent of norm 0 has no direction");
  const double cos_omega = std::clamp(sum(mul(a, b)).item() / (na * nb), -1.0, 1.0);
  const double omega = std::acos(cos_omega);
  const double so = std::sin(omega);
  if (so < 1e-6) return add(mul(a, 1 - t), mul(b, t));
  return add(mul(a, std::sin((1 - t) * omega) / so), mul(b, std::sin(t * omega) / so));
}

// ---- the training loop

namespace {

struct LogEntry {
  int64_t step;
  double loss_d, loss_g;
};

std::string now_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(
      path, [&](std::FILE* f) { write_bytes(f, text.data(), text.size(), path, "gan train"); }, "gan train");
}

// Log lines of an earlier run up to `step` (a resumed run rewrites the log from there).
std::vector<std::string> read_log_until(const std::string& path, int64_t step) {
  std::vector<std::string> kept;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("step") && j["step"].get<int64_t>() <= step) kept.push_back(line);
    } catch (const nlohmann::json::exception&) {
      // A line cut by a crash is dropped.
    }
  }
  return kept;
}

void save_loss_plot(const std::string& path, const std::vector<LogEntry>& log,
                    const std::vector<std::pair<int64_t, double>>& scores) {
  PlotSeries d{"D", {}, {}, 0.85f, 0.2f, 0.15f}, g{"G", {}, {}, 0.15f, 0.35f, 0.85f};
  for (const auto& e : log) {
    d.x.push_back(static_cast<double>(e.step));
    d.y.push_back(e.loss_d);
    g.x.push_back(static_cast<double>(e.step));
    g.y.push_back(e.loss_g);
  }
  Tensor losses = plot_lines({d, g}, 720, 320);
  if (scores.empty()) {
    save_image(path, losses);
    return;
  }
  PlotSeries fd{"FD", {}, {}, 0.1f, 0.6f, 0.2f};
  for (const auto& [step, v] : scores) {
    fd.x.push_back(static_cast<double>(step));
    fd.y.push_back(v);
  }
  NoGradGuard ng;
  save_image(path, concat({losses, plot_lines({fd}, 720, 240)}, 1));
}

}  // namespace

TrainResult train_gan(const TrainConfig& config_in) {
  TrainConfig config = config_in;
  config.validate();
  const LossKind kind = parse_loss(config.loss);
  const int d_steps = config.resolved_d_steps();
  const Device device = parse_device(config.device, false);

  // ---- everything that can fail on bad input happens before the run folder is touched
  nn::Checkpoint resume;
  std::string resume_file;
  if (!config.resume.empty()) {
    resume_file = checkpoint_path(config.resume);
    resume = nn::load_checkpoint(resume_file);
    const TrainConfig saved = TrainConfig::from_json(resume.config);
    const std::string diff = saved.model.difference(config.model);
    GESSO_CHECK(diff.empty(), "gan train: --resume '", resume_file, "' was trained with another model (", diff,
                ", checkpoint vs this run)");
    auto same = [&](bool equal, const char* what, const std::string& a, const std::string& b) {
      GESSO_CHECK(equal, "gan train: --resume '", resume_file, "' was trained with ", what, " ", a,
                  ", this run asks for ", b, "; a resumed run must keep it");
    };
    same(saved.data == config.data, "data", saved.data, config.data);
    same(saved.loss == config.loss, "loss", saved.loss, config.loss);
    same(saved.batch == config.batch, "batch", std::to_string(saved.batch), std::to_string(config.batch));
    same(saved.seed == config.seed, "seed", std::to_string(saved.seed), std::to_string(config.seed));
    same(saved.flip == config.flip, "flip", saved.flip ? "on" : "off", config.flip ? "on" : "off");
    same(saved.data_limit == config.data_limit, "data limit", std::to_string(saved.data_limit),
         std::to_string(config.data_limit));
    same(saved.resolved_d_steps() == d_steps, "d_steps", std::to_string(saved.resolved_d_steps()),
         std::to_string(d_steps));
    same((saved.ema_beta > 0) == (config.ema_beta > 0), "EMA", saved.ema_beta > 0 ? "on" : "off",
         config.ema_beta > 0 ? "on" : "off");
  }
  nn::Checkpoint init_ck;
  std::string init_file;
  if (!config.init_from.empty()) {
    init_file = checkpoint_path(config.init_from);
    init_ck = nn::load_checkpoint(init_file);
    const TrainConfig saved = TrainConfig::from_json(init_ck.config);
    const std::string diff = saved.model.difference(config.model);
    GESSO_CHECK(diff.empty(), "gan train: --init-from '", init_file, "' holds another model (", diff,
                ", checkpoint vs this run); its weights cannot start this one");
  }

  Dataset dataset = load_dataset(
      DatasetRequest{config.data, config.model.image_size, config.model.channels, "train", config.data_limit});
  const int64_t n_images = dataset.set.images.size(0);
  GESSO_CHECK(n_images >= config.batch, "gan train: the data holds ", n_images, " images, fewer than one batch of ",
              config.batch);

  std::shared_ptr<Scorer> scorer;
  if (!config.scorer.empty()) scorer = load_scorer(config.scorer);

  Generator init(stream_seed(config.seed, kWeights));
  GanModels nets(config.model, kind, config.lr_g, config.lr_d, config.beta1, config.beta2, config.gp_weight, init);
  if (!init_file.empty()) {
    load_part(*nets.G, init_ck.model, "G.", init_file, "generator");
    load_part(*nets.D, init_ck.model, "D.", init_file, "discriminator");
  }
  for (const auto& f : config.freeze) {
    nn::Module& m = f[0] == 'G' ? static_cast<nn::Module&>(*nets.G) : static_cast<nn::Module&>(*nets.D);
    const std::string prefix = f.size() > 2 ? f.substr(2) : "";
    try {
      m.freeze(prefix);
    } catch (const Error& e) {
      fail("gan train: --freeze '", f, "' matches no parameter (", e.what(), "); names look like G.main.0.weight");
    }
  }
  nets.to(device);
  std::unique_ptr<Ema> ema;
  if (config.ema_beta > 0) ema = std::make_unique<Ema>(*nets.G, config.ema_beta);

  Generator fixed_gen(stream_seed(config.seed, kFixed));
  Tensor fixed_noise = randn({kGridCount, config.model.latent}, fixed_gen);
  Generator noise(stream_seed(config.seed, kNoise));
  LoaderState loader_state;
  loader_state.shuffle_seed = stream_seed(config.seed, kShuffle);
  loader_state.flip_seed = stream_seed(config.seed, kFlip);
  int64_t step = 0;

  if (!resume_file.empty()) {
    load_part(*nets.G, resume.model, "G.", resume_file, "generator");
    load_part(*nets.D, resume.model, "D.", resume_file, "discriminator");
    try {
      nets.opt_g->load_state_dict(take_prefix(resume.optimizer, "g."));
      nets.opt_d->load_state_dict(take_prefix(resume.optimizer, "d."));
      // The saved states carry the old learning rates; the ones asked for now win.
      nets.opt_g->set_lr(config.lr_g);
      nets.opt_d->set_lr(config.lr_d);
      if (ema) ema->load_state_dict(take_prefix(resume.extra, "ema."));
    } catch (const Error& e) {
      fail("gan train: checkpoint '", resume_file, "' has optimizer or EMA state that does not fit: ", e.what());
    }
    auto extra = [&](const char* name) {
      auto it = resume.extra.find(name);
      GESSO_CHECK(it != resume.extra.end(), "gan train: checkpoint '", resume_file, "' lacks '", name, "'");
      return it->second;
    };
    loader_state = loader_state_from_tensor(extra("loader"));
    fixed_noise = extra("fixed_noise");
    GESSO_CHECK(fixed_noise.shape() == Shape({kGridCount, config.model.latent}), "gan train: checkpoint '",
                resume_file, "': fixed_noise has shape ", fixed_noise.shape());
    noise = resume.rng;
    step = resume.step;
  }

  const int64_t batches_per_epoch = n_images / config.batch;
  const int64_t total_steps =
      config.steps > 0 ? config.steps
                       : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config.epochs * batches_per_epoch / d_steps)));

  // Real statistics for the score: a fixed random subset of the data.
  GaussianStats real_stats;
  const int64_t score_every = config.score_every > 0 ? config.score_every : config.sample_every;
  Generator score_gen(stream_seed(config.seed, kScore));
  if (scorer) {
    Generator pick(stream_seed(config.seed, kScore + 100));
    std::vector<int64_t> order = data::permutation(n_images, pick);
    order.resize(static_cast<size_t>(std::min<int64_t>(n_images, config.score_samples)));
    real_stats = gaussian_stats(scorer_features(*scorer, data::take_rows(dataset.set.images, order)));
  }

  // ---- the run folder
  TrainResult result;
  result.dataset = dataset.description;
  result.start_step = result.end_step = step;
  const fs::path out(config.out_dir);
  fs::create_directories(out / "samples");
  const std::string ck_path = (out / "checkpoint.safetensors").string();
  const std::string log_path = (out / "log.jsonl").string();
  const std::string plot_path = (out / "loss.png").string();
  {
    nlohmann::json j = config.to_json();
    write_text_atomically((out / "config.json").string(), j.dump(2) + "\n");
  }
  std::vector<LogEntry> log_entries;
  {
    std::vector<std::string> kept;
    if (!resume_file.empty()) {
      // The old log may live in another folder when --out differs from the resumed run's.
      const fs::path old_log = fs::path(resume_file).parent_path() / "log.jsonl";
      kept = read_log_until(old_log.string(), step);
    }
    std::string text;
    for (const auto& line : kept) {
      text += line + "\n";
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("loss_d") && j.contains("loss_g"))
        log_entries.push_back({j["step"].get<int64_t>(), j["loss_d"].get<double>(), j["loss_g"].get<double>()});
      if (j.contains("fd")) result.scores.emplace_back(j["step"].get<int64_t>(), j["fd"].get<double>());
    }
    write_text_atomically(log_path, text);
  }
  std::ofstream log(log_path, std::ios::app);
  GESSO_CHECK(log.good(), "gan train: cannot append to '", log_path, "'");
  std::vector<std::pair<int64_t, double>> earlier_scores = result.scores;
  result.scores.clear();

  Generator sample_init(0);
  DcganGenerator sampler(config.model, sample_init);  // holds the EMA weights when sampling
  sampler.to(device);

  auto sampling_generator = [&]() -> DcganGenerator& {
    if (!ema) return *nets.G;
    sampler.load_state_dict(ema->state_dict());
    return sampler;
  };
  auto save_samples = [&]() {
    Tensor grid = make_grid(generate_images(sampling_generator(), fixed_noise), 8, 2, 1.0);
    char name[64];
    std::snprintf(name, sizeof name, "step_%07lld.png", static_cast<long long>(step));
    save_image((out / "samples" / name).string(), grid);
    save_image((out / "samples.png").string(), grid);
  };
  auto score_now = [&]() {
    Generator g = score_gen;  // the same latents every time: scores differ only by the model
    Tensor z = randn({config.score_samples, config.model.latent}, g);
    const double fd = frechet_distance(real_stats, gaussian_stats(scorer_features(*scorer, generate_images(
                                                                                         sampling_generator(), z))));
    result.scores.emplace_back(step, fd);
    log << "{\"step\":" << step << ",\"fd\":" << fmt_double(fd) << "}\n";
    log.flush();
    return fd;
  };
  int64_t last_checkpoint_step = resume_file.empty() ? -1 : step;
  std::string last_checkpoint_file = resume_file;
  auto save_ck = [&]() {
    nn::Checkpoint ck;
    ck.model = with_prefix(nets.G->state_dict(), "G.");
    for (auto& [k, v] : with_prefix(nets.D->state_dict(), "D.")) ck.model.emplace(k, v);
    ck.optimizer = with_prefix(nets.opt_g->state_dict(), "g.");
    for (auto& [k, v] : with_prefix(nets.opt_d->state_dict(), "d.")) ck.optimizer.emplace(k, v);
    if (ema) ck.extra = with_prefix(ema->state_dict(), "ema.");
    ck.extra.emplace("loader", loader_state_to_tensor(loader_state));
    ck.extra.emplace("fixed_noise", fixed_noise);
    ck.step = step;
    ck.rng = noise;
    ck.config = config.to_json();
    save_checkpoint(ck_path, ck);
    last_checkpoint_step = step;
    last_checkpoint_file = ck_path;
    result.checkpoint = ck_path;
  };
  auto plot = [&]() {
    std::vector<std::pair<int64_t, double>> all = earlier_scores;
    all.insert(all.end(), result.scores.begin(), result.scores.end());
    save_loss_plot(plot_path, log_entries, all);
  };

  if (config.progress) {
    std::fprintf(config.progress, "gan train: %s\n", dataset.description.c_str());
    std::fprintf(config.progress,
                 "gan train: %dx%d DCGAN, G %lld / D %lld parameters, loss %s, batch %lld, %d D step(s) per step, "
                 "steps %lld..%lld, device %s, out %s\n",
                 config.model.image_size, config.model.image_size, static_cast<long long>(nets.G->num_parameters()),
                 static_cast<long long>(nets.D->num_parameters()), loss_name(kind),
                 static_cast<long long>(config.batch), d_steps, static_cast<long long>(step + 1),
                 static_cast<long long>(total_steps), device_name(device), config.out_dir.c_str());
    std::fflush(config.progress);
  }
  if (step >= total_steps) {
    if (config.progress) std::fprintf(config.progress, "gan train: already at step %lld of %lld; nothing to do\n",
                                      static_cast<long long>(step), static_cast<long long>(total_steps));
    result.checkpoint = last_checkpoint_file;
    return result;
  }

  PrefetchLoader loader(dataset.set, config.batch, config.flip, loader_state);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&]() { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  StepStats acc;
  int64_t acc_count = 0, images = 0;
  bool need_newline = false;

  while (step < total_steps) {
    if (config.stop && config.stop->load()) {
      result.interrupted = true;
      break;
    }
    if (config.time_limit_s > 0 && elapsed() >= config.time_limit_s) {
      result.interrupted = true;
      break;
    }
    std::vector<Tensor> reals;
    LoaderState after = loader_state;
    for (int k = 0; k < d_steps; ++k) {
      Batch b = loader.next();
      reals.push_back(b.images.to(device));
      after = b.after;
    }
    StepStats s;
    try {
      s = nets.step(reals, noise);
    } catch (const NonFiniteLoss& e) {
      if (need_newline && config.progress) std::fprintf(config.progress, "\n");
      log.flush();
      const std::string kept =
          last_checkpoint_step >= 0
              ? str("the last good checkpoint is '", last_checkpoint_file, "' (step ", last_checkpoint_step,
                    "), left as it was")
              : std::string("no checkpoint had been written yet");
      fail("gan train: ", e.what(), " at step ", step + 1, "; stopping: ", kept,
           ". Lower the learning rates or try another loss.");
    }
    loader_state = after;
    ++step;
    s.step = step;
    if (ema) ema->update(*nets.G, step - 1);
    result.history.push_back(s);
    result.end_step = step;
    images += config.batch * d_steps;
    acc.loss_d += s.loss_d;
    acc.loss_g += s.loss_g;
    acc.d_real += s.d_real;
    acc.d_fake += s.d_fake;
    ++acc_count;

    const bool last = step == total_steps;
    const double secs = elapsed();
    const double rate = images / std::max(secs, 1e-9);
    const double eta = secs / static_cast<double>(result.history.size()) * static_cast<double>(total_steps - step);
    if (config.progress && (config.progress_tty || step % config.log_every == 0 || last)) {
      std::fprintf(config.progress,
                   "%sstep %lld/%lld  %.0f img/s  ETA %s  loss D %.4f G %.4f  D(x) %.3f  D(G(z)) %.3f%s",
                   config.progress_tty ? "\r" : "", static_cast<long long>(step), static_cast<long long>(total_steps),
                   rate, now_duration(eta).c_str(), s.loss_d, s.loss_g, s.d_real, s.d_fake,
                   config.progress_tty ? "   " : "\n");
      std::fflush(config.progress);
      need_newline = config.progress_tty;
    }
    if (step % config.log_every == 0 || last) {
      const double k = static_cast<double>(acc_count);
      LogEntry e{step, acc.loss_d / k, acc.loss_g / k};
      log_entries.push_back(e);
      log << "{\"step\":" << step << ",\"loss_d\":" << fmt_double(e.loss_d) << ",\"loss_g\":" << fmt_double(e.loss_g)
          << ",\"d_real\":" << fmt_double(acc.d_real / k) << ",\"d_fake\":" << fmt_double(acc.d_fake / k)
          << ",\"img_per_s\":" << fmt_double(rate) << ",\"elapsed_s\":" << fmt_double(secs) << "}\n";
      log.flush();
      acc = StepStats();
      acc_count = 0;
    }
    if (step % config.sample_every == 0 || last) {
      save_samples();
      plot();
    }
    if (scorer && (step % score_every == 0 || last)) {
      const double fd = score_now();
      if (config.progress) {
        std::fprintf(config.progress, "%sgan train: step %lld  Frechet distance (gesso scorer, %lld samples) %.3f\n",
                     need_newline ? "\n" : "", static_cast<long long>(step),
                     static_cast<long long>(config.score_samples), fd);
        need_newline = false;
      }
    }
    if (step % config.checkpoint_every == 0 || last) save_ck();
    if (config.on_step) config.on_step(step);
  }
  if (need_newline && config.progress) std::fprintf(config.progress, "\n");
  if (last_checkpoint_step != step) {
    if (acc_count > 0) {
      const double k = static_cast<double>(acc_count);
      log_entries.push_back({step, acc.loss_d / k, acc.loss_g / k});
      log << "{\"step\":" << step << ",\"loss_d\":" << fmt_double(acc.loss_d / k)
          << ",\"loss_g\":" << fmt_double(acc.loss_g / k) << ",\"d_real\":" << fmt_double(acc.d_real / k)
          << ",\"d_fake\":" << fmt_double(acc.d_fake / k) << "}\n";
      log.flush();
    }
    save_samples();
    plot();
    save_ck();
  }
  result.seconds = elapsed();
  result.images_per_second = images / std::max(result.seconds, 1e-9);
  result.checkpoint = last_checkpoint_file;
  if (config.progress && result.interrupted)
    std::fprintf(config.progress, "gan train: stopped at step %lld; checkpoint '%s' (resume with --resume %s)\n",
                 static_cast<long long>(step), last_checkpoint_file.c_str(), config.out_dir.c_str());
  return result;
}

}  // namespace gesso::gan
