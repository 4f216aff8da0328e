// test_conv.cpp: conv2d against a naive direct convolution (strides 1-3,
// padding 0-2, dilation 1-2, zero and reflect padding, float and double,
// batch-parallel and image-by-image paths, chunked im2col, 1x1 kernels);
// conv_transpose2d against its scatter definition, output_padding included;
// first and second derivatives of every op; errors for bad input.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"

using namespace gesso;

namespace {

int64_t reflect_index(int64_t k, int64_t n) {
  if (k < 0) k = -k;
  if (k >= n) k = 2 * (n - 1) - k;
  return k;
}

// Direct convolution in double, padding read as 0 or mirrored.
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                                 Shape* out_shape) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t CO = w.size(0), kH = w.size(2), kW = w.size(3);
  const int64_t OH = (H + 2 * p.pad_h - p.dilation_h * (kH - 1) - 1) / p.stride_h + 1;
  const int64_t OW = (W + 2 * p.pad_w - p.dilation_w * (kW - 1) - 1) / p.stride_w + 1;
  *out_shape = {N, CO, OH, OW};
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), out(N * CO * OH * OW);
  std::vector<double> bv = bias.defined() ? bias.to_vector<double>() : std::vector<double>(CO, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < CO; ++co)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bv[co];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                int64_t ih = oh * p.stride_h - p.pad_h + i * p.dilation_h;
                int64_t iw = ow * p.stride_w - p.pad_w + j * p.dilation_w;
                if (p.padding_mode == PaddingMode::reflect) {
                  ih = reflect_index(ih, H);
                  iw = reflect_index(iw, W);
                } else if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                  continue;
                }
                s += wv[((co * C + c) * kH + i) * kW + j] * xv[((n * C + c) * H + ih) * W + iw];
              }
          out[((n * CO + co) * OH + oh) * OW + ow] = s;
        }
  return out;
}

// The transposed convolution by its definition: every input pixel scatters
// its value times the kernel onto the output. w is (C_in, C_out, kH, kW).
std::vector<double> naive_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias,
                                           const Conv2dParams& p, int oph, int opw, Shape* out_shape) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t CO = w.size(1), kH = w.size(2), kW = w.size(3);
  const int64_t OH = (H - 1) * p.stride_h - 2 * p.pad_h + p.dilation_h * (kH - 1) + oph + 1;
  const int64_t OW = (W - 1) * p.stride_w - 2 * p.pad_w + p.dilation_w * (kW - 1) + opw + 1;
  *out_shape = {N, CO, OH, OW};
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), out(N * CO * OH * OW, 0.0);
  std::vector<double> bv = bias.defined() ? bias.to_vector<double>() : std::vector<double>(CO, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t co = 0; co < CO; ++co)
      for (int64_t k = 0; k < OH * OW; ++k) out[(n * CO + co) * OH * OW + k] = bv[co];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw)
          for (int64_t co = 0; co < CO; ++co)
            for (int64_t i = 0; i < kH; ++i)
              for (int64_t j = 0; j < kW; ++j) {
                const int64_t oh = ih * p.stride_h - p.pad_h + i * p.dilation_h;
                const int64_t ow = iw * p.stride_w - p.pad_w + j * p.dilation_w;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                out[((n * CO + co) * OH + oh) * OW + ow] +=
                    xv[((n * C + c) * H + ih) * W + iw] * wv[((c * CO + co) * kH + i) * kW + j];
              }
  return out;
}

// float: sums of at most ~40 products of N(0,1) values, each rounded to
// float: 1e-4 absolute covers the rounding with margin, while a wrong tap
// or a missing term moves results by O(1). double: the same code in double
// must agree to rounding (1e-10).
void check_close(const Tensor& got, const std::vector<double>& ref, const Shape& ref_shape) {
  REQUIRE(got.shape() == ref_shape);
  const double atol = got.dtype() == DType::f32 ? 1e-4 : 1e-10, rtol = got.dtype() == DType::f32 ? 1e-5 : 1e-10;
  std::vector<double> g = got.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - ref[i]) <= atol + rtol * std::abs(ref[i])) && bad++ < 3)
      MESSAGE("element ", i, ": got ", g[i], " expected ", ref[i]);
  CHECK(bad == 0);
}

Conv2dParams params(int sh, int sw, int ph, int pw, int dh, int dw, PaddingMode mode = PaddingMode::zeros) {
  Conv2dParams p;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  p.dilation_h = dh;
  p.dilation_w = dw;
  p.padding_mode = mode;
  return p;
}

TensorOptions f64g() { return TensorOptions(DType::f64).grad(); }

