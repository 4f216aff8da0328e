// test_pool.cpp: max_pool2d, avg_pool2d and upsample2d against naive
// references written from PyTorch's definitions (plus a few values known from
// PyTorch), their gradients, second-order gradients, and bad input.
#include <doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/pool.h"

using namespace gesso;

namespace {

enum class Pool { max, avg };

// Pooling by definition, in double: windows of the padded input, padding
// never winning a max, the average dividing by the padded window's size.
std::vector<double> naive_pool(Pool kind, const Tensor& x, int k, int s, int p, Shape* out_shape) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
  *out_shape = {N, C, OH, OW};
  std::vector<double> xv = x.to_vector<double>(), out;
  for (int64_t plane = 0; plane < N * C; ++plane)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        int64_t count = 0;
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t ih = oh * s - p + i, iw = ow * s - p + j;
            if (ih >= H + p || iw >= W + p) continue;  // past the padded input
            ++count;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const double v = xv[(plane * H + ih) * W + iw];
            best = std::max(best, v);
            sum += v;
          }
        out.push_back(kind == Pool::max ? best : sum / static_cast<double>(count));
      }
  return out;
}

// Source coordinate of output index o, PyTorch's rules, in double (nearest
// keeps PyTorch's float scale, which decides ties of the floor).
struct Src {
  int64_t lo, hi;
  double frac;
};
Src source(UpsampleMode mode, int64_t o, int64_t in, int64_t out, bool align_corners) {
  if (mode == UpsampleMode::nearest) {
    int64_t i = o;
    if (out == 2 * in) i = o / 2;
    else if (out != in) i = std::min<int64_t>(static_cast<int64_t>(std::floor(float(o) * (float(in) / float(out)))), in - 1);
    return {i, i, 0.0};
  }
  double c = align_corners ? (out > 1 ? double(in - 1) / double(out - 1) * o : 0.0)
                           : std::max(0.0, double(in) / double(out) * (o + 0.5) - 0.5);
  int64_t lo = static_cast<int64_t>(std::floor(c));
  int64_t hi = std::min(lo + 1, in - 1);
  return {lo, hi, c - double(lo)};
}

std::vector<double> naive_upsample(const Tensor& x, int64_t OH, int64_t OW, UpsampleMode mode, bool align) {
  const int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> xv = x.to_vector<double>(), out;
  for (int64_t plane = 0; plane < P; ++plane)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Src h = source(mode, oh, H, OH, align), w = source(mode, ow, W, OW, align);
        auto at = [&](int64_t i, int64_t j) { return xv[(plane * H + i) * W + j]; };
        out.push_back((1 - h.frac) * ((1 - w.frac) * at(h.lo, w.lo) + w.frac * at(h.lo, w.hi)) +
                      h.frac * ((1 - w.frac) * at(h.hi, w.lo) + w.frac * at(h.hi, w.hi)));
      }
  return out;
}

// Every result here is a max, or an average / interpolation of a few values:
// float rounding is below 1e-6 of the values' scale (N(0,1) data); double must match to 1e-12.
void check_close(const Tensor& got, const std::vector<double>& ref) {
  const double tol = got.dtype() == DType::f32 ? 1e-6 : 1e-12;
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - ref[i]) <= tol + tol * std::abs(ref[i])) && bad++ < 3)
      MESSAGE("element ", i, ": got ", g[i], " expected ", ref[i]);
  CHECK(bad == 0);
}

TensorOptions f64g() { return TensorOptions(DType::f64).grad(); }

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d match the naive definitions") {
  Generator gen(1);
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor x = randn({2, 3, 7, 6}, gen, dt);
    for (int k = 1; k <= 3; ++k)
      for (int s = 1; s <= 3; ++s)
        for (int p = 0; p <= k / 2; ++p) {
          CAPTURE(k);
          CAPTURE(s);
          CAPTURE(p);
          Shape shape;
          std::vector<double> ref = naive_pool(Pool::max, x, k, s, p, &shape);
          Tensor y = max_pool2d(x, k, s, p);
          CHECK(y.shape() == shape);
          check_close(y, ref);
          ref = naive_pool(Pool::avg, x, k, s, p, &shape);
          y = avg_pool2d(x, k, s, p);
          CHECK(y.shape() == shape);
          check_close(y, ref);
        }
  }
  // avg_pool2d counts the padding (PyTorch's count_include_pad): a corner
  // window of a 2x2 kernel with pad 1 holds one pixel and divides by 4.
  Tensor ones4 = ones({1, 1, 2, 2});
  CHECK(avg_pool2d(ones4, 2, 2, 1).to_vector<float>() == std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f});
}

