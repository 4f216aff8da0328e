// test_style_transfer.cpp: the optimisation loop end to end on small
// generated pictures with a small random-weight VGG-19 (channels / 8):
// the total loss falls at least 10x in 50 L-BFGS iterations (and falls
// with Adam), multi-scale runs write their intermediate and final images
// and a JSON log line per evaluation, --original-colors keeps the
// content's chroma, style blending, and bad options are refused before any
// work with messages naming them.
#include <doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "style/color.h"
#include "style/transfer.h"
#include "style/vgg19.h"
#include "tensor/image.h"

using namespace gesso;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_style_transfer_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A content picture (a bright disc on a colour ramp) and a style picture
// (diagonal stripes in two colours), written as PNGs.
void write_pictures(const TempDir& dir, int h, int w) {
  std::vector<float> content(3 * h * w), style(3 * h * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float u = static_cast<float>(x) / w, v = static_cast<float>(y) / h;
      const bool disc = (u - 0.5f) * (u - 0.5f) + (v - 0.5f) * (v - 0.5f) < 0.08f;
      content[(0 * h + y) * w + x] = disc ? 0.95f : 0.2f + 0.6f * u;
      content[(1 * h + y) * w + x] = disc ? 0.9f : 0.3f * v;
      content[(2 * h + y) * w + x] = disc ? 0.2f : 0.8f - 0.5f * u;
      const bool stripe = ((x + y) / 3) % 2 == 0;
      style[(0 * h + y) * w + x] = stripe ? 0.1f : 0.9f;
      style[(1 * h + y) * w + x] = stripe ? 0.3f : 0.8f;
      style[(2 * h + y) * w + x] = stripe ? 0.9f : 0.1f;
    }
  save_image(dir.file("content.png"), from_vector(content, {3, h, w}));
  save_image(dir.file("style.png"), from_vector(style, {3, h, w}));
}

style::StyleOptions small_options(const TempDir& dir) {
  style::StyleOptions o;
  o.content_image = dir.file("content.png");
  o.style_images = {dir.file("style.png")};
  o.output = dir.file("out.png");
  o.content_layers = {"relu4_2"};
  o.style_layers = {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"};
  o.content_weight = 1;
  o.style_weight = 1e4;
  o.tv_weight = 0;
  o.image_size = 32;
  o.num_iterations = 50;
  o.print_iter = 0;
  o.save_iter = 0;
  o.init = "random";
  return o;
}

}  // namespace

TEST_CASE("the total loss falls at least 10x in 50 L-BFGS iterations (small image, small random VGG-19)") {
  TempDir dir;
  write_pictures(dir, 32, 32);
  Generator gen(1);
  style::Vgg19 net(style::Pooling::max, 8, gen);
  std::vector<std::string> lines;
  style::StyleOptions o = small_options(dir);
  o.print_iter = 10;
  style::StyleReport r = style::run_style_transfer(net, o, [&](const std::string& l) { lines.push_back(l); });
  INFO("first " << r.first.total << " last " << r.last.total);
  CHECK(r.first.total > 0);
  CHECK(r.last.total * 10 <= r.first.total);
  CHECK(r.iterations == 50);
  CHECK(r.evaluations >= 50);
  CHECK(r.image.shape() == Shape{1, 3, 32, 32});
  CHECK(fs::exists(o.output));
  // One stage line, then progress every 10 iterations with losses, rate and ETA.
  REQUIRE(lines.size() == 6);
  CHECK(lines[1].find("iteration 10/50") == 0);
  CHECK(lines[1].find("it/s") != std::string::npos);
  CHECK(lines[5].find("ETA") != std::string::npos);
}

TEST_CASE("Adam lowers the loss too; smoothing and average pooling run") {
  TempDir dir;
  write_pictures(dir, 32, 32);
  Generator gen(2);
  style::Vgg19 net(style::Pooling::avg, 8, gen);
  style::StyleOptions o = small_options(dir);
  o.optimizer = "adam";
  o.learning_rate = 0.05;
  o.smoothing = true;
  o.smoothing_temperature = 2;
  style::StyleReport r = style::run_style_transfer(net, o);
  CHECK(r.evaluations == 50);
  CHECK(r.last.total * 2 <= r.first.total);
}