struct BackendRestore {
  kernels::GemmBackend saved = kernels::gemm_backend();
  ~BackendRestore() { kernels::set_gemm_backend(saved); }
};

struct BudgetRestore {
  int64_t saved = kernels::conv_col_budget();
  ~BudgetRestore() { kernels::set_conv_col_budget(saved); }
};

}  // namespace

TEST_CASE("conv2d matches the direct convolution: strides, padding, dilation, both padding modes") {
  Generator gen(1);
  BackendRestore restore;
  for (DType dt : {DType::f64, DType::f32}) {
    // double on the default GEMM backend, float on the handwritten one.
    if (dt == DType::f32) kernels::set_gemm_backend(kernels::GemmBackend::handwritten);
    // N = 3 runs the batch-parallel path, N = 1 the image-by-image one.
    for (int64_t N : {1, 3}) {
      Tensor x = randn({N, 3, 7, 6}, gen, dt), w = randn({4, 3, 3, 2}, gen, dt), b = randn({4}, gen, dt);
      for (int s = 1; s <= 3; ++s)
        for (int pad = 0; pad <= 2; ++pad)
          for (int d = 1; d <= 2; ++d)
            for (PaddingMode mode : {PaddingMode::zeros, PaddingMode::reflect}) {
              // Height and width differ in every parameter.
              Conv2dParams p = params(s, 1 + s % 3, pad, (pad + 1) % 3, d, 3 - d, mode);
              CAPTURE(s);
              CAPTURE(pad);
              CAPTURE(d);
              CAPTURE(static_cast<int>(mode));
              Shape shape;
              std::vector<double> ref = naive_conv2d(x, w, b, p, &shape);
              check_close(conv2d(x, w, b, p), ref, shape);
              ref = naive_conv2d(x, w, Tensor(), p, &shape);
              check_close(conv2d(x, w, Tensor(), p), ref, shape);
            }
    }
  }
}

TEST_CASE("conv2d special paths: 1x1 kernels, chunked im2col, non-contiguous inputs") {
  Generator gen(2);
  Tensor x = randn({2, 5, 6, 7}, gen, DType::f64), w1 = randn({3, 5, 1, 1}, gen, DType::f64);
  Shape shape;
  std::vector<double> ref = naive_conv2d(x, w1, Tensor(), params(1, 1, 0, 0, 1, 1), &shape);
  check_close(conv2d(x, w1, Tensor(), params(1, 1, 0, 0, 1, 1)), ref, shape);
  // Chunks of 16 output positions, which cut output rows of width 11 and 12 mid-row.
  BudgetRestore restore;
  kernels::set_conv_col_budget(1);
  Tensor xl = randn({2, 2, 13, 11}, gen, DType::f64), wl = randn({3, 2, 3, 3}, gen, DType::f64);
  for (int64_t N : {1, 2}) {
    Tensor xn = xl.narrow(0, 0, N);
    for (Conv2dParams p : {params(1, 1, 1, 1, 1, 1), params(2, 1, 0, 2, 1, 2)}) {
      ref = naive_conv2d(xn, wl, Tensor(), p, &shape);
      check_close(conv2d(xn, wl, Tensor(), p), ref, shape);
      // The adjoints, chunked too, checked through first derivatives below at the
      // default budget; here against the unchunked result.
      Tensor g = randn(shape, gen, DType::f64);
      Tensor gx_chunked = conv2d_input_grad(g, wl, xn.shape(), p);
      Tensor gw_chunked = conv2d_weight_grad(xn, g, wl.shape(), p);
      kernels::set_conv_col_budget(int64_t(1) << 22);
      check_close(gx_chunked, conv2d_input_grad(g, wl, xn.shape(), p).to_vector<double>(), xn.shape());
      check_close(gw_chunked, conv2d_weight_grad(xn, g, wl.shape(), p).to_vector<double>(), wl.shape());
      kernels::set_conv_col_budget(1);
    }
  }
  kernels::set_conv_col_budget(int64_t(1) << 22);
  // A permuted (non-contiguous) input gives the same result as its copy.
  Tensor xp = randn({2, 6, 5, 7}, gen, DType::f64).permute({0, 2, 1, 3});
  Tensor w = randn({2, 5, 3, 3}, gen, DType::f64);
  ref = naive_conv2d(xp.contiguous(), w, Tensor(), params(1, 1, 1, 1, 1, 1), &shape);
  check_close(conv2d(xp, w, Tensor(), params(1, 1, 1, 1, 1, 1)), ref, shape);
}