TEST_CASE("max_pool2d kernel: the 2x2 stride-2 path and the general one pick the same winners (ties, NaN)") {
  // Values from {0, 1, 2} make ties common; some NaNs, two in one window.
  // Reference: the first maximum in window order, the first NaN if any.
  // The kernel writes y, argmax, or both (the op's backward asks for argmax alone).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t H : {4, 5, 7}) {
    CAPTURE(H);
    const int64_t W = 6, planes = 3;
    std::vector<float> x(static_cast<size_t>(planes * H * W));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7 + i / 5) % 3);
    x[3] = nan;
    x[W + 2] = nan;
    x[W + 3] = nan;  // with x[3]: the first NaN of its window is x[3]
    for (int kernel : {2, 3}) {
      kernels::Pool2dGeometry g;
      g.planes = planes;
      g.H = H;
      g.W = W;
      g.kernel = kernel;
      g.stride = 2;
      g.OH = (H - kernel) / 2 + 1;
      g.OW = (W - kernel) / 2 + 1;
      const size_t n = static_cast<size_t>(planes * g.OH * g.OW);
      std::vector<float> y(n), y_only(n);
      std::vector<int64_t> at(n), at_only(n);
      kernels::max_pool2d_forward_cpu<float>(x.data(), y.data(), at.data(), g);
      kernels::max_pool2d_forward_cpu<float>(x.data(), y_only.data(), nullptr, g);
      kernels::max_pool2d_forward_cpu<float>(x.data(), nullptr, at_only.data(), g);
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t best = -1;
            for (int64_t ih = 2 * oh; ih < 2 * oh + kernel; ++ih)
              for (int64_t iw = 2 * ow; iw < 2 * ow + kernel; ++iw) {
                const float v = x[static_cast<size_t>(p * H * W + ih * W + iw)];
                const float b = best < 0 ? 0.0f : x[static_cast<size_t>(p * H * W + best)];
                if (best < 0 || (!std::isnan(b) && (std::isnan(v) || v > b))) best = ih * W + iw;
              }
            const size_t o = static_cast<size_t>((p * g.OH + oh) * g.OW + ow);
            CAPTURE(kernel);
            CAPTURE(o);
            CHECK(at[o] == best);
            CHECK(at_only[o] == best);
            const float want = x[static_cast<size_t>(p * H * W + best)];
            CHECK((std::isnan(want) ? std::isnan(y[o]) && std::isnan(y_only[o]) : y[o] == want && y_only[o] == want));
          }
    }
  }
}

TEST_CASE("max_pool2d: the gradient goes to the winner; NaN propagates") {
  Tensor x = from_vector(std::vector<double>{1, 5, 2, 0,  //
                                             3, 4, 8, 7,  //
                                             0, 0, 1, 9},
                         {1, 1, 3, 4}, f64g());
  Tensor y = max_pool2d(x, 2, 2);
  CHECK(y.to_vector<double>() == std::vector<double>{5, 8});
  autograd::backward(sum(y * from_vector(std::vector<double>{10, 20}, {1, 1, 1, 2}, DType::f64)));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 10, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor xn = from_vector(std::vector<float>{1, nan, 2, 3}, {1, 1, 2, 2});
  CHECK(std::isnan(max_pool2d(xn, 2, 2).item()));
}

TEST_CASE("upsample2d matches PyTorch's nearest and bilinear, align_corners both ways") {
  // Values PyTorch gives for these (F.interpolate on a 1 x 2 and a 1 x 3 row).
  Tensor row2 = from_vector(std::vector<float>{0, 1}, {1, 1, 1, 2});
  CHECK(upsample2d(row2, 1, 4, UpsampleMode::bilinear, false).to_vector<float>() ==
        std::vector<float>{0, 0.25f, 0.75f, 1});
  std::vector<float> aligned = upsample2d(row2, 1, 4, UpsampleMode::bilinear, true).to_vector<float>();
  CHECK(aligned[1] == doctest::Approx(1.0 / 3));
  CHECK(aligned[3] == 1.0f);
  Tensor row3 = from_vector(std::vector<float>{0, 1, 2}, {1, 1, 1, 3});
  CHECK(upsample2d(row3, 1, 5, UpsampleMode::nearest).to_vector<float>() == std::vector<float>{0, 0, 1, 1, 2});

  Generator gen(2);
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor x = randn({2, 2, 5, 4}, gen, dt);
    for (Shape out : {Shape{10, 8}, Shape{7, 9}, Shape{3, 2}, Shape{5, 4}, Shape{1, 1}})
      for (UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear})
        for (bool align : {false, true}) {
          if (mode == UpsampleMode::nearest && align) continue;
          CAPTURE(out[0]);
          CAPTURE(out[1]);
          CAPTURE(align);
          Tensor y = upsample2d(x, static_cast<int>(out[0]), static_cast<int>(out[1]), mode, align);
          CHECK(y.shape() == Shape{2, 2, out[0], out[1]});
          check_close(y, naive_upsample(x, out[0], out[1], mode, align));
        }
  }
}

