// test_conv_plan.cpp: each way kernels/cpu/conv.cpp cuts a convolution into
// GEMMs, against a direct convolution accumulated in double, for the three
// kernels (forward with bias, input gradient, weight gradient accumulating
// onto what gw held), in float and double, on one thread and on two (the
// batch split over threads, or a single image with the threads inside):
//   whole-window kernels (one GEMM over the batch, no col), also 1x1 on 1x1;
//   groups of whole images per GEMM, the batch not a multiple of the group
//   (a small budget makes groups of 2 out of 7 images);
//   several slices of col with a partial last slice, and the transposed
//   orientations (y^T when C_out is small and rows >= 256; gw^T);
//   chunks of one image cut mid-row at stride 2 (col2im accumulating through
//   the phase rows); pointwise kernels grouped and not;
//   stride 3 with dilation and unequal padding (three phases, margins);
//   4x4 stride-2 kernels, whose float forward and weight gradient are
//   Winograd F(2x2, 2x2) over the input's phases: pads 0 to 3, odd outputs
//   and widths, one tile, groups of images;
// plus the same bits from the forward and input gradient on 1 and 2 threads,
// and gradcheck of the whole-window path and of conv_transpose2d 1x1 -> 4x4.
#include <doctest.h>
#include <omp.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/conv.h"

using namespace gesso;
using kernels::Conv2dGeometry;

namespace {

struct Case {
  const char* what;
  int64_t N, C_in, H, W, C_out, kH, kW;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t budget;  // 0: the default
};

Conv2dGeometry geometry(const Case& c) {
  Conv2dGeometry g;
  g.N = c.N;
  g.C_in = c.C_in;
  g.H = c.H;
  g.W = c.W;
  g.C_out = c.C_out;
  g.kH = c.kH;
  g.kW = c.kW;
  g.stride_h = c.stride_h;
  g.stride_w = c.stride_w;
  g.pad_h = c.pad_h;
  g.pad_w = c.pad_w;
  g.dilation_h = c.dilation_h;
  g.dilation_w = c.dilation_w;
  g.OH = kernels::conv2d_out_size(g.H, g.kH, g.stride_h, g.pad_h, g.dilation_h);
  g.OW = kernels::conv2d_out_size(g.W, g.kW, g.stride_w, g.pad_w, g.dilation_w);
  return g;
}

std::vector<double> random_values(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = d(rng);
  return v;
}

// The three results in double, with, per element, the sum of the absolute
// values of its terms (the scale of its rounding error).
struct Reference {
  std::vector<double> y, y_scale, gx, gx_scale, gw, gw_scale;
};

Reference direct(const Conv2dGeometry& g, const std::vector<double>& x, const std::vector<double>& w,
                 const std::vector<double>& bias, const std::vector<double>& gy, const std::vector<double>& gw0) {
  Reference r;
  r.y.assign(static_cast<size_t>(g.N * g.C_out * g.OH * g.OW), 0.0);
  r.y_scale = r.y;
  r.gx.assign(x.size(), 0.0);
  r.gx_scale = r.gx;
  r.gw = gw0;
  r.gw_scale.assign(w.size(), 0.0);
  for (size_t e = 0; e < r.gw.size(); ++e) r.gw_scale[e] = std::abs(gw0[e]);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t co = 0; co < g.C_out; ++co)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const size_t yi = static_cast<size_t>(((n * g.C_out + co) * g.OH + oh) * g.OW + ow);
          r.y[yi] = bias[co];
          r.y_scale[yi] = std::abs(bias[co]);
          for (int64_t c = 0; c < g.C_in; ++c)
            for (int64_t i = 0; i < g.kH; ++i)
              for (int64_t j = 0; j < g.kW; ++j) {
                const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
                const int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const size_t xi = static_cast<size_t>(((n * g.C_in + c) * g.H + ih) * g.W + iw);
                const size_t wi = static_cast<size_t>(((co * g.C_in + c) * g.kH + i) * g.kW + j);
                r.y[yi] += w[wi] * x[xi];
                r.y_scale[yi] += std::abs(w[wi] * x[xi]);
                r.gx[xi] += w[wi] * gy[yi];
                r.gx_scale[xi] += std::abs(w[wi] * gy[yi]);
                r.gw[wi] += gy[yi] * x[xi];
                r.gw_scale[wi] += std::abs(gy[yi] * x[xi]);
              }
        }
  return r;
}