TEST_CASE("conv_transpose2d matches the scatter definition, output_padding included") {
  Generator gen(3);
  for (DType dt : {DType::f64, DType::f32}) {
    for (int64_t N : {1, 3}) {
      Tensor x = randn({N, 3, 5, 4}, gen, dt), w = randn({3, 2, 3, 4}, gen, dt), b = randn({2}, gen, dt);
      for (int s = 1; s <= 3; ++s)
        for (int pad = 0; pad <= 2; ++pad)
          for (int d = 1; d <= 2; ++d)
            for (int op = 0; op < s; ++op) {
              Conv2dParams p = params(s, 1 + s % 3, pad, (pad + 1) % 3, d, 3 - d);
              const int opw = op % p.stride_w;
              CAPTURE(s);
              CAPTURE(pad);
              CAPTURE(d);
              CAPTURE(op);
              Shape shape;
              std::vector<double> ref = naive_conv_transpose2d(x, w, b, p, op, opw, &shape);
              check_close(conv_transpose2d(x, w, b, p, op, opw), ref, shape);
            }
    }
  }
  // The DCGAN generator step: 4x4 -> 8x8 with kernel 4, stride 2, pad 1.
  Tensor x = randn({2, 8, 4, 4}, gen), w = randn({8, 4, 4, 4}, gen);
  CHECK(conv_transpose2d(x, w, Tensor(), params(2, 2, 1, 1, 1, 1)).shape() == Shape{2, 4, 8, 8});
}

TEST_CASE("reflection_pad2d mirrors without repeating the edge") {
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  Tensor y = reflection_pad2d(x, 1, 2);
  CHECK(y.shape() == Shape{1, 1, 4, 7});
  // rows: reflect(-1) = 1, 0, 1, reflect(2) = 0; columns 2 1 | 0 1 2 | 1 0
  CHECK(y.to_vector<float>() == std::vector<float>{6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1,
                                                   6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1});
}

