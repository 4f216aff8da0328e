// test_datasets.cpp: the dataset readers on the real packaged files
// (Fashion-MNIST test split, scikit-learn digits), IDX files written here
// (plain, gzipped, truncated, wrong magic) and image folders.
#include <doctest.h>

#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "data/datasets.h"
#include "tensor/image.h"

using namespace gesso;
using namespace gesso::data;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_datasets_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string be32(uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

// An IDX image file: header for n images of h x w, then `pixels` bytes (maybe fewer or more).
std::string idx_images(uint32_t n, uint32_t h, uint32_t w, const std::string& pixels, uint32_t magic = 0x803) {
  return be32(magic) + be32(n) + be32(h) + be32(w) + pixels;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::string pixel_ramp(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 % 256);
  return s;
}

}  // namespace

TEST_CASE("Fashion-MNIST test split: 10000 images 28x28 and 1000 of each class") {
  LabelledImages d = load_fashion_mnist("test");
  CHECK(d.num_classes == 10);
  REQUIRE(d.images.shape() == Shape{10000, 1, 28, 28});
  REQUIRE(d.labels.shape() == Shape{10000});
  std::vector<float> labels = d.labels.to_vector<float>();
  std::vector<int> counts(10, 0);
  for (float l : labels) {
    REQUIRE(l >= 0);
    REQUIRE(l <= 9);
    REQUIRE(l == std::floor(l));
    ++counts[static_cast<int>(l)];
  }
  for (int c = 0; c < 10; ++c) CHECK(counts[c] == 1000);
  CHECK(labels[0] == 9);  // the first test item is an ankle boot
  CHECK(labels[1] == 2);  // then a pullover
  // Pixels span [0, 1] in steps of 1/255.
  std::vector<float> px = d.images.narrow(0, 0, 100).to_vector<float>();
  CHECK(*std::min_element(px.begin(), px.end()) == 0.0f);
  CHECK(*std::max_element(px.begin(), px.end()) == 1.0f);
  CHECK(std::all_of(px.begin(), px.end(), [](float v) { return std::abs(v * 255 - std::round(v * 255)) < 1e-4; }));
  CHECK_THROWS_WITH_AS(load_fashion_mnist("valid"), doctest::Contains("'split' must be \"train\" or \"test\""), Error);
}

TEST_CASE("a missing packaged dataset names the Debian package that provides it") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(load_fashion_mnist("test", dir.path.string()),
                       doctest::Contains("Debian package dataset-fashion-mnist"), Error);
  CHECK_THROWS_WITH_AS(load_sklearn_digits(dir.file("digits.csv.gz")), doctest::Contains("Debian package python3-sklearn"),
                       Error);
}

TEST_CASE("scikit-learn digits: 1797 8x8 images in [0, 1], first label 0") {
  LabelledImages d = load_sklearn_digits();
  CHECK(d.num_classes == 10);
  REQUIRE(d.images.shape() == Shape{1797, 1, 8, 8});
  REQUIRE(d.labels.shape() == Shape{1797});
  std::vector<float> labels = d.labels.to_vector<float>();
  CHECK(labels[0] == 0);
  CHECK(labels[1] == 1);
  CHECK(labels[2] == 2);
  std::vector<float> px = d.images.to_vector<float>();
  CHECK(*std::max_element(px.begin(), px.end()) == 1.0f);
  CHECK(*std::min_element(px.begin(), px.end()) == 0.0f);
  // First row of the file: 0,0,5,13,9,1,0,0
  CHECK(px[2] == 5 / 16.0f);
  CHECK(px[3] == 13 / 16.0f);
}

TEST_CASE("the sklearn CSV reader rejects a malformed row, naming the line") {
  TempDir dir;
  std::string good_row;
  for (int i = 0; i < 64; ++i) good_row += "1,";
  write_gz(dir.file("d.csv.gz"), good_row + "3\n" + good_row + "\n");
  CHECK_THROWS_WITH_AS(load_sklearn_digits(dir.file("d.csv.gz")), doctest::Contains("line 2: field 65 is not a number"),
                       Error);
  write_gz(dir.file("d.csv.gz"), good_row + "3\n" + good_row + "17\n");
  CHECK_THROWS_WITH_AS(load_sklearn_digits(dir.file("d.csv.gz")), doctest::Contains("line 2"), Error);
  write_gz(dir.file("d.csv.gz"), good_row + "3\n");
  CHECK(load_sklearn_digits(dir.file("d.csv.gz")).labels.to_vector<float>() == std::vector<float>{3});
}

TEST_CASE("IDX files round-trip, plain and gzipped") {
  TempDir dir;
  const std::string pixels = pixel_ramp(3 * 4 * 5);
  for (bool gz : {false, true}) {
    INFO("gzipped ", gz);
    const std::string p = dir.file(gz ? "i.gz" : "i");
    (gz ? write_gz : write_plain)(p, idx_images(3, 4, 5, pixels));
    Tensor x = read_idx_images(p);
    REQUIRE(x.shape() == Shape{3, 1, 4, 5});
    std::vector<float> v = x.to_vector<float>();
    for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<unsigned char>(pixels[i]) / 255.0f);
  }
  write_gz(dir.file("l.gz"), be32(0x801) + be32(4) + std::string("\x00\x09\x03\x07", 4));
  CHECK(read_idx_labels(dir.file("l.gz")).to_vector<float>() == std::vector<float>{0, 9, 3, 7});
}