// Rounding grows with the terms' magnitudes; a wrong or missing tap moves a
// result by one term, about scale / (C_in * kH * kW) >= scale / 1100 here,
// far above 1e-5 * scale (float) or 1e-12 * scale (double).
template <class T>
void check_close(const char* what, const std::vector<T>& got, const std::vector<double>& ref,
                 const std::vector<double>& scale) {
  REQUIRE(got.size() == ref.size());
  const double rel = sizeof(T) == 4 ? 1e-5 : 1e-12;
  int bad = 0;
  for (size_t e = 0; e < got.size(); ++e)
    if (!(std::abs(double(got[e]) - ref[e]) <= rel * scale[e] + 1e-30) && bad++ < 3)
      MESSAGE(what, " element ", e, ": got ", double(got[e]), " expected ", ref[e]);
  CHECK_MESSAGE(bad == 0, what);
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
void run_case(const Case& c) {
  const Conv2dGeometry g = geometry(c);
  REQUIRE(g.OH > 0);
  REQUIRE(g.OW > 0);
  const int64_t x_size = g.N * g.C_in * g.H * g.W, w_size = g.C_out * g.C_in * g.kH * g.kW;
  const int64_t y_size = g.N * g.C_out * g.OH * g.OW;
  const std::vector<double> x = random_values(x_size, 1), w = random_values(w_size, 2),
                            bias = random_values(g.C_out, 3), gy = random_values(y_size, 4),
                            gw0 = random_values(w_size, 5);
  const Reference ref = direct(g, x, w, bias, gy, gw0);
  const std::vector<T> xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(bias), gyt = cast<T>(gy);
  std::vector<T> y(static_cast<size_t>(y_size), T(-7)), gx(static_cast<size_t>(x_size), T(-7)), gw = cast<T>(gw0);
  kernels::conv2d_forward_cpu(xt.data(), wt.data(), bt.data(), y.data(), g);
  kernels::conv2d_backward_input_cpu(gyt.data(), wt.data(), gx.data(), g);
  kernels::conv2d_backward_weight_cpu(xt.data(), gyt.data(), gw.data(), g);
  check_close("y", y, ref.y, ref.y_scale);
  check_close("gx", gx, ref.gx, ref.gx_scale);
  check_close("gw", gw, ref.gw, ref.gw_scale);
}

struct ThreadsRestore {
  int saved = omp_get_max_threads();
  ~ThreadsRestore() { omp_set_num_threads(saved); }
};

struct BudgetRestore {
  int64_t saved = kernels::conv_col_budget();
  ~BudgetRestore() { kernels::set_conv_col_budget(saved); }
};

}  // namespace

TEST_CASE("conv kernels on every path of the plan match the direct convolution") {
  // what, N, C_in, H, W, C_out, kH, kW, stride h/w, pad h/w, dilation h/w, budget
  const Case cases[] = {
      {"whole window (the kernel covers the input: one GEMM, no col)", 5, 3, 4, 5, 7, 4, 5, 2, 1, 0, 0, 1, 1, 0},
      {"whole window 1x1 on 1x1", 3, 5, 1, 1, 4, 1, 1, 1, 1, 0, 0, 1, 1, 0},
      {"groups of 2 whole images out of 7 (a budget of 600)", 7, 3, 6, 6, 5, 3, 3, 2, 2, 1, 1, 1, 1, 600},
      {"two slices (16 + 1 channels), y^T and gw^T", 3, 17, 8, 8, 5, 4, 4, 2, 2, 1, 1, 1, 1, 0},
      {"input gradient in two slices (1040 rows)", 2, 65, 5, 5, 3, 4, 4, 1, 1, 1, 1, 1, 1, 0},
      {"C_out larger than a slice (the plain orientations)", 2, 2, 7, 9, 40, 4, 4, 2, 2, 1, 1, 1, 1, 0},
      {"chunks of one image cut mid-row at stride 2", 2, 3, 13, 13, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1},
      {"chunks of 16, 16 and 4 positions, y^T in the first two", 2, 17, 13, 13, 3, 4, 4, 2, 2, 1, 1, 1, 1, 1},
      {"chunks, stride 1 without horizontal padding (x read in place)", 2, 2, 9, 11, 3, 3, 3, 1, 1, 1, 0, 1, 1, 1},
      {"pointwise, grouped (col is a copy)", 4, 5, 3, 3, 6, 1, 1, 1, 1, 0, 0, 1, 1, 0},
      {"pointwise, one image per GEMM (col is x_n)", 2, 3, 25, 23, 4, 1, 1, 1, 1, 0, 0, 1, 1, 0},
      {"stride 3, dilation 2, unequal padding (three phases)", 3, 2, 11, 10, 3, 3, 2, 3, 3, 2, 1, 2, 2, 0},
      {"a single image (threads inside the steps)", 1, 4, 10, 9, 5, 4, 3, 2, 2, 1, 2, 1, 1, 0},
      // 4x4 stride 2 with >= 16 channels each side: the float forward and
      // weight gradient take Winograd F(2x2, 2x2) over the input's phases.
      {"phase Winograd, pad 1, odd output (partial tiles), 5 images", 5, 16, 10, 10, 17, 4, 4, 2, 2, 1, 1, 1, 1, 0},
      {"phase Winograd, pad 0, 3 x 5 output, odd width", 3, 16, 9, 13, 16, 4, 4, 2, 2, 0, 0, 1, 1, 0},
      {"phase Winograd, pads 2 and 3", 2, 18, 7, 6, 16, 4, 4, 2, 2, 2, 3, 1, 1, 0},
      {"phase Winograd, groups of images (64 tiles each)", 4, 16, 32, 32, 16, 4, 4, 2, 2, 1, 1, 1, 1, 0},
      {"phase Winograd, 2 x 2 output (one tile)", 3, 20, 4, 5, 16, 4, 4, 2, 2, 1, 1, 1, 1, 0},
      // The transformed weight (9 x 16 x 64 = 9216) fits the forward's budget (twice the col budget) but not
      // the weight gradient's: the forward takes Winograd, the weight gradient im2col (DCGAN's 256->512 layer).
      {"phase Winograd forward, im2col weight gradient (a budget of 6000)", 3, 16, 8, 8, 16, 4, 4, 2, 2, 1, 1, 1, 1,
       6000},
  };
  ThreadsRestore threads_restore;
  BudgetRestore budget_restore;
  for (const Case& c : cases) {
    for (int threads : {1, 2}) {
      const std::string what = c.what;
      CAPTURE(what);
      CAPTURE(threads);
      omp_set_num_threads(threads);
      kernels::set_conv_col_budget(c.budget > 0 ? c.budget : int64_t(1) << 22);
      run_case<double>(c);
      run_case<float>(c);
    }
  }
}