TEST_CASE("gradients of conv2d, its adjoints, conv_transpose2d and reflection_pad2d") {
  Generator gen(4);
  Tensor x = randn({2, 2, 5, 4}, gen, f64g()), w = randn({3, 2, 3, 2}, gen, f64g()), b = randn({3}, gen, f64g());
  const Conv2dParams p = params(2, 1, 1, 1, 1, 2);
  const Conv2dParams pr = params(1, 2, 2, 1, 2, 1, PaddingMode::reflect);

  SUBCASE("conv2d: first and second order, zero and reflect padding") {
    for (Conv2dParams q : {p, pr}) {
      auto f = [q](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], q); };
      auto r = autograd::gradcheck(f, {x, w, b});
      CHECK_MESSAGE(r.ok, r.report);
      r = autograd::gradgradcheck(f, {x, w, b});
      CHECK_MESSAGE(r.ok, r.report);
      // Squared, so the gradient flowing into the adjoints depends on the inputs too.
      auto f2 = [q](const std::vector<Tensor>& v) {
        Tensor y = conv2d(v[0], v[1], v[2], q);
        return y * y;
      };
      r = autograd::gradgradcheck(f2, {x, w, b});
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
  SUBCASE("the adjoints as ops of their own") {
    Tensor g = randn({2, 3, 3, 4}, gen, f64g());  // conv2d(x, w) with p is 3 x 4
    const Shape xs = x.shape(), ws = w.shape();
    auto fi = [p, xs](const std::vector<Tensor>& v) {
      Tensor y = conv2d_input_grad(v[0], v[1], xs, p);
      return y * y;
    };
    auto r = autograd::gradcheck(fi, {g, w});
    CHECK_MESSAGE(r.ok, r.report);
    r = autograd::gradgradcheck(fi, {g, w});
    CHECK_MESSAGE(r.ok, r.report);
    auto fw = [p, ws](const std::vector<Tensor>& v) {
      Tensor y = conv2d_weight_grad(v[0], v[1], ws, p);
      return y * y;
    };
    r = autograd::gradcheck(fw, {x, g});
    CHECK_MESSAGE(r.ok, r.report);
    r = autograd::gradgradcheck(fw, {x, g});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("conv_transpose2d") {
    Tensor xt = randn({2, 3, 3, 4}, gen, f64g()), wt = randn({3, 2, 3, 2}, gen, f64g()), bt = randn({2}, gen, f64g());
    auto f = [p](const std::vector<Tensor>& v) { return conv_transpose2d(v[0], v[1], v[2], p, 1, 0); };
    auto r = autograd::gradcheck(f, {xt, wt, bt});
    CHECK_MESSAGE(r.ok, r.report);
    auto f2 = [p](const std::vector<Tensor>& v) {
      Tensor y = conv_transpose2d(v[0], v[1], v[2], p, 1, 0);
      return y * y;
    };
    r = autograd::gradgradcheck(f2, {xt, wt, bt});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("reflection_pad2d") {
    Tensor xs = randn({1, 2, 3, 4}, gen, f64g());
    auto f = [](const std::vector<Tensor>& v) { return reflection_pad2d(v[0], 2, 3); };
    auto r = autograd::gradcheck(f, {xs});
    CHECK_MESSAGE(r.ok, r.report);
    auto f2 = [](const std::vector<Tensor>& v) {
      Tensor y = reflection_pad2d(v[0], 2, 3);
      return y * y;
    };
    r = autograd::gradgradcheck(f2, {xs});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("conv ops reject bad input, naming the argument, expected and actual") {
  Tensor x = zeros({2, 3, 8, 8}), w = zeros({4, 3, 3, 3});
  const Conv2dParams p;
  CHECK_THROWS_WITH_AS(conv2d(zeros({3, 8, 8}), w, Tensor(), p),
                       doctest::Contains("conv2d: argument 'x' must be 4-d (N, C_in, H, W), got shape (3, 8, 8)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 5, 3, 3}), Tensor(), p),
                       doctest::Contains("conv2d: channel mismatch: input has shape (2, 3, 8, 8) (3 channels) but "
                                         "weight has shape (4, 5, 3, 3) (expects 5 input channels)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 9, 3}), Tensor(), p),
                       doctest::Contains("conv2d: kernel larger than padded input"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), params(1, 1, 0, 0, 4, 1)),
                       doctest::Contains("spans 9 x 3, but the input of shape (2, 3, 8, 8) padded by (0, 0) is 8 x 8"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), params(0, 1, 0, 0, 1, 1)),
                       doctest::Contains("conv2d: argument 'stride' must be positive, got (0, 1)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), params(1, 1, 0, 0, 1, -1)),
                       doctest::Contains("conv2d: argument 'dilation' must be positive, got (1, -1)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), params(1, 1, -1, 0, 1, 1)),
                       doctest::Contains("conv2d: argument 'pad' must be >= 0, got (-1, 0)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({3}), p),
                       doctest::Contains("conv2d: argument 'bias' must have shape (4,)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 3, 4, 8}), w, Tensor(), params(1, 1, 4, 1, 1, 1, PaddingMode::reflect)),
                       doctest::Contains("conv2d: padding_mode reflect needs 'pad' smaller than the input (4 x 8"),
                       Error);
  CHECK_THROWS_WITH_AS(reflection_pad2d(zeros({1, 1, 3, 5}), 3, 1),
                       doctest::Contains("reflection_pad2d: argument 'pad_h' must be < the input height 3"), Error);
  CHECK_THROWS_WITH_AS(reflection_pad2d(zeros({1, 1, 3, 5}), 1, 5),
                       doctest::Contains("reflection_pad2d: argument 'pad_w' must be < the input width 5"), Error);
  CHECK_THROWS_WITH_AS(reflection_pad2d(zeros({3, 5}), 1, 1),
                       doctest::Contains("reflection_pad2d: argument 'x' must be 4-d"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, zeros({4, 2, 3, 3}), Tensor(), p),
                       doctest::Contains("conv_transpose2d: channel mismatch: x has shape (2, 3, 8, 8) (3 channels)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, zeros({3, 2, 3, 3}), Tensor(), params(2, 2, 0, 0, 1, 1), 2, 0),
                       doctest::Contains("'output_padding' must be >= 0 and smaller than the stride (2, 2), got (2, 0)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, zeros({3, 2, 3, 3}), Tensor(), params(1, 1, 1, 1, 1, 1, PaddingMode::reflect)),
                       doctest::Contains("'padding_mode' must be zeros"), Error);
  CHECK_THROWS_WITH_AS(conv2d_input_grad(zeros({2, 4, 5, 5}), w, {2, 3, 8, 8}, p),
                       doctest::Contains("conv2d_input_grad: grad_out has shape (2, 4, 5, 5) but an input of shape "
                                         "(2, 3, 8, 8) and weight (4, 3, 3, 3) give an output of 6 x 6"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d_weight_grad(x, zeros({2, 5, 6, 6}), w.shape(), p),
                       doctest::Contains("conv2d_weight_grad: channel mismatch: grad_out has shape (2, 5, 6, 6)"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({4, 3, 3, 3}, DType::f64), Tensor(), p),
                       doctest::Contains("different dtypes"), Error);
}
