// test_gan_train.cpp: `train_gan` end to end on a tiny real dataset (the
// first 160 Fashion-MNIST test images, written here as IDX files): a few real
// steps lower the discriminator's loss and leave the run folder complete; the
// checkpoint round-trips; a run stopped (as by Ctrl-C) and resumed gives the
// same losses and the same final weights, bit for bit, as a straight run
// (also with WGAN-GP, spectral norm and several critic steps); a NaN loss
// stops the run and keeps the last good checkpoint; bad input gives one
// clear error and writes nothing; transfer learning with frozen layers; the
// scorer and the Frechet distance logged during training.
#include <doctest.h>

#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "data/datasets.h"
#include "gan/data.h"
#include "gan/metrics.h"
#include "gan/trainer.h"
#include "nn/checkpoint.h"
#include "tensor/image.h"

using namespace gesso;
using namespace gesso::gan;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_gan_train_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string sub(const std::string& name) const { return (path / name).string(); }
};

std::string be32(uint32_t v) { return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)}; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The first n Fashion-MNIST test images and labels as an IDX folder (made once per process).
const std::string& tiny_fashion(int64_t n = 160) {
  static TempDir dir;
  static std::string path;
  if (!path.empty()) return path;
  data::LabelledImages t = data::load_fashion_mnist("test");
  std::vector<float> px = t.images.narrow(0, 0, n).contiguous().to_vector<float>();
  std::vector<float> lb = t.labels.narrow(0, 0, n).contiguous().to_vector<float>();
  std::string images = be32(0x803) + be32(static_cast<uint32_t>(n)) + be32(28) + be32(28), labels =
                                                                                               be32(0x801) + be32(static_cast<uint32_t>(n));
  for (float v : px) images.push_back(static_cast<char>(static_cast<int>(std::lround(v * 255))));
  for (float v : lb) labels.push_back(static_cast<char>(static_cast<int>(v)));
  write_bytes(dir.sub("train-images-idx3-ubyte"), images);
  write_bytes(dir.sub("train-labels-idx1-ubyte"), labels);
  path = dir.path.string();
  return path;
}

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.data = tiny_fashion();
  c.model.image_size = 28;
  c.model.channels = 1;
  c.model.latent = 8;
  c.model.g_width = c.model.d_width = 4;
  c.batch = 8;
  c.steps = 6;
  c.lr_g = c.lr_d = 1e-3;
  c.out_dir = out;
  c.log_every = 2;
  c.sample_every = 100;
  c.checkpoint_every = 100;
  c.seed = 3;
  return c;
}

void check_same_history(const std::vector<StepStats>& a, const std::vector<StepStats>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].step == b[i].step);
    CHECK(a[i].loss_d == b[i].loss_d);  // exact: bit-for-bit equality is the point
    CHECK(a[i].loss_g == b[i].loss_g);
    CHECK(a[i].d_real == b[i].d_real);
    CHECK(a[i].d_fake == b[i].d_fake);
  }
}

// Every tensor of two checkpoints equal, bit for bit, and the same step.
void check_same_checkpoint(const std::string& a, const std::string& b) {
  nn::Checkpoint x = nn::load_checkpoint(a), y = nn::load_checkpoint(b);
  CHECK(x.step == y.step);
  CHECK(x.rng.offset == y.rng.offset);
  for (auto part : {&nn::Checkpoint::model, &nn::Checkpoint::optimizer, &nn::Checkpoint::extra}) {
    const nn::StateDict& p = x.*part;
    const nn::StateDict& q = y.*part;
    REQUIRE(p.size() == q.size());
    for (const auto& [name, t] : p) {
      CAPTURE(name);
      REQUIRE(q.count(name) == 1);
      CHECK(t.to_vector<double>() == q.at(name).to_vector<double>());
    }
  }
}

}  // namespace