TEST_CASE("pooling and upsampling: gradcheck and gradgradcheck") {
  Generator gen(3);
  // Distinct values spaced far beyond the finite-difference step, so that no
  // max pooling window has a near tie that eps could flip.
  std::vector<double> v(2 * 2 * 5 * 6);
  for (size_t i = 0; i < v.size(); ++i) v[i] = double((i * 37) % v.size()) * 0.1 - 3.0;
  Tensor xm = from_vector(v, {2, 2, 5, 6}, f64g());
  Tensor x = randn({2, 2, 5, 6}, gen, f64g());
  auto sq = [](Tensor y) { return y * y; };
  for (auto [k, s, p] : std::vector<std::tuple<int, int, int>>{{2, 2, 0}, {3, 2, 1}, {3, 1, 1}}) {
    CAPTURE(k);
    CAPTURE(s);
    CAPTURE(p);
    auto fmax = [k = k, s = s, p = p](const std::vector<Tensor>& t) { return max_pool2d(t[0], k, s, p); };
    auto fmax2 = [&, k = k, s = s, p = p](const std::vector<Tensor>& t) { return sq(max_pool2d(t[0], k, s, p)); };
    auto favg = [k = k, s = s, p = p](const std::vector<Tensor>& t) { return avg_pool2d(t[0], k, s, p); };
    auto favg2 = [&, k = k, s = s, p = p](const std::vector<Tensor>& t) { return sq(avg_pool2d(t[0], k, s, p)); };
    auto r = autograd::gradcheck(fmax, {xm});
    CHECK_MESSAGE(r.ok, r.report);
    r = autograd::gradgradcheck(fmax2, {xm});
    CHECK_MESSAGE(r.ok, r.report);
    r = autograd::gradcheck(favg, {x});
    CHECK_MESSAGE(r.ok, r.report);
    r = autograd::gradgradcheck(favg2, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
  // Third order: the gradient of max pooling, differentiated twice more,
  // runs the backward of index_gather (the backward of the backward's backward).
  auto grad_of_max = [](const std::vector<Tensor>& t) {
    Tensor y = max_pool2d(t[0], 3, 2, 1);
    Tensor g = autograd::grad({sum(y * y * y)}, {t[0]}, {}, true, true)[0];
    return g * g;
  };
  auto r3 = autograd::gradgradcheck(grad_of_max, {xm});
  CHECK_MESSAGE(r3.ok, r3.report);
  Tensor xu = randn({1, 2, 3, 4}, gen, f64g());
  for (UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear})
    for (bool align : {false, true}) {
      if (mode == UpsampleMode::nearest && align) continue;
      CAPTURE(align);
      auto f = [mode, align](const std::vector<Tensor>& t) { return upsample2d(t[0], 7, 5, mode, align); };
      auto f2 = [&, mode, align](const std::vector<Tensor>& t) { return sq(upsample2d(t[0], 7, 5, mode, align)); };
      auto r = autograd::gradcheck(f, {xu});
      CHECK_MESSAGE(r.ok, r.report);
      r = autograd::gradgradcheck(f2, {xu});
      CHECK_MESSAGE(r.ok, r.report);
    }
}

TEST_CASE("pooling and upsampling reject bad input, naming the argument") {
  Tensor x = zeros({1, 2, 6, 6});
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({2, 6, 6}), 2, 2),
                       doctest::Contains("max_pool2d: argument 'x' must be 4-d (N, C, H, W), got shape (2, 6, 6)"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 0, 1), doctest::Contains("max_pool2d: argument 'kernel' must be positive, got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 2, 0), doctest::Contains("avg_pool2d: argument 'stride' must be positive, got 0"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 3, 1, 2),
                       doctest::Contains("max_pool2d: argument 'pad' must be between 0 and kernel / 2 = 1"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 7, 1), doctest::Contains("avg_pool2d: kernel 7 is larger than the padded input"),
                       Error);
  CHECK_THROWS_WITH_AS(upsample2d(x, 0, 4, UpsampleMode::nearest),
                       doctest::Contains("upsample2d: arguments 'out_h' and 'out_w' must be positive, got (0, 4)"), Error);
  CHECK_THROWS_WITH_AS(upsample2d(x, 4, 4, UpsampleMode::nearest, true),
                       doctest::Contains("'align_corners' applies to bilinear mode only"), Error);
  CHECK_THROWS_WITH_AS(upsample2d(zeros({4, 4}), 8, 8, UpsampleMode::bilinear),
                       doctest::Contains("upsample2d: argument 'x' must be 4-d"), Error);
}