TEST_CASE("forward and input gradient: the same bits on one thread and on two (blocks handed out dynamically)") {
  // The team takes groups of images (or single images in chunks) one at a
  // time: which thread computes which image must not change any value.
  const std::vector<Case> cases = {
      {"im2col, groups of images", 9, 5, 9, 9, 7, 3, 3, 2, 2, 1, 1, 1, 1, 0},
      {"im2col, one image in chunks (a budget of 300)", 5, 3, 12, 11, 4, 3, 3, 2, 2, 1, 1, 1, 1, 300},
      {"phase Winograd, groups of images", 7, 16, 12, 12, 16, 4, 4, 2, 2, 1, 1, 1, 1, 0},
  };
  ThreadsRestore threads_restore;
  BudgetRestore budget_restore;
  for (const Case& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    kernels::set_conv_col_budget(c.budget > 0 ? c.budget : int64_t(1) << 22);
    const Conv2dGeometry g = geometry(c);
    const std::vector<float> x = cast<float>(random_values(g.N * g.C_in * g.H * g.W, 1)),
                             w = cast<float>(random_values(g.C_out * g.C_in * g.kH * g.kW, 2)),
                             gy = cast<float>(random_values(g.N * g.C_out * g.OH * g.OW, 4));
    std::vector<float> y[2], gx[2];
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      y[threads - 1].resize(gy.size());
      gx[threads - 1].resize(x.size());
      kernels::conv2d_forward_cpu<float>(x.data(), w.data(), nullptr, y[threads - 1].data(), g);
      kernels::conv2d_backward_input_cpu<float>(gy.data(), w.data(), gx[threads - 1].data(), g);
    }
    CHECK(y[0] == y[1]);
    CHECK(gx[0] == gx[1]);
  }
}

TEST_CASE("gradients through the whole-window path: conv2d 4x4 -> 1x1 and conv_transpose2d 1x1 -> 4x4") {
  Generator gen(9);
  const TensorOptions opt = TensorOptions(DType::f64).grad();
  Conv2dParams valid;  // stride 1, pad 0
  Tensor x = randn({3, 2, 4, 3}, gen, opt), w = randn({5, 2, 4, 3}, gen, opt), b = randn({5}, gen, opt);
  auto f = [valid](const std::vector<Tensor>& v) {
    Tensor y = conv2d(v[0], v[1], v[2], valid);
    return y * y;
  };
  auto r = autograd::gradcheck(f, {x, w, b});
  CHECK_MESSAGE(r.ok, r.report);
  r = autograd::gradgradcheck(f, {x, w, b});
  CHECK_MESSAGE(r.ok, r.report);
  // The DCGAN generator's first layer: a latent vector (N, C, 1, 1) to 4 x 4.
  Tensor z = randn({3, 4, 1, 1}, gen, opt), wt = randn({4, 2, 4, 4}, gen, opt);
  auto ft = [valid](const std::vector<Tensor>& v) {
    Tensor y = conv_transpose2d(v[0], v[1], Tensor(), valid);
    return y * y;
  };
  r = autograd::gradcheck(ft, {z, wt});
  CHECK_MESSAGE(r.ok, r.report);
  r = autograd::gradgradcheck(ft, {z, wt});
  CHECK_MESSAGE(r.ok, r.report);
  CHECK(conv_transpose2d(z, wt, Tensor(), valid).shape() == Shape{3, 2, 4, 4});
}