TEST_CASE("a few real steps lower the discriminator's loss and fill the run folder") {
  TempDir tmp;
  TrainConfig c = tiny_config(tmp.sub("run"));
  c.model.g_width = c.model.d_width = 8;
  c.batch = 16;
  c.steps = 24;
  c.sample_every = 12;
  TrainResult r = train_gan(c);
  REQUIRE(r.history.size() == 24);
  CHECK(r.end_step == 24);
  CHECK_FALSE(r.interrupted);
  double first = 0, last = 0;
  for (int i = 0; i < 3; ++i) first += r.history[i].loss_d / 3;
  for (int i = 19; i < 24; ++i) last += r.history[i].loss_d / 5;
  CAPTURE(first);
  CAPTURE(last);
  CHECK(first > 1.0);  // near 2 log 2 at the start: D cannot tell yet
  CHECK(last < 0.75 * first);
  for (const auto& s : r.history) {
    REQUIRE(std::isfinite(s.loss_g));
    REQUIRE((s.d_real >= 0 && s.d_real <= 1 && s.d_fake >= 0 && s.d_fake <= 1));  // probabilities for this loss
  }
  const fs::path out(c.out_dir);
  CHECK(fs::exists(out / "checkpoint.safetensors"));
  CHECK(fs::exists(out / "config.json"));
  CHECK(fs::exists(out / "samples" / "step_0000012.png"));
  CHECK(fs::exists(out / "samples" / "step_0000024.png"));
  Tensor grid = load_image((out / "samples.png").string());
  CHECK(grid.shape() == Shape{1, 8 * 30 + 2, 8 * 30 + 2});  // 64 grey images of 28 px, 8 per row, 2 px apart
  CHECK(load_image((out / "loss.png").string()).shape() == Shape{3, 320, 720});
  std::ifstream log((out / "log.jsonl").string());
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  CHECK(lines == 12);  // every 2 steps
}

TEST_CASE("checkpoint round trip: names, step, config, generator with and without EMA") {
  TempDir tmp;
  TrainConfig c = tiny_config(tmp.sub("run"));
  c.steps = 3;
  TrainResult r = train_gan(c);
  nn::Checkpoint ck = nn::load_checkpoint(r.checkpoint);
  CHECK(ck.step == 3);
  CHECK(ck.model.count("G.main.0.weight") == 1);
  CHECK(ck.model.count("D.main.0.weight") == 1);
  CHECK(ck.model.count("G.main.1.running_var") == 1);
  CHECK(ck.optimizer.count("g.state.0.exp_avg") == 1);
  CHECK(ck.optimizer.count("d.state.0.exp_avg_sq") == 1);
  CHECK(ck.extra.count("ema.main.0.weight") == 1);
  CHECK(ck.extra.count("loader") == 1);
  CHECK(ck.extra.at("fixed_noise").shape() == Shape{64, 8});
  TrainConfig back = TrainConfig::from_json(ck.config);
  CHECK(back.model.difference(c.model).empty());
  CHECK(back.data == c.data);
  CHECK(back.steps == 3);
  CHECK(back.lr_d == c.lr_d);
  TrainConfig seen;
  auto ema = load_generator(c.out_dir, true, &seen);
  auto live = load_generator(r.checkpoint, false);
  CHECK(seen.seed == c.seed);
  Tensor z = latents_for_seeds({1, 2}, 8);
  Tensor a = generate_images(*ema, z), b = generate_images(*live, z);
  REQUIRE(a.shape() == Shape{2, 1, 28, 28});
  for (float v : a.to_vector<float>()) REQUIRE((v >= 0 && v <= 1));
  CHECK(a.to_vector<float>() != b.to_vector<float>());  // the average lags the live weights
  // Resuming a finished run has nothing to do.
  TrainConfig again = c;
  again.resume = c.out_dir;
  TrainResult done = train_gan(again);
  CHECK(done.history.empty());
  CHECK(done.end_step == 3);
}

