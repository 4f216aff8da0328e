// test_image.cpp: image files (PNG/JPEG round trips, channel conversion,
// errors) and the image helpers: resize against naive references, centre
// crop, make_grid.
#include <doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include <zlib.h>

#include "autograd/ops.h"
#include "kernels/resize.h"
#include "tensor/image.h"
#include "stb_image_write.h"  // implementation compiled in tensor/image.cpp

using namespace gesso;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_image_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Values k / 255 for random k: what an 8-bit file can hold exactly.
Tensor random_8bit_image(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v = rand(s, gen).to_vector<float>();
  for (float& x : v) x = std::floor(x * 256.0f) / 255.0f;
  return from_vector(v, s);
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

// Naive 2-D box filter: output (i, j) averages the input rectangle
// [i*H/oh, (i+1)*H/oh) x [j*W/ow, (j+1)*W/ow), each pixel weighted by the area covered.
std::vector<double> area_reference(const std::vector<float>& x, int C, int H, int W, int oh, int ow) {
  std::vector<double> y(size_t(C) * oh * ow, 0.0);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        double y0 = double(i) * H / oh, y1 = double(i + 1) * H / oh;
        double x0 = double(j) * W / ow, x1 = double(j + 1) * W / ow;
        double acc = 0;
        for (int p = 0; p < H; ++p)
          for (int q = 0; q < W; ++q) {
            double cover_y = std::max(0.0, std::min(y1, p + 1.0) - std::max(y0, double(p)));
            double cover_x = std::max(0.0, std::min(x1, q + 1.0) - std::max(x0, double(q)));
            acc += cover_y * cover_x * x[(size_t(c) * H + p) * W + q];
          }
        y[(size_t(c) * oh + i) * ow + j] = acc / ((y1 - y0) * (x1 - x0));
      }
  return y;
}

// Naive bilinear with half-pixel centres, clamped at the edges (PyTorch's align_corners=False).
std::vector<double> bilinear_reference(const std::vector<float>& x, int C, int H, int W, int oh, int ow) {
  std::vector<double> y(size_t(C) * oh * ow);
  auto coord = [](int o, int in, int out, int& i0, int& i1, double& t) {
    double s = std::max((o + 0.5) * in / out - 0.5, 0.0);
    i0 = std::min(int(s), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    t = s - i0;
  };
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        int a0, a1, b0, b1;
        double ty, tx;
        coord(i, H, oh, a0, a1, ty);
        coord(j, W, ow, b0, b1, tx);
        auto at = [&](int p, int q) { return double(x[(size_t(c) * H + p) * W + q]); };
        y[(size_t(c) * oh + i) * ow + j] = (1 - ty) * ((1 - tx) * at(a0, b0) + tx * at(a0, b1)) +
                                           ty * ((1 - tx) * at(a1, b0) + tx * at(a1, b1));
      }
  return y;
}

void check_close(const std::vector<float>& got, const std::vector<double>& ref, double atol, double rtol) {
  REQUIRE(got.size() == ref.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(std::abs(got[i] - ref[i]) <= atol + rtol * std::abs(ref[i]));
  }
}

}  // namespace

TEST_CASE("PNG round trip is exact for 8-bit values, for 1, 2, 3 and 4 channels") {
  TempDir dir;
  for (int64_t C : {1, 2, 3, 4}) {
    INFO("channels ", C);
    Tensor img = random_8bit_image({C, 5, 7}, 10 + C);
    const std::string p = dir.file("img" + std::to_string(C) + ".png");
    save_image(p, img);
    Tensor back = load_image(p);
    CHECK(back.shape() == img.shape());
    CHECK(back.dtype() == DType::f32);
    CHECK(back.to_vector<float>() == img.to_vector<float>());
  }
  // (H, W) is written as grey; float64 and upper-case extensions work too.
  Tensor hw = random_8bit_image({6, 3}, 3).to(DType::f64);
  save_image(dir.file("hw.PNG"), hw);
  Tensor back = load_image(dir.file("hw.PNG"));
  CHECK(back.shape() == Shape{1, 6, 3});
  CHECK(back.to_vector<double>() == hw.to_vector<double>());
}

