// test_gram.cpp: the Gram matrix. The kernel against a naive double triple
// loop at odd sizes (C not a multiple of the 4x4 tile, HW not a multiple of
// the vector width and longer than one 1024-element chunk), a hand example,
// exact symmetry, the op on batches and non-contiguous input, gradcheck and
// gradgradcheck in float64 (backward through bmm), bad input.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/gram.h"
#include "kernels/random.h"
#include "naive_ref.h"

using namespace gesso;

namespace {

// g[i][j] = scale * sum_k x[i][k] x[j][k], in double.
std::vector<double> gram_ref(const std::vector<double>& x, int C, int HW, double scale) {
  std::vector<double> g(static_cast<size_t>(C) * C);
  for (int i = 0; i < C; ++i)
    for (int j = 0; j < C; ++j) {
      double s = 0;
      for (int k = 0; k < HW; ++k) s += x[static_cast<size_t>(i) * HW + k] * x[static_cast<size_t>(j) * HW + k];
      g[static_cast<size_t>(i) * C + j] = scale * s;
    }
  return g;
}

template <class T>
void check_kernel(int C, int HW, double scale) {
  std::vector<T> x(static_cast<size_t>(C) * HW);
  kernels::philox_uniform_cpu<T>(C * 1000 + HW, 0, x.data(), static_cast<int64_t>(x.size()), -1.0, 1.0);
  std::vector<double> xd(x.begin(), x.end());
  std::vector<double> ref = gram_ref(xd, C, HW, scale);
  std::vector<T> g(static_cast<size_t>(C) * C, T(-7));
  kernels::gram_forward_cpu<T>(x.data(), g.data(), C, HW, static_cast<T>(scale));
  // float: chunk sums of <= 1024 products of |x| <= 1 in float: error about
  // 1024 * 6e-8 * (sum of |products|) in the worst case, ~sqrt of it in
  // practice; bound by 2e-5 * sum|x_i x_j| (the condition of the dot product).
  double rtol = std::is_same<T, float>::value ? 2e-5 : 1e-13;
  int bad = 0;
  for (int i = 0; i < C; ++i)
    for (int j = 0; j < C; ++j) {
      double mag = 0;
      for (int k = 0; k < HW; ++k) mag += std::abs(xd[static_cast<size_t>(i) * HW + k] * xd[static_cast<size_t>(j) * HW + k]);
      double got = g[static_cast<size_t>(i) * C + j], want = ref[static_cast<size_t>(i) * C + j];
      if (!(std::abs(got - want) <= rtol * std::abs(scale) * mag + 1e-300)) ++bad;
      if (g[static_cast<size_t>(i) * C + j] != g[static_cast<size_t>(j) * C + i]) ++bad;  // mirrored bitwise
    }
  CHECK_MESSAGE(bad == 0, "gram kernel C=", C, " HW=", HW, ": ", bad, " entries off");
}

}  // namespace

TEST_CASE("gram kernel matches the naive triple loop at odd sizes, float and double") {
  for (int C : {1, 3, 4, 5, 13}) {
    for (int HW : {1, 7, 33, 1100, 2051}) {
      check_kernel<float>(C, HW, 1.0);
      check_kernel<double>(C, HW, 0.37);
    }
  }
  check_kernel<float>(67, 300, 1.0 / 300);  // many blocks: exercises the parallel loop
}

TEST_CASE("gram of a hand example") {
  // One image, C = 2, 2x2 pixels: F = [[1, 2, 3, 4], [0, 1, 0, -1]]
  // F F^T = [[30, -2], [-2, 2]]
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 0, 1, 0, -1}, {1, 2, 2, 2});
  CHECK(gram(x).shape() == Shape{1, 2, 2});
  CHECK(gram(x).to_vector<double>() == std::vector<double>{30, -2, -2, 2});
  std::vector<double> half = gram(x, 0.5).to_vector<double>();
  CHECK(half == std::vector<double>{15, -1, -1, 1});
  Tensor xf = x.to(DType::f32);
  CHECK(gram(xf).to_vector<float>() == std::vector<float>{30, -2, -2, 2});
}

TEST_CASE("gram op on a batch and on non-contiguous input") {
  Generator gen(4);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor base = randn({2, 6, 5, 3}, gen, dt);
    Tensor x = base.permute({0, 3, 2, 1});  // (2, 3, 5, 6), not contiguous
    Tensor g = gram(x, 1.0 / 30);
    CHECK(g.shape() == Shape{2, 3, 3});
    std::vector<double> ref;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          double s = 0;
          for (int64_t h = 0; h < 5; ++h)
            for (int64_t w = 0; w < 6; ++w) s += naive::read_at(x, {n, i, h, w}) * naive::read_at(x, {n, j, h, w});
          ref.push_back(s / 30);
        }
    // float: 30-term dot products of normals, one rounding each: 1e-6 absolute.
    naive::check_close(g, ref, dt == DType::f32 ? 1e-6 : 1e-14, dt == DType::f32 ? 1e-6 : 1e-14, "gram batch");
  }
  // Empty spatial size: the Gram matrix of no pixels is zero.
  CHECK(gram(zeros({1, 2, 0, 3})).to_vector<float>() == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("gram gradient: textbook value, gradcheck, gradgradcheck") {
  // d sum(G) / dF = 2 * scale * (column sums broadcast): for F (C, HW),
  // sum_ij sum_k F_ik F_jk => dF_ik = 2 sum_j F_jk.
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 0, 1, 0, -1}, {1, 2, 2, 2}, TensorOptions(DType::f64).grad());
  Tensor dx = autograd::grad({sum(gram(x, 0.5))}, {x})[0];
  CHECK(dx.to_vector<double>() == std::vector<double>{1, 3, 3, 3, 1, 3, 3, 3});

  Generator gen(6);
  Tensor a = randn({2, 3, 2, 3}, gen, TensorOptions(DType::f64).grad());
  autograd::TestFn f = [](const std::vector<Tensor>& v) { return gram(v[0], 0.25); };
  auto r = autograd::gradcheck(f, {a});
  CHECK_MESSAGE(r.ok, r.report);
  auto r2 = autograd::gradgradcheck(f, {a});
  CHECK_MESSAGE(r2.ok, r2.report);
  // A style loss, as used: mse between two Gram matrices, differentiated twice.
  Tensor target = randn({2, 3, 3}, gen, DType::f64);
  autograd::TestFn style = [&target](const std::vector<Tensor>& v) { return mse_loss(gram(v[0], 1.0 / 6), target); };
  auto r3 = autograd::gradgradcheck(style, {a});
  CHECK_MESSAGE(r3.ok, r3.report);
}

TEST_CASE("gram rejects bad input") {
  CHECK_THROWS_WITH_AS(gram(zeros({2, 3, 4})), doctest::Contains("gram: argument 'x' must be 4-d (N, C, H, W), got shape (2, 3, 4)"),
                       Error);
  CHECK_THROWS_WITH_AS(gram(zeros({1, 2, 2, 2}), std::nan("")), doctest::Contains("'scale' must be finite"), Error);
  CHECK_THROWS_WITH_AS(gram(Tensor()), doctest::Contains("undefined"), Error);
}
