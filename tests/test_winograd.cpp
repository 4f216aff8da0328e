// test_winograd.cpp: the Winograd F(4x4, 3x3) convolution (kernels/winograd.h)
// against a plain direct convolution accumulated in double: forward (with
// and without bias) and backward-input, at odd shapes (H, W not multiples of
// 4, odd channel counts, N = 1..3, padding 0..3, unequal pads, rows of 1 to
// 18 tiles so that both the tile-by-tile and the 8-tiles-in-a-row paths
// run), on one and on all threads, in one block of tiles and in many (a tiny
// scratch budget); the hooks in conv2d_forward_cpu and
// conv2d_backward_input_cpu and the autograd ops that reach them; which
// geometries it takes; the GESSO_CONV knob and bad input.
#include <doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/conv.h"
#include "kernels/winograd.h"

using namespace gesso;
using kernels::ConvAlgorithm;
using kernels::Conv2dGeometry;

namespace {

struct Case {
  int64_t N, C_in, C_out, H, W, pad_h, pad_w;
};

Conv2dGeometry geometry(const Case& c) {
  Conv2dGeometry g;
  g.N = c.N;
  g.C_in = c.C_in;
  g.H = c.H;
  g.W = c.W;
  g.C_out = c.C_out;
  g.kH = g.kW = 3;
  g.pad_h = c.pad_h;
  g.pad_w = c.pad_w;
  g.OH = kernels::conv2d_out_size(g.H, 3, 1, g.pad_h, 1);
  g.OW = kernels::conv2d_out_size(g.W, 3, 1, g.pad_w, 1);
  return g;
}

std::vector<float> random_values(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = u(rng);
  return v;
}

// y = conv(x, w) + bias, directly, in double.
std::vector<double> direct_forward(const Conv2dGeometry& g, const std::vector<float>& x, const std::vector<float>& w,
                                   const float* bias) {
  std::vector<double> y(static_cast<size_t>(g.N * g.C_out * g.OH * g.OW), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t co = 0; co < g.C_out; ++co)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          double s = bias ? bias[co] : 0.0;
          for (int64_t ci = 0; ci < g.C_in; ++ci)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ih = oh - g.pad_h + i, iw = ow - g.pad_w + j;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                s += double(w[((co * g.C_in + ci) * 3 + i) * 3 + j]) *
                     double(x[((n * g.C_in + ci) * g.H + ih) * g.W + iw]);
              }
          y[static_cast<size_t>(((n * g.C_out + co) * g.OH + oh) * g.OW + ow)] = s;
        }
  return y;
}

// gx = the adjoint of the forward applied to gy, by scattering every output
// gradient back onto the pixels its window read; in double.
std::vector<double> direct_backward_input(const Conv2dGeometry& g, const std::vector<float>& gy,
                                          const std::vector<float>& w) {
  std::vector<double> gx(static_cast<size_t>(g.N * g.C_in * g.H * g.W), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t co = 0; co < g.C_out; ++co)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow)
          for (int64_t ci = 0; ci < g.C_in; ++ci)
            for (int64_t i = 0; i < 3; ++i)
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ih = oh - g.pad_h + i, iw = ow - g.pad_w + j;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                gx[static_cast<size_t>(((n * g.C_in + ci) * g.H + ih) * g.W + iw)] +=
                    double(w[((co * g.C_in + ci) * 3 + i) * 3 + j]) *
                    double(gy[((n * g.C_out + co) * g.OH + oh) * g.OW + ow]);
              }
  return gx;
}

// Tolerance, atol + rtol * |ref|, with K = 9 * (channels summed) terms per
// output, each of size <= 1 (inputs and weights uniform in [-1, 1]). A direct
// float sum of K such terms errs by about eps * sqrt(K); Winograd F(4x4, 3x3)
// errs more: its transforms scale values by up to ~100 (B^T's 4s and 5s,
// A^T's 8s, G's 1/24) before cancelling, and an output's error comes from its
// whole 6x6 input tile, so even an output whose exact value is 0 (a window
// entirely in the padding, next to one that is not) gets rounding noise.
// We allow 16 eps per term, atol = 16 eps K: the errors measured here reach
// 0.3 of it (im2col's stay under 0.03: Winograd errs ~10x more), and a wrong
// tap or a misplaced tile errs by whole terms, ~0.1 to 1, far above. rtol =
// 1e-6 covers the bias's share.
void check_close(const std::vector<float>& got, const std::vector<double>& ref, int64_t channels_summed,
                 const std::string& what) {
  REQUIRE(got.size() == ref.size());
  const double eps = 1.1920929e-7, atol = 16 * eps * 9 * double(channels_summed), rtol = 1e-6;
  double worst = 0.0;
  int64_t bad = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    const double err = std::fabs(double(got[e]) - ref[e]), tol = atol + rtol * std::fabs(ref[e]);
    worst = std::max(worst, err / tol);
    if (!(err <= tol)) ++bad;  // NaN counts as bad
  }
  INFO(what << ": worst error / tolerance = " << worst);
  CHECK(bad == 0);
  if (std::getenv("GESSO_TEST_VERBOSE")) MESSAGE(what << ": worst error / tolerance = " << worst);
}

