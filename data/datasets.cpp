/*
 * datasets.cpp: the readers of datasets.h. Files are read through zlib's
 * gzopen/gzread, which reads gzipped and plain files alike.
 */
#include "data/datasets.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "tensor/image.h"

namespace gesso::data {

namespace fs = std::filesystem;

namespace {

// An IDX header can claim any size; beyond this many bytes it is corrupt
// rather than a dataset (the whole of MNIST is 47 MB).
constexpr uint64_t kMaxIdxBytes = 1ull << 34;

struct GzCloser {
  void operator()(gzFile_s* f) const { if (f) gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

GzPtr open_gz(const std::string& path, const char* who) {
  std::error_code ec;
  GESSO_CHECK(fs::exists(path, ec), who, ": no such file '", path, "'");
  GESSO_CHECK(!fs::is_directory(path, ec), who, ": '", path, "' is a directory, expected a file");
  GzPtr f(gzopen(path.c_str(), "rb"));
  GESSO_CHECK(f != nullptr, who, ": cannot open '", path, "' (", std::strerror(errno), ")");
  gzbuffer(f.get(), 1 << 17);
  return f;
}

// Reads up to n bytes; returns how many were read. Throws when zlib reports
// corrupt data (a truncated gzip stream reads short instead: the caller says
// what it expected).
uint64_t read_some(gzFile f, void* dst, uint64_t n, const std::string& path, const char* who) {
  uint64_t done = 0;
  auto* out = static_cast<unsigned char*>(dst);
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<uint64_t>(n - done, 1u << 30));
    int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      // zlib reports a gzip stream that stops early as an error too.
      if (code == Z_BUF_ERROR) break;
      fail(who, ": '", path, "' is corrupt: zlib says '", msg, "' after ", done, " of the ", n, " bytes expected");
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  return done;
}

uint32_t big_endian_u32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Reads an IDX file of unsigned bytes with `ndims` dims; returns the dims and the values.
std::vector<uint8_t> read_idx(const std::string& path, uint32_t ndims, const char* what, const char* who,
                              std::vector<uint32_t>& dims) {
  GzPtr f = open_gz(path, who);
  unsigned char head[4];
  uint64_t got = read_some(f.get(), head, 4, path, who);
  GESSO_CHECK(got == 4, who, ": '", path, "' is not an IDX file: it holds only ", got, " bytes, fewer than the 4-byte magic number");
  const uint32_t magic = big_endian_u32(head);
  const uint32_t expected_magic = 0x0800u | ndims;
  GESSO_CHECK(magic == expected_magic, who, ": '", path, "' has magic number ", hex32(magic), ", expected ",
              hex32(expected_magic), " (an IDX file of unsigned bytes with ", ndims, " dims: ", what,
              "); it is not such an IDX file, or it is corrupt");
  dims.assign(ndims, 0);
  std::vector<unsigned char> dim_bytes(4 * ndims);
  got = read_some(f.get(), dim_bytes.data(), dim_bytes.size(), path, who);
  GESSO_CHECK(got == dim_bytes.size(), who, ": '", path, "' is truncated inside its header: ", got, " of the ",
              dim_bytes.size(), " bytes of dimensions");
  uint64_t count = 1;
  for (uint32_t d = 0; d < ndims; ++d) {
    dims[d] = big_endian_u32(&dim_bytes[4 * d]);
    GESSO_CHECK(d == 0 || dims[d] > 0, who, ": '", path, "' has a zero size in dim ", d, " of its header");
    count *= dims[d];
    GESSO_CHECK(count <= kMaxIdxBytes, who, ": '", path, "' claims an implausible size (more than ", kMaxIdxBytes,
                " values): the header is corrupt");
  }
  const uint64_t header_bytes = 4 + 4ull * ndims;
  if (gzdirect(f.get())) {  // a plain file: its length is known up front
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    GESSO_CHECK(ec || size == header_bytes + count, who, ": '", path, "' is ", size,
                " bytes long, but its header (", what, ") promises ", header_bytes + count, " bytes",
                size < header_bytes + count ? ": the file is truncated" : ": the file has trailing data");
  }
  std::vector<uint8_t> values(count);
  got = read_some(f.get(), values.data(), count, path, who);
  GESSO_CHECK(got == count, who, ": '", path, "' is truncated: its header promises ", count, " bytes of values (",
              what, ") but only ", got, " could be read");
  unsigned char extra;
  GESSO_CHECK(read_some(f.get(), &extra, 1, path, who) == 0, who, ": '", path,
              "' holds more data than its header promises (", count, " bytes of values): it is not a valid IDX file");
  return values;
}

std::string missing_package_hint(const std::string& package) {
  return str("; it comes with the Debian package ", package, " (apt-get install ", package, ")");
}

// <dir>/<name>.gz if present, else <dir>/<name>; throws naming the package otherwise.
std::string find_fashion_file(const std::string& dir, const std::string& name) {
  const fs::path base = fs::path(dir) / name;
  std::error_code ec;
  if (fs::exists(base.string() + ".gz", ec)) return base.string() + ".gz";
  if (fs::exists(base, ec)) return base.string();
  fail("load_fashion_mnist: '", base.string(), ".gz' not found (nor without .gz)",
       missing_package_hint("dataset-fashion-mnist"), ", or pass the directory that holds the IDX files");
}

}  // namespace

Tensor read_idx_images(const std::string& path) {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> values = read_idx(path, 3, "N images of H x W pixels", "read_idx_images", dims);
  Tensor out = Tensor::empty({int64_t(dims[0]), 1, int64_t(dims[1]), int64_t(dims[2])});
  float* o = out.data<float>();
  const int64_t n = static_cast<int64_t>(values.size());
#pragma omp parallel for if (n > 1 << 20)
  for (int64_t i = 0; i < n; ++i) o[i] = values[i] / 255.0f;  // correctly rounded, as load_image
  return out;
}

Tensor read_idx_labels(const std::string& path) {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> values = read_idx(path, 1, "N labels", "read_idx_labels", dims);
  Tensor out = Tensor::empty({int64_t(dims[0])});
  float* o = out.data<float>();
  for (size_t i = 0; i < values.size(); ++i) o[i] = values[i];
  return out;
}

LabelledImages load_fashion_mnist(const std::string& split, const std::string& dir) {
  GESSO_CHECK(split == "train" || split == "test", "load_fashion_mnist: argument 'split' must be \"train\" or \"test\", got \"",
              split, "\"");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_path = find_fashion_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_fashion_file(dir, prefix + "-labels-idx1-ubyte");
  LabelledImages out;
  out.images = read_idx_images(images_path);
  out.labels = read_idx_labels(labels_path);
  out.num_classes = 10;
  GESSO_CHECK(out.images.size(0) == out.labels.size(0), "load_fashion_mnist: '", images_path, "' holds ",
              out.images.size(0), " images but '", labels_path, "' holds ", out.labels.size(0), " labels");
  const float* l = out.labels.data<float>();
  for (int64_t i = 0; i < out.labels.numel(); ++i)
    GESSO_CHECK(l[i] < out.num_classes, "load_fashion_mnist: '", labels_path, "': label ", i, " is ", l[i],
                ", expected a class id in 0..9");
  return out;
}

LabelledImages load_sklearn_digits(const std::string& path) {
  const char* who = "load_sklearn_digits";
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail(who, ": '", path, "' not found", missing_package_hint("python3-sklearn"));
  GzPtr f = open_gz(path, who);
  std::string text;
  char buf[1 << 16];
  for (;;) {
    uint64_t got = read_some(f.get(), buf, sizeof buf, path, who);
    if (got == 0) break;
    text.append(buf, got);
  }
  constexpr int kPixels = 64;
  std::vector<float> pixels, labels;
  size_t pos = 0;
  int line = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string row = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    while (!row.empty() && std::isspace(static_cast<unsigned char>(row.back()))) row.pop_back();
    if (row.empty()) continue;
    const char* p = row.c_str();
    int field = 0;
    for (;; ++field) {
      char* stop = nullptr;
      errno = 0;
      double v = std::strtod(p, &stop);
      GESSO_CHECK(stop != p && errno == 0, who, ": '", path, "' line ", line, ": field ", field + 1,
                  " is not a number");
      if (field < kPixels) {
        GESSO_CHECK(v >= 0 && v <= 16, who, ": '", path, "' line ", line, ": pixel ", field + 1, " is ", v,
                    ", expected a value in 0..16");
        pixels.push_back(static_cast<float>(v / 16.0));
      } else {
        GESSO_CHECK(field == kPixels && v >= 0 && v <= 9 && v == std::floor(v), who, ": '", path, "' line ", line,
                    ": expected 64 pixels and a label in 0..9, got ", field + 1, " fields ending in ", v);
        labels.push_back(static_cast<float>(v));
      }
      p = stop;
      while (*p == ' ' || *p == '\t') ++p;
      if (*p == '\0') break;
      GESSO_CHECK(*p == ',', who, ": '", path, "' line ", line, ": expected ',' after field ", field + 1);
      ++p;
    }
    GESSO_CHECK(field == kPixels, who, ": '", path, "' line ", line, ": expected 65 fields (64 pixels and a label), got ",
                field + 1);
  }
  GESSO_CHECK(!labels.empty(), who, ": '", path, "' holds no digits");
  const int64_t n = static_cast<int64_t>(labels.size());
  LabelledImages out;
  out.images = from_vector(pixels, {n, 1, 8, 8});
  out.labels = from_vector(labels, {n});
  out.num_classes = 10;
  return out;
}

LabelledImages load_image_folder(const std::string& dir, int size, int channels) {
  const char* who = "load_image_folder";
  GESSO_CHECK(size >= 1, who, ": argument 'size' must be >= 1, got ", size);
  GESSO_CHECK(channels == 1 || channels == 3 || channels == 4, who, ": argument 'channels' must be 1, 3 or 4, got ",
              channels);
  std::error_code ec;
  GESSO_CHECK(fs::is_directory(dir, ec), who, ": '", dir, "' is not a directory");
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") files.push_back(e.path().string());
  }
  GESSO_CHECK(!ec, who, ": cannot list '", dir, "' (", ec.message(), ")");
  GESSO_CHECK(!files.empty(), who, ": no .png, .jpg, .jpeg or .bmp images in '", dir, "'");
  std::sort(files.begin(), files.end());

  const int64_t n = static_cast<int64_t>(files.size());
  const int64_t plane = static_cast<int64_t>(channels) * size * size;
  LabelledImages out;
  out.images = Tensor::empty({n, channels, size, size});
  out.labels = zeros({n});
  out.num_classes = 1;
  float* dst = out.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    // load_image's errors name the file already.
    Tensor img = center_crop(resize_shorter_side(load_image(files[i], channels), size), size, size);
    std::memcpy(dst + i * plane, img.data<float>(), plane * sizeof(float));
  }
  return out;
}

}  // namespace gesso::data