TEST_CASE("truncated and corrupt IDX files give clear errors") {
  TempDir dir;
  const std::string p = dir.file("bad.gz");
  SUBCASE("gzipped, fewer pixels than the header promises") {
    write_gz(p, idx_images(5, 28, 28, pixel_ramp(2 * 28 * 28)));
    CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("is truncated: its header promises 3920 bytes of values"),
                         Error);
  }
  SUBCASE("a gzip stream cut short") {
    write_gz(p, idx_images(50, 28, 28, pixel_ramp(50 * 28 * 28)));
    std::ifstream in(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    write_plain(p, bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("is truncated"), Error);
  }
  SUBCASE("plain file, too short") {
    write_plain(p, idx_images(5, 28, 28, pixel_ramp(100)));
    CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("promises 3936 bytes: the file is truncated"), Error);
  }
  SUBCASE("trailing data") {
    write_gz(p, idx_images(1, 2, 2, pixel_ramp(5)));
    CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("more data than its header promises"), Error);
  }
  SUBCASE("wrong magic: a labels file read as images") {
    write_gz(p, be32(0x801) + be32(2) + std::string("\x01\x02", 2));
    CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("has magic number 0x00000801, expected 0x00000803"), Error);
  }
  SUBCASE("wrong magic: not an IDX file at all") {
    write_gz(p, "PK\x03\x04 some zip file");
    CHECK_THROWS_WITH_AS(read_idx_labels(p), doctest::Contains("expected 0x00000801"), Error);
  }
  SUBCASE("a file shorter than the magic") {
    write_plain(p, "ab");
    CHECK_THROWS_WITH_AS(read_idx_labels(p), doctest::Contains("fewer than the 4-byte magic number"), Error);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(read_idx_images(dir.file("none.gz")), doctest::Contains("no such file"), Error);
  }
  SUBCASE("the message names the file") {
    write_plain(p, "ab");
    CHECK_THROWS_WITH_AS(read_idx_labels(p), doctest::Contains(p.c_str()), Error);
  }
}

TEST_CASE("load_fashion_mnist also reads un-gzipped files and checks image/label counts") {
  TempDir dir;
  write_plain(dir.file("t10k-images-idx3-ubyte"), idx_images(2, 28, 28, pixel_ramp(2 * 28 * 28)));
  write_plain(dir.file("t10k-labels-idx1-ubyte"), be32(0x801) + be32(2) + std::string("\x04\x05", 2));
  LabelledImages d = load_fashion_mnist("test", dir.path.string());
  CHECK(d.images.shape() == Shape{2, 1, 28, 28});
  CHECK(d.labels.to_vector<float>() == std::vector<float>{4, 5});
  write_plain(dir.file("t10k-labels-idx1-ubyte"), be32(0x801) + be32(3) + std::string("\x04\x05\x01", 3));
  CHECK_THROWS_WITH_AS(load_fashion_mnist("test", dir.path.string()), doctest::Contains("holds 2 images but"), Error);
}

TEST_CASE("load_image_folder: sorted, resized on the shorter side, centre-cropped") {
  TempDir dir;
  Generator gen(4);
  // b.png is 8x16 (wide), a.jpg is 12x12, c.BMP would be skipped by extension if it were .txt
  Tensor wide = rand({3, 8, 16}, gen);
  save_image(dir.file("b.png"), wide);
  save_image(dir.file("a.png"), full({3, 12, 12}, 0.25));
  std::ofstream(dir.file("notes.txt")) << "not an image, skipped by extension\n";
  LabelledImages d = load_image_folder(dir.path.string(), 4, 3);
  REQUIRE(d.images.shape() == Shape{2, 3, 4, 4});
  CHECK(d.num_classes == 1);
  CHECK(d.labels.to_vector<float>() == std::vector<float>{0, 0});
  std::vector<float> first = d.images.narrow(0, 0, 1).to_vector<float>();
  CHECK(std::all_of(first.begin(), first.end(), [](float v) { return v == 64 / 255.0f; }));  // a.png first; 0.25 is stored as 64/255
  // b.png: 8x16 -> 4x8 (exact 2x2 means) -> columns 2..5.
  Tensor expect = center_crop(resize_image(load_image(dir.file("b.png")), 4, 8), 4, 4);
  CHECK(d.images.narrow(0, 1, 1).squeeze(0).to_vector<float>() == expect.to_vector<float>());

  LabelledImages grey = load_image_folder(dir.path.string(), 4, 1);
  CHECK(grey.images.shape() == Shape{2, 1, 4, 4});

  std::ofstream(dir.file("broken.png")) << "not a png";
  CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), 4, 3), doctest::Contains("broken.png' is not an image"), Error);
  TempDir empty;
  CHECK_THROWS_WITH_AS(load_image_folder(empty.path.string(), 4, 3), doctest::Contains("no .png, .jpg, .jpeg or .bmp images in"),
                       Error);
  CHECK_THROWS_WITH_AS(load_image_folder(empty.file("nope"), 4, 3), doctest::Contains("is not a directory"), Error);
}