std::string describe(const Case& c) {
  return "N " + std::to_string(c.N) + ", C_in " + std::to_string(c.C_in) + ", C_out " + std::to_string(c.C_out) +
         ", " + std::to_string(c.H) + " x " + std::to_string(c.W) + ", pad (" + std::to_string(c.pad_h) + ", " +
         std::to_string(c.pad_w) + ")";
}

const Case kCases[] = {
    {1, 3, 5, 7, 9, 1, 1},     {2, 5, 7, 11, 6, 0, 0},  {3, 7, 3, 5, 13, 2, 2},  {1, 17, 9, 10, 15, 1, 1},
    {2, 1, 1, 3, 3, 0, 0},     {1, 33, 19, 9, 9, 1, 1}, {2, 9, 11, 6, 14, 0, 2}, {1, 5, 3, 4, 4, 3, 3},
    {3, 19, 17, 13, 1, 1, 1},  {1, 11, 25, 21, 17, 2, 1},
    // wide enough for runs of 8 tiles in one row (the strip path), with
    // padding on either side, groups that straddle two rows, ragged right edges
    {1, 3, 5, 9, 70, 1, 1},    {2, 4, 6, 5, 37, 2, 2},  {1, 2, 3, 6, 34, 0, 0},  {1, 3, 2, 7, 31, 3, 3},
};

// Restores the algorithm setting and the scratch budget when a test ends.
struct Restore {
  int64_t budget = kernels::conv_col_budget();
  ~Restore() {
    kernels::set_conv_algorithm(ConvAlgorithm::automatic);
    kernels::set_conv_col_budget(budget);
  }
};

void check_forward(const Case& c, bool with_bias, unsigned seed) {
  const Conv2dGeometry g = geometry(c);
  const std::vector<float> x = random_values(g.N * g.C_in * g.H * g.W, seed);
  const std::vector<float> w = random_values(g.C_out * g.C_in * 9, seed + 1);
  const std::vector<float> b = random_values(g.C_out, seed + 2);
  const std::vector<double> ref = direct_forward(g, x, w, with_bias ? b.data() : nullptr);
  std::vector<float> y(ref.size(), NAN);
  kernels::conv2d_forward_winograd_cpu(x.data(), w.data(), with_bias ? b.data() : nullptr, y.data(), g);
  check_close(y, ref, g.C_in, "forward " + describe(c));
}

void check_backward_input(const Case& c, unsigned seed) {
  const Conv2dGeometry g = geometry(c);
  const std::vector<float> gy = random_values(g.N * g.C_out * g.OH * g.OW, seed);
  const std::vector<float> w = random_values(g.C_out * g.C_in * 9, seed + 1);
  const std::vector<double> ref = direct_backward_input(g, gy, w);
  std::vector<float> gx(ref.size(), NAN);
  kernels::conv2d_backward_input_winograd_cpu(gy.data(), w.data(), gx.data(), g);
  check_close(gx, ref, g.C_out, "backward input " + describe(c));
}

}  // namespace

TEST_CASE("winograd forward matches a direct convolution, with and without bias") {
  unsigned seed = 10;
  for (const Case& c : kCases) {
    for (bool with_bias : {false, true}) {
      const std::string label = describe(c) + (with_bias ? ", bias" : ", no bias");
      INFO(label);
      check_forward(c, with_bias, seed += 3);
    }
  }
}

TEST_CASE("winograd backward-input matches the adjoint of a direct convolution") {
  unsigned seed = 100;
  for (const Case& c : kCases) {
    INFO(describe(c));
    check_backward_input(c, seed += 3);
  }
}