TEST_CASE("multi-scale run: intermediate images, the final image at the last size, a JSON log per evaluation") {
  TempDir dir;
  write_pictures(dir, 40, 30);  // portrait: the longer side is the height
  Generator gen(3);
  style::Vgg19 net(style::Pooling::max, 8, gen);
  style::StyleOptions o = small_options(dir);
  o.scales = {32, 48};
  o.num_iterations = 6;
  o.save_iter = 3;
  o.init = "image";
  o.original_colors = true;
  o.tv_weight = 1e-3;
  style::StyleReport r = style::run_style_transfer(net, o);
  CHECK(r.image.shape() == Shape{1, 3, 48, 36});
  CHECK(r.iterations == 12);
  // After iteration 3 of each stage (iteration 6 is the stage's end, not an intermediate).
  CHECK(r.saved == std::vector<std::string>{dir.file("out_32_3.png"), dir.file("out_48_3.png"), o.output});
  for (const auto& p : r.saved) CHECK_MESSAGE(fs::exists(p), p);
  CHECK(load_image(dir.file("out_32_3.png")).shape() == Shape{3, 32, 24});
  Tensor saved = load_image(o.output);
  CHECK(saved.shape() == Shape{3, 48, 36});

  // The log: one JSON object per evaluation, stages 1 then 2.
  REQUIRE(r.log_path == dir.file("out.log.jsonl"));
  std::ifstream log(r.log_path);
  std::string line;
  int64_t count = 0;
  int last_stage = 0;
  while (std::getline(log, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j.contains("total"));
    CHECK(j.contains("content"));
    CHECK(j.contains("style"));
    CHECK(j.contains("tv"));
    CHECK(j["stage"].get<int>() >= last_stage);
    last_stage = j["stage"].get<int>();
    ++count;
  }
  CHECK(count == r.evaluations);
  CHECK(last_stage == 2);

  // --original-colors: the result's chroma is the content's (up to clamping and 8-bit rounding).
  Tensor content = style::load_resized(o.content_image, 48);
  Tensor uv_out = style::rgb_to_yuv(saved.unsqueeze(0)).narrow(1, 1, 2);
  Tensor uv_content = style::rgb_to_yuv(content).narrow(1, 1, 2);
  CHECK(mean(abs(sub(uv_out, uv_content))).item() <= 0.02);
}

TEST_CASE("style blending: weights are normalised, and a zero weight drops that image") {
  TempDir dir;
  write_pictures(dir, 32, 32);
  Generator gen(4);
  style::Vgg19 net(style::Pooling::max, 8, gen);
  style::StyleOptions single = small_options(dir);
  single.num_iterations = 5;
  Tensor a = style::run_style_transfer(net, single).image;
  style::StyleOptions twice = single;
  twice.style_images = {single.style_images[0], single.style_images[0]};
  twice.style_blend_weights = {3, 3};  // 0.5 G + 0.5 G == G exactly
  Tensor b = style::run_style_transfer(net, twice).image;
  CHECK(max(abs(sub(a, b))).item() == 0.0);
  style::StyleOptions dropped = single;
  dropped.style_images = {single.style_images[0], single.content_image};
  dropped.style_blend_weights = {1, 0};
  Tensor c = style::run_style_transfer(net, dropped).image;
  CHECK(max(abs(sub(a, c))).item() == 0.0);
  style::StyleOptions mixed = dropped;
  mixed.style_blend_weights = {1, 1};
  Tensor d = style::run_style_transfer(net, mixed).image;
  CHECK(max(abs(sub(a, d))).item() > 0.0);
}

TEST_CASE("bad options are refused before any work, naming the option") {
  TempDir dir;
  write_pictures(dir, 32, 32);
  Generator gen(5);
  style::Vgg19 net(style::Pooling::max, 8, gen);
  style::StyleOptions o = small_options(dir);
  auto refused = [&](const std::function<void(style::StyleOptions&)>& edit, const char* message) {
    style::StyleOptions bad = o;
    edit(bad);
    CHECK_THROWS_WITH_AS(style::run_style_transfer(net, bad), doctest::Contains(message), Error);
  };
  refused([](auto& b) { b.style_layers = {"relu1_1", "conv9_9"}; }, "--style-layers names layer 'conv9_9'");
  refused([](auto& b) { b.content_layers = {}; }, "--content-layers is empty");
  refused([](auto& b) { b.style_blend_weights = {1, 2}; }, "--style-blend-weights has 2 values for 1 style images");
  refused([](auto& b) { b.style_layer_weights = {1}; }, "--style-layer-weights has 1 values for 5 style layers");
  refused([&](auto& b) { b.content_image = dir.file("absent.png"); }, "content image");
  refused([](auto& b) { b.output = "result.tiff"; }, "must end in .png, .jpg or .jpeg");
  refused([](auto& b) { b.init = "zeros"; }, "--init must be 'image' or 'random'");
  refused([](auto& b) { b.optimizer = "sgd"; }, "--optimizer must be 'lbfgs' or 'adam'");
  refused([](auto& b) { b.style_scale = 0; }, "--style-scale must be > 0");
  refused([](auto& b) { b.num_iterations = 0; }, "--num-iterations must be >= 1");
  CHECK_FALSE(fs::exists(o.output));
  CHECK_THROWS_WITH_AS(style::model_defaults("alexnet"), doctest::Contains("--model must be 'vgg19' or 'resnet50'"),
                       Error);
}