TEST_CASE("stopped (as by Ctrl-C) and resumed equals straight, bit for bit") {
  TempDir tmp;
  TrainConfig straight = tiny_config(tmp.sub("straight"));
  straight.flip = true;
  TrainResult full = train_gan(straight);
  REQUIRE(full.history.size() == 6);

  std::atomic<bool> stop{false};
  TrainConfig first = tiny_config(tmp.sub("split"));
  first.flip = true;
  first.stop = &stop;
  first.on_step = [&](int64_t step) {
    if (step == 3) stop = true;
  };
  TrainResult a = train_gan(first);
  CHECK(a.interrupted);
  CHECK(a.end_step == 3);
  CHECK(nn::load_checkpoint(a.checkpoint).step == 3);

  TrainConfig second = tiny_config(tmp.sub("split"));
  second.flip = true;
  second.resume = tmp.sub("split");
  TrainResult b = train_gan(second);
  CHECK(b.start_step == 3);
  std::vector<StepStats> joined = a.history;
  joined.insert(joined.end(), b.history.begin(), b.history.end());
  check_same_history(full.history, joined);
  check_same_checkpoint(full.checkpoint, b.checkpoint);
  // The log was rewritten from the resumed step: 3 lines, at steps 2, 4, 6 (+ the stop line at 3).
  std::ifstream log(tmp.sub("split") + "/log.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line);) ++lines;
  CHECK(lines == 4);
}

TEST_CASE("resume equality with WGAN-GP, spectral norm and two critic steps per step") {
  TempDir tmp;
  auto config = [&](const std::string& out, int64_t steps) {
    TrainConfig c = tiny_config(out);
    c.loss = "wgan-gp";
    c.model.d_norm = "none";
    c.model.spectral_norm = true;
    c.d_steps = 2;
    c.steps = steps;
    return c;
  };
  TrainResult full = train_gan(config(tmp.sub("a"), 4));
  TrainResult half = train_gan(config(tmp.sub("b"), 2));
  TrainConfig rest = config(tmp.sub("b"), 4);
  rest.resume = half.checkpoint;
  TrainResult more = train_gan(rest);
  std::vector<StepStats> joined = half.history;
  joined.insert(joined.end(), more.history.begin(), more.history.end());
  check_same_history(full.history, joined);
  check_same_checkpoint(full.checkpoint, more.checkpoint);
}

TEST_CASE("a non-finite loss stops the run with a message and keeps the last good checkpoint") {
  TempDir tmp;
  TrainConfig c = tiny_config(tmp.sub("run"));
  c.loss = "wgan-gp";
  c.model.d_norm = "none";
  c.d_steps = 1;
  c.steps = 1;
  train_gan(c);  // a good step 1 and its checkpoint
  const std::string ck = tmp.sub("run") + "/checkpoint.safetensors";
  REQUIRE(nn::load_checkpoint(ck).step == 1);
  const auto written = fs::last_write_time(ck);
  // Continue with an absurd critic learning rate: its first update overflows
  // the weights, so the scores become +-inf and their difference NaN.
  c.steps = 4;
  c.lr_d = 1e38;
  c.checkpoint_every = 1;
  c.resume = tmp.sub("run");
  std::string message;
  try {
    train_gan(c);
  } catch (const Error& e) {
    message = e.what();
  }
  CAPTURE(message);
  CHECK(message.find("loss became") != std::string::npos);
  CHECK(message.find("at step 2; stopping: the last good checkpoint is '" + ck + "' (step 1), left as it was") !=
        std::string::npos);
  CHECK(nn::load_checkpoint(ck).step == 1);
  CHECK(fs::last_write_time(ck) == written);
}

TEST_CASE("GanModels::step refuses a non-finite loss before updating any weight") {
  ModelConfig m = tiny_config("unused").model;
  Generator init(1), noise(2);
  GanModels nets(m, LossKind::nonsaturating, 1e-3, 1e-3, 0.5, 0.999, 0, init);
  Tensor before = nets.D->state_dict().at("main.0.weight").clone();
  Tensor real = full({4, 1, 28, 28}, std::nan(""));
  CHECK_THROWS_WITH_AS(nets.step({real}, noise), doctest::Contains("the discriminator loss became NaN"), NonFiniteLoss);
  CHECK(nets.D->state_dict().at("main.0.weight").to_vector<float>() == before.to_vector<float>());
  // With finite data the same models step normally.
  StepStats s = nets.step({zeros({4, 1, 28, 28})}, noise);
  CHECK(std::isfinite(s.loss_d));
  CHECK(nets.D->state_dict().at("main.0.weight").to_vector<float>() != before.to_vector<float>());
}

TEST_CASE("bad input gives one clear error and writes nothing") {
  TempDir tmp;
  const std::string out = tmp.sub("never");
  auto fails_cleanly = [&](TrainConfig c, const std::string& expected) {
    CAPTURE(expected);
    c.out_dir = out;
    CHECK_THROWS_WITH_AS(train_gan(c), doctest::Contains(expected.c_str()), Error);
    CHECK_FALSE(fs::exists(out));
  };
  fs::create_directories(tmp.sub("empty"));
  TrainConfig c = tiny_config(out);
  c.data = tmp.sub("empty");
  fails_cleanly(c, "no .png, .jpg, .jpeg or .bmp images in");

  fs::create_directories(tmp.sub("broken"));
  write_bytes(tmp.sub("broken/cat.jpg"), "not a JPEG");
  c.data = tmp.sub("broken");
  fails_cleanly(c, "cat.jpg");

  fs::create_directories(tmp.sub("idx"));
  write_bytes(tmp.sub("idx/train-images-idx3-ubyte"), be32(0x803) + be32(10) + be32(28) + be32(28) + "short");
  c.data = tmp.sub("idx");
  fails_cleanly(c, "truncated");

  // A checkpoint of another model size, to resume from or to start from.
  TrainConfig small = tiny_config(tmp.sub("small"));
  small.steps = 1;
  train_gan(small);
  TrainConfig wider = tiny_config(out);
  wider.model.g_width = 6;
  wider.resume = tmp.sub("small");
  fails_cleanly(wider, "was trained with another model (generator width 4 vs 6, checkpoint vs this run)");
  wider.resume.clear();
  wider.init_from = tmp.sub("small/checkpoint.safetensors");
  fails_cleanly(wider, "holds another model (generator width 4 vs 6");
  TrainConfig other_batch = tiny_config(out);
  other_batch.batch = 4;
  other_batch.resume = tmp.sub("small");
  fails_cleanly(other_batch, "was trained with batch 8, this run asks for 4");
  TrainConfig typo = tiny_config(out);
  typo.freeze = {"G.mian.0"};
  fails_cleanly(typo, "--freeze 'G.mian.0' matches no parameter");
  TrainConfig not_a_checkpoint = tiny_config(out);
  not_a_checkpoint.resume = tmp.sub("small/config.json");
  fails_cleanly(not_a_checkpoint, "config.json");
  TrainConfig gp_with_bn = tiny_config(out);
  gp_with_bn.loss = "wgan-gp";
  fails_cleanly(gp_with_bn, "use the discriminator norm \"none\"");
  TrainConfig too_big_batch = tiny_config(out);
  too_big_batch.batch = 161;
  fails_cleanly(too_big_batch, "the data holds 160 images, fewer than one batch of 161");
}

TEST_CASE("transfer learning: start from another run's weights with the first generator layer frozen") {
  TempDir tmp;
  TrainConfig a = tiny_config(tmp.sub("a"));
  a.steps = 2;
  train_gan(a);
  TrainConfig b = tiny_config(tmp.sub("b"));
  b.data = "digits";  // fine-tune on another set: sklearn's 8x8 digits, resized to 28
  b.init_from = tmp.sub("a");
  b.freeze = {"G.main.0", "D.main.0"};
  b.steps = 3;
  TrainResult r = train_gan(b);
  CHECK(r.start_step == 0);
  nn::Checkpoint ca = nn::load_checkpoint(tmp.sub("a/checkpoint.safetensors"));
  nn::Checkpoint cb = nn::load_checkpoint(r.checkpoint);
  CHECK(cb.step == 3);
  for (const char* frozen : {"G.main.0.weight", "D.main.0.weight", "D.main.0.bias"})
    CHECK(ca.model.at(frozen).to_vector<float>() == cb.model.at(frozen).to_vector<float>());
  for (const char* trained : {"G.main.3.weight", "D.main.2.weight"})
    CHECK(ca.model.at(trained).to_vector<float>() != cb.model.at(trained).to_vector<float>());
  // Resuming the fine-tuning run keeps its layers frozen (the run config carries --freeze).
  TrainConfig more = TrainConfig::from_json(cb.config);
  more.init_from.clear();
  more.resume = tmp.sub("b");
  more.steps = 5;
  TrainResult r2 = train_gan(more);
  CHECK(r2.start_step == 3);
  nn::Checkpoint cc = nn::load_checkpoint(r2.checkpoint);
  CHECK(cc.step == 5);
  CHECK(ca.model.at("G.main.0.weight").to_vector<float>() == cc.model.at("G.main.0.weight").to_vector<float>());
  CHECK(cb.model.at("G.main.3.weight").to_vector<float>() != cc.model.at("G.main.3.weight").to_vector<float>());
}

TEST_CASE("scorer: trained on labelled images, saved and loaded; the Frechet distance is logged during training") {
  TempDir tmp;
  gan::Dataset d = load_dataset({tiny_fashion(), 28, 0, "train", 0});
  ScorerTrainOptions o;
  o.epochs = 2;
  o.batch = 32;
  auto scorer = train_scorer(d.set, &d.set, "tiny", o);
  const double acc = scorer_accuracy(*scorer, d.set);
  CHECK(acc > 0.3);  // 10 classes: chance is 0.1; two epochs on 160 images already do far better
  const std::string path = tmp.sub("scorer.safetensors");
  save_scorer(path, *scorer);
  auto back = load_scorer(path);
  CHECK(back->info.num_classes == 10);
  CHECK(back->info.test_accuracy == doctest::Approx(scorer->info.test_accuracy));
  Tensor f1 = scorer_features(*scorer, d.set.images.narrow(0, 0, 40));
  Tensor f2 = scorer_features(*back, d.set.images.narrow(0, 0, 40), 16);  // other batch split: same features
  REQUIRE(f1.shape() == Shape{40, 128});
  CHECK(f1.to_vector<float>() == f2.to_vector<float>());
  GaussianStats s = gaussian_stats(f1);
  CHECK(frechet_distance(s, s) == doctest::Approx(0).epsilon(1e-9));
  CHECK_THROWS_WITH_AS(load_scorer(tmp.sub("nothing.safetensors")), doctest::Contains("nothing.safetensors"), Error);

  TrainConfig c = tiny_config(tmp.sub("run"));
  c.scorer = path;
  c.score_every = 2;
  c.score_samples = 40;
  c.steps = 4;
  TrainResult r = train_gan(c);
  REQUIRE(r.scores.size() == 2);
  CHECK(r.scores[0].first == 2);
  CHECK(std::isfinite(r.scores[1].second));
  CHECK(r.scores[1].second > 0);
  // A set of one class cannot train a scorer.
  data::LabelledImages one = d.set;
  one.num_classes = 1;
  CHECK_THROWS_WITH_AS(train_scorer(one, nullptr, "x", o), doctest::Contains("needs a labelled set"), Error);
}