TEST_CASE("winograd in many blocks of tiles and on one thread") {
  Restore restore;
  // A budget of 1 element gives the smallest blocks (16 tiles): several
  // blocks per image, blocks spanning two images, a ragged last block.
  kernels::set_conv_col_budget(1);
  const Case many[] = {{2, 5, 7, 23, 19, 1, 1}, {3, 6, 4, 17, 30, 0, 2}, {1, 20, 35, 40, 9, 2, 0}};
  unsigned seed = 200;
  for (const Case& c : many) {
    INFO(describe(c));
    check_forward(c, true, seed += 3);
    check_backward_input(c, seed += 3);
  }
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  for (const Case& c : many) {
    INFO("1 thread, " << describe(c));
    check_forward(c, true, seed += 3);
    check_backward_input(c, seed += 3);
  }
  omp_set_num_threads(threads);
}

TEST_CASE("conv2d_forward_cpu and conv2d_backward_input_cpu take Winograd when asked, double never") {
  Restore restore;
  const Case c{2, 7, 9, 11, 13, 1, 1};
  const Conv2dGeometry g = geometry(c);
  const std::vector<float> x = random_values(g.N * g.C_in * g.H * g.W, 300);
  const std::vector<float> w = random_values(g.C_out * g.C_in * 9, 301);
  const std::vector<float> b = random_values(g.C_out, 302);
  const std::vector<double> ref = direct_forward(g, x, w, b.data());
  std::vector<float> y_wino(ref.size()), y_direct(ref.size()), y_hook(ref.size());
  kernels::conv2d_forward_winograd_cpu(x.data(), w.data(), b.data(), y_wino.data(), g);
  kernels::set_conv_algorithm(ConvAlgorithm::winograd);
  kernels::conv2d_forward_cpu(x.data(), w.data(), b.data(), y_hook.data(), g);
  CHECK(y_hook == y_wino);  // the same kernel on the same data: bit for bit
  kernels::set_conv_algorithm(ConvAlgorithm::im2col);
  kernels::conv2d_forward_cpu(x.data(), w.data(), b.data(), y_direct.data(), g);
  check_close(y_direct, ref, g.C_in, "im2col forward");
  CHECK(y_direct != y_wino);  // im2col rounds differently: proves the setting switched algorithms

  // backward input through the hook
  const std::vector<float> gy = random_values(g.N * g.C_out * g.OH * g.OW, 303);
  std::vector<float> gx_wino(static_cast<size_t>(g.N * g.C_in * g.H * g.W)), gx_hook(gx_wino.size());
  kernels::conv2d_backward_input_winograd_cpu(gy.data(), w.data(), gx_wino.data(), g);
  kernels::set_conv_algorithm(ConvAlgorithm::winograd);
  kernels::conv2d_backward_input_cpu(gy.data(), w.data(), gx_hook.data(), g);
  CHECK(gx_hook == gx_wino);

  // double stays on im2col whatever the setting
  std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), yd(ref.size());
  CHECK_FALSE(kernels::try_winograd_forward(xd.data(), wd.data(), nullptr, yd.data(), g));
  CHECK_FALSE(kernels::try_winograd_backward_input(xd.data(), wd.data(), yd.data(), g));
}

TEST_CASE("autograd conv2d and its input gradient run Winograd and match im2col") {
  Restore restore;
  Generator gen(5);
  Tensor x = randn({2, 9, 13, 10}, gen, TensorOptions(DType::f32).grad(true));
  Tensor w = randn({11, 9, 3, 3}, gen, TensorOptions(DType::f32));
  Tensor b = randn({11}, gen, TensorOptions(DType::f32));
  Tensor gy = randn({2, 11, 13, 10}, gen);
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  std::vector<float> y[2], gx[2];
  const ConvAlgorithm algos[2] = {ConvAlgorithm::im2col, ConvAlgorithm::winograd};
  for (int a = 0; a < 2; ++a) {
    kernels::set_conv_algorithm(algos[a]);
    Tensor out = conv2d(x, w, b, p);
    autograd::backward(out, gy);
    y[a] = out.to_vector<float>();
    gx[a] = x.grad().to_vector<float>();
    x.zero_grad();
  }
  // Both are float sums of 81 terms of size ~1: they agree to ~1e-4 absolute.
  REQUIRE(y[0].size() == y[1].size());
  REQUIRE(gx[0].size() == gx[1].size());
  double dy = 0, dgx = 0;
  for (size_t i = 0; i < y[0].size(); ++i) dy = std::max(dy, double(std::fabs(y[0][i] - y[1][i])));
  for (size_t i = 0; i < gx[0].size(); ++i) dgx = std::max(dgx, double(std::fabs(gx[0][i] - gx[1][i])));
  CHECK(dy < 1e-4);
  CHECK(dgx < 1e-4);
  CHECK(dy > 0);  // different algorithms really ran
}