// A minimal 16-bit greyscale PNG (one row), assembled chunk by chunk.
std::string png16_grey_row(const std::vector<uint16_t>& values) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    std::string body = type + data;
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
  };
  // width, height, bit depth 16, colour type 0 (grey), compression, filter, interlace
  std::string ihdr = be32(static_cast<uint32_t>(values.size())) + be32(1) + std::string("\x10\x00\x00\x00\x00", 5);
  std::string raw(1, '\0');  // filter type 0 for the row
  for (uint16_t v : values) raw += std::string{char(v >> 8), char(v & 0xff)};
  std::string compressed(compressBound(static_cast<uLong>(raw.size())), '\0');
  uLongf len = static_cast<uLongf>(compressed.size());
  REQUIRE(compress(reinterpret_cast<Bytef*>(compressed.data()), &len, reinterpret_cast<const Bytef*>(raw.data()),
                   static_cast<uLong>(raw.size())) == Z_OK);
  compressed.resize(len);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", compressed) + chunk("IEND", "");
}

TEST_CASE("16-bit PNGs keep their 16 bits; BMP files are read") {
  TempDir dir;
  {
    std::string bytes = png16_grey_row({0, 0xffff, 0x8000, 0x0101});
    std::ofstream(dir.file("g16.png"), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  Tensor g = load_image(dir.file("g16.png"));
  REQUIRE(g.shape() == Shape{1, 1, 4});
  std::vector<float> v = g.to_vector<float>();
  CHECK(v[0] == 0.0f);
  CHECK(v[1] == 1.0f);
  CHECK(v[2] == 32768 / 65535.0f);  // not representable in 8 bits
  CHECK(v[3] == 257 / 65535.0f);

  const int W = 5, H = 3;
  std::vector<unsigned char> rgb(W * H * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<unsigned char>(i * 17);
  REQUIRE(stbi_write_bmp(dir.file("c.bmp").c_str(), W, H, 3, rgb.data()) != 0);
  Tensor b = load_image(dir.file("c.bmp"));
  REQUIRE(b.shape() == Shape{3, H, W});
  std::vector<float> bv = b.to_vector<float>();
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < W * H; ++p) CHECK(bv[c * W * H + p] == rgb[p * 3 + c] / 255.0f);
}

TEST_CASE("save_image clamps to [0, 1] and writes NaN as 0") {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  save_image(dir.file("c.png"), from_vector(std::vector<float>{-1.0f, 2.0f, nan, 0.5f}, {1, 2, 2}));
  std::vector<float> v = load_image(dir.file("c.png")).to_vector<float>();
  CHECK(v[0] == 0.0f);
  CHECK(v[1] == 1.0f);
  CHECK(v[2] == 0.0f);
  CHECK(v[3] == 128.0f / 255.0f);  // 127.5 rounds away from zero
}

TEST_CASE("JPEG round trip is close for a smooth image") {
  TempDir dir;
  const int H = 24, W = 32;
  std::vector<float> v(3 * H * W);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < H; ++i)
      for (int j = 0; j < W; ++j)
        v[(c * H + i) * W + j] = 0.5f + 0.4f * std::sin(0.2f * i + 0.15f * j + c);
  Tensor img = from_vector(v, {3, H, W});
  for (const char* name : {"s.jpg", "s.jpeg"}) {
    save_image(dir.file(name), img);
    Tensor back = load_image(dir.file(name));
    REQUIRE(back.shape() == img.shape());
    // Quality 95 on a smooth picture: errors of a few 8-bit levels at most.
    std::vector<float> b = back.to_vector<float>();
    CHECK(max_abs_diff(b, v) < 0.05);
    double mean_err = 0;
    for (size_t i = 0; i < v.size(); ++i) mean_err += std::abs(b[i] - v[i]);
    CHECK(mean_err / v.size() < 0.01);
  }
}

TEST_CASE("channel conversion: grey to RGB, RGB to grey, alpha over white") {
  TempDir dir;
  Tensor grey = random_8bit_image({1, 4, 5}, 1);
  save_image(dir.file("g.png"), grey);
  Tensor rgb_from_grey = load_image(dir.file("g.png"), 3);
  CHECK(rgb_from_grey.shape() == Shape{3, 4, 5});
  for (int64_t c = 0; c < 3; ++c)
    CHECK(rgb_from_grey.narrow(0, c, 1).to_vector<float>() == grey.to_vector<float>());
  CHECK(load_image(dir.file("g.png"), 1).to_vector<float>() == grey.to_vector<float>());

  Tensor rgb = random_8bit_image({3, 4, 5}, 2);
  save_image(dir.file("c.png"), rgb);
  CHECK(load_image(dir.file("c.png")).size(0) == 3);  // channels 0: as in the file
  std::vector<float> y = load_image(dir.file("c.png"), 1).to_vector<float>();
  std::vector<float> x = rgb.to_vector<float>();
  std::vector<double> luma(20);
  for (int p = 0; p < 20; ++p) luma[p] = 0.299 * x[p] + 0.587 * x[20 + p] + 0.114 * x[40 + p];
  check_close(y, luma, 1e-6, 0);  // float arithmetic on values in [0, 1]
  std::vector<float> rgba = load_image(dir.file("c.png"), 4).to_vector<float>();
  CHECK(std::vector<float>(rgba.begin(), rgba.begin() + 60) == x);
  CHECK(std::all_of(rgba.begin() + 60, rgba.end(), [](float a) { return a == 1.0f; }));

  // Pixels: opaque red, fully transparent black, half-transparent black.
  Tensor with_alpha = from_vector(std::vector<float>{1, 0, 0,  0, 0, 0,  0, 0, 0,  1, 0, 51 / 255.0f}, {4, 1, 3});
  save_image(dir.file("a.png"), with_alpha);
  std::vector<float> over_white = load_image(dir.file("a.png"), 3).to_vector<float>();
  CHECK(over_white[0] == 1.0f);  // R of the red pixel
  CHECK(over_white[3] == 0.0f);  // G of the red pixel
  CHECK(over_white[1] == 1.0f);  // transparent -> white
  CHECK(over_white[4] == 1.0f);
  CHECK(over_white[2] == doctest::Approx(1 - 51 / 255.0));  // 20% black over white
}

TEST_CASE("image file errors are clear") {
  TempDir dir;
  CHECK_THROWS_WITH_AS(load_image(dir.file("missing.png")), doctest::Contains("no such file"), Error);
  {
    std::ofstream(dir.file("text.png")) << "this is not a picture\n";
  }
  CHECK_THROWS_WITH_AS(load_image(dir.file("text.png")), doctest::Contains("is not an image stb_image can read ("), Error);
  CHECK_THROWS_WITH_AS(load_image(dir.file("text.png"), 2), doctest::Contains("'channels' must be 0"), Error);
  Tensor img = zeros({3, 2, 2});
  CHECK_THROWS_WITH_AS(save_image(dir.file("x.tiff"), img), doctest::Contains("unsupported extension '.tiff'"), Error);
  CHECK_THROWS_WITH_AS(save_image(dir.file("x"), img), doctest::Contains("unsupported extension"), Error);
  CHECK_THROWS_WITH_AS(save_image(dir.file("x.png"), zeros({1, 3, 2, 2})), doctest::Contains("must be (C, H, W) or (H, W)"),
                       Error);
  CHECK_THROWS_WITH_AS(save_image(dir.file("x.png"), zeros({5, 2, 2})), doctest::Contains("got shape (5, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(save_image(dir.file("x.png"), zeros({3, 0, 2})), doctest::Contains("at least 1x1"), Error);
  CHECK_FALSE(fs::exists(dir.file("x.png")));
  // A failed save leaves an existing picture alone.
  save_image(dir.file("keep.png"), img);
  fs::create_directory(dir.file("keep.png") + ".tmp." + std::to_string(static_cast<long>(getpid())));
  CHECK_THROWS_WITH_AS(save_image(dir.file("keep.png"), ones({3, 2, 2})), doctest::Contains("cannot write"), Error);
  CHECK(load_image(dir.file("keep.png")).to_vector<float>() == img.to_vector<float>());
}

TEST_CASE("area downsampling by 2 equals the 2x2 mean exactly") {
  const int C = 3, H = 10, W = 14;
  Generator gen(5);
  Tensor x = rand({C, H, W}, gen);
  std::vector<float> xv = x.to_vector<float>();
  Tensor y = resize_image(x, H / 2, W / 2);
  REQUIRE(y.shape() == Shape{C, H / 2, W / 2});
  std::vector<float> yv = y.to_vector<float>();
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < H / 2; ++i)
      for (int j = 0; j < W / 2; ++j) {
        auto at = [&](int p, int q) { return double(xv[(c * H + p) * W + q]); };
        double mean = (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1)) / 4;
        CHECK(yv[(c * H / 2 + i) * (W / 2) + j] == static_cast<float>(mean));
      }
}

TEST_CASE("area downsampling by fractional factors matches the naive box filter") {
  Generator gen(6);
  for (auto [H, W, oh, ow] : {std::array<int, 4>{7, 9, 3, 4}, {11, 5, 4, 2}, {5, 13, 5, 6}, {9, 9, 1, 1}}) {
    INFO(H, "x", W, " -> ", oh, "x", ow);
    Tensor x = rand({3, H, W}, gen);
    std::vector<float> xv = x.to_vector<float>();
    // float output of a double computation: one rounding, plus reference summation order.
    check_close(resize_image(x, oh, ow).to_vector<float>(), area_reference(xv, 3, H, W, oh, ow), 1e-6, 1e-6);
  }
}

TEST_CASE("bilinear upsampling matches the naive reference and keeps constants constant") {
  Generator gen(8);
  for (auto [H, W, oh, ow] : {std::array<int, 4>{3, 5, 7, 11}, {1, 4, 3, 9}, {5, 5, 13, 6}}) {
    INFO(H, "x", W, " -> ", oh, "x", ow);
    Tensor x = rand({3, H, W}, gen);
    check_close(resize_image(x, oh, ow).to_vector<float>(), bilinear_reference(x.to_vector<float>(), 3, H, W, oh, ow),
                1e-6, 1e-6);
  }
  Tensor constant = full({3, 5, 7}, 0.3);
  std::vector<float> up = resize_image(constant, 13, 17).to_vector<float>();
  CHECK(std::all_of(up.begin(), up.end(), [](float v) { return v == 0.3f; }));
  // Same size is the identity.
  Tensor x = rand({2, 4, 6}, gen);
  CHECK(resize_image(x, 4, 6).to_vector<float>() == x.to_vector<float>());
}

TEST_CASE("resize picks the filter per axis, works on batches and in float64") {
  Generator gen(9);
  Tensor x = rand({3, 6, 5}, gen);
  // H shrinks by 2 (area), W grows (bilinear): the same as doing one axis after the other.
  Tensor both = resize_image(x, 3, 9);
  Tensor h_then_w = resize_image(resize_image(x, 3, 5), 3, 9);
  check_close(both.to_vector<float>(), std::vector<double>(h_then_w.to_vector<double>()), 1e-6, 0);
  // And the H axis is the exact pair mean where W is kept.
  std::vector<float> h_only = resize_image(x, 3, 5).to_vector<float>();
  std::vector<float> xv = x.to_vector<float>();
  CHECK(h_only[0] == static_cast<float>((double(xv[0]) + xv[5]) / 2));

  Tensor batch = rand({2, 3, 8, 8}, gen);
  Tensor rb = resize_image(batch, 4, 12);
  CHECK(rb.shape() == Shape{2, 3, 4, 12});
  CHECK(rb.narrow(0, 1, 1).to_vector<float>() ==
        resize_image(batch.narrow(0, 1, 1).squeeze(0), 4, 12).to_vector<float>());

  Tensor x64 = x.to(DType::f64);
  Tensor r64 = resize_image(x64, 4, 7);
  CHECK(r64.dtype() == DType::f64);
  check_close(resize_image(x, 4, 7).to_vector<float>(), r64.to_vector<double>(), 1e-6, 0);

  CHECK(resize_shorter_side(rand({3, 10, 20}, gen), 5).shape() == Shape{3, 5, 10});
  CHECK(resize_shorter_side(rand({3, 21, 10}, gen), 4).shape() == Shape{3, 8, 4});  // 21 * 0.4 = 8.4 -> 8
  CHECK_THROWS_WITH_AS(resize_image(zeros({4, 4}), 2, 2), doctest::Contains("must be (C, H, W) or (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(resize_image(zeros({1, 4, 4}), 0, 2), doctest::Contains("at least 1x1, got 0x2"), Error);
}

TEST_CASE("the resize kernels run directly on raw pointers") {
  // 4 -> 2 with the area kernel and 2 -> 4 with the bilinear kernel, by hand.
  std::vector<double> x{1, 3, 5, 7};
  std::vector<double> y(2);
  kernels::resize_area_cpu(x.data(), y.data(), 1, 1, 4, 1, 2);
  CHECK(y == std::vector<double>{2, 6});
  std::vector<double> z(8);
  kernels::resize_bilinear_cpu(y.data(), z.data(), 1, 1, 2, 1, 4);
  // centres at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) in input pixels
  CHECK(z[0] == 2);
  CHECK(z[1] == 3);
  CHECK(z[2] == 5);
  CHECK(z[3] == 6);
}

TEST_CASE("center_crop takes the centred window") {
  Tensor x = arange(3 * 5 * 6).reshape({3, 5, 6});
  Tensor c = center_crop(x, 2, 3);  // margins: 3 rows (1 top, 2 bottom), 3 cols (1 left, 2 right)
  CHECK(c.shape() == Shape{3, 2, 3});
  CHECK(c.is_contiguous());
  std::vector<float> v = c.to_vector<float>();
  CHECK(v[0] == 1 * 6 + 1);
  CHECK(v[5] == 2 * 6 + 3);
  CHECK(v[6] == 30 + 7);
  CHECK(center_crop(x, 5, 6).to_vector<float>() == x.to_vector<float>());
  CHECK(center_crop(zeros({2, 3, 5, 6}), 4, 4).shape() == Shape{2, 3, 4, 4});
  CHECK_THROWS_WITH_AS(center_crop(x, 6, 3), doctest::Contains("fit inside the image, whose shape is (3, 5, 6)"), Error);
}

TEST_CASE("make_grid tiles a batch with padding") {
  const int N = 5, C = 3, H = 4, W = 6;
  Tensor batch = arange(N * C * H * W).reshape({N, C, H, W});
  Tensor g = make_grid(batch, 3, 2, -1.0);
  // 3 columns, 2 rows: H' = 2 * (4 + 2) + 2, W' = 3 * (6 + 2) + 2.
  REQUIRE(g.shape() == Shape{C, 14, 26});
  std::vector<float> gv = g.to_vector<float>();
  std::vector<float> bv = batch.to_vector<float>();
  auto grid_at = [&](int c, int i, int j) { return gv[(c * 14 + i) * 26 + j]; };
  auto batch_at = [&](int n, int c, int i, int j) { return bv[((n * C + c) * H + i) * W + j]; };
  int images = 0, pads = 0;
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < 14; ++i)
      for (int j = 0; j < 26; ++j) {
        int row = (i - 2) / 6, col = (j - 2) / 8, ii = (i - 2) % 6, jj = (j - 2) % 8;
        bool inside = i >= 2 && j >= 2 && ii < H && jj < W && row * 3 + col < N;
        if (inside) {
          CHECK(grid_at(c, i, j) == batch_at(row * 3 + col, c, ii, jj));
          ++images;
        } else {
          CHECK(grid_at(c, i, j) == -1.0f);
          ++pads;
        }
      }
  CHECK(images == N * C * H * W);
  CHECK(pads == C * 14 * 26 - N * C * H * W);

  CHECK(make_grid(zeros({3, 1, 8, 8}), 8).shape() == Shape{1, 12, 32});  // nrow > N: one row of N
  CHECK(make_grid(zeros({4, 1, 8, 8}), 2, 0).shape() == Shape{1, 16, 16});
  CHECK_THROWS_WITH_AS(make_grid(zeros({1, 8, 8}), 2), doctest::Contains("must be (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(make_grid(zeros({1, 1, 8, 8}), 0), doctest::Contains("'nrow' must be >= 1"), Error);
}