TEST_CASE("which geometries Winograd takes") {
  Conv2dGeometry g = geometry({1, 64, 64, 32, 32, 1, 1});
  CHECK(kernels::winograd_applicable(g));
  CHECK(kernels::winograd_profitable(g));
  Conv2dGeometry tiny = geometry({1, 3, 4, 5, 5, 1, 1});
  CHECK(kernels::winograd_applicable(tiny));
  CHECK_FALSE(kernels::winograd_profitable(tiny));
  Conv2dGeometry strided = g;
  strided.stride_h = 2;
  strided.OH = kernels::conv2d_out_size(g.H, 3, 2, 1, 1);
  CHECK_FALSE(kernels::winograd_applicable(strided));
  Conv2dGeometry dilated = g;
  dilated.dilation_w = 2;
  dilated.OW = kernels::conv2d_out_size(g.W, 3, 1, 1, 2);
  CHECK_FALSE(kernels::winograd_applicable(dilated));
  Conv2dGeometry five = g;
  five.kH = five.kW = 5;
  five.OH = five.OW = 30;
  CHECK_FALSE(kernels::winograd_applicable(five));
  Conv2dGeometry one = g;
  one.kH = one.kW = 1;
  CHECK_FALSE(kernels::winograd_applicable(one));

  Restore restore;
  kernels::set_conv_algorithm(ConvAlgorithm::automatic);
  CHECK(kernels::conv_uses_winograd(g));
  CHECK_FALSE(kernels::conv_uses_winograd(tiny));
  kernels::set_conv_algorithm(ConvAlgorithm::winograd);
  CHECK(kernels::conv_uses_winograd(tiny));
  CHECK_FALSE(kernels::conv_uses_winograd(five));  // cannot: im2col does it
  kernels::set_conv_algorithm(ConvAlgorithm::im2col);
  CHECK_FALSE(kernels::conv_uses_winograd(g));
}

TEST_CASE("winograd kernels reject geometries they cannot do") {
  Conv2dGeometry g = geometry({1, 2, 2, 6, 6, 0, 0});
  g.kH = g.kW = 5;
  g.OH = g.OW = 2;
  std::vector<float> x(72), w(100), y(8);
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward_winograd_cpu(x.data(), w.data(), nullptr, y.data(), g),
                       doctest::Contains("conv2d_forward_winograd_cpu: geometry must be a 3x3 kernel"), gesso::Error);
  CHECK_THROWS_WITH_AS(kernels::conv2d_backward_input_winograd_cpu(y.data(), w.data(), x.data(), g),
                       doctest::Contains("conv2d_backward_input_winograd_cpu: geometry must be a 3x3"), gesso::Error);
  Conv2dGeometry wrong = geometry({1, 2, 2, 6, 6, 1, 1});
  wrong.OH = 5;  // inconsistent with H and pad
  CHECK_THROWS_WITH_AS(kernels::conv2d_forward_winograd_cpu(x.data(), w.data(), nullptr, y.data(), wrong),
                       doctest::Contains("does not match input 6 x 6"), gesso::Error);
}

TEST_CASE("GESSO_CONV chooses the algorithm; a bad value is a clear error") {
  Restore restore;
  const char* old = std::getenv("GESSO_CONV");
  const std::string saved = old ? old : "";
  setenv("GESSO_CONV", "winograd", 1);
  CHECK(kernels::conv_algorithm_from_env() == ConvAlgorithm::winograd);
  setenv("GESSO_CONV", "im2col", 1);
  CHECK(kernels::conv_algorithm_from_env() == ConvAlgorithm::im2col);
  setenv("GESSO_CONV", "auto", 1);
  CHECK(kernels::conv_algorithm_from_env() == ConvAlgorithm::automatic);
  setenv("GESSO_CONV", "", 1);
  CHECK(kernels::conv_algorithm_from_env() == ConvAlgorithm::automatic);
  setenv("GESSO_CONV", "fft", 1);
  CHECK_THROWS_WITH_AS(kernels::conv_algorithm_from_env(),
                       doctest::Contains("GESSO_CONV: expected 'auto', 'im2col' or 'winograd' (or unset), got 'fft'"),
                       gesso::Error);
  CHECK(std::string(kernels::conv_algorithm_name(ConvAlgorithm::winograd)) == "winograd");
  if (old) setenv("GESSO_CONV", saved.c_str(), 1);
  else unsetenv("GESSO_CONV");
}
