// test_loss.cpp: every loss against a value computed by hand (or from a
// differently written formula) on a tiny input, against plain references on
// random odd shapes, stability at logits +-100, gradcheck / gradgradcheck in
// float64, and bad input (shape mismatch, labels out of range, ...).
#include <doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "naive_ref.h"

using namespace gesso;

namespace {

Tensor vec(std::vector<double> v, DType dt = DType::f64) {
  int64_t n = static_cast<int64_t>(v.size());
  return from_vector(v, {n}, dt);
}

Tensor leaf(const Shape& s, uint64_t seed, double scale = 1.0) {
  Generator gen(seed);
  return randn(s, gen, TensorOptions(DType::f64).grad(), 0.0, scale);
}

double softplus_ref(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

void expect_grad_ok(const autograd::TestFn& f, const std::vector<Tensor>& in, const std::string& what,
                    bool second = true) {
  auto r = autograd::gradcheck(f, in);
  CHECK_MESSAGE(r.ok, what, " gradcheck: ", r.report);
  if (second) {
    auto r2 = autograd::gradgradcheck(f, in);
    CHECK_MESSAGE(r2.ok, what, " gradgradcheck: ", r2.report);
  }
}

}  // namespace

TEST_CASE("mse_loss, l1_loss, bce_with_logits: hand values, random references, float and double") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor p = vec({1, 2, 3}, dt), t = vec({1.5, 2, 1}, dt);
    // diffs -0.5, 0, 2: squares 0.25, 0, 4; absolutes 0.5, 0, 2
    CHECK(mse_loss(p, t).item() == doctest::Approx(4.25 / 3));
    CHECK(l1_loss(p, t).item() == doctest::Approx(2.5 / 3));
    CHECK(mse_loss(p, t).dim() == 0);
  }
  Generator gen(1);
  for (DType dt : {DType::f32, DType::f64}) {
    // The second shape (36k elements) is above kParallelGrain: the threaded reduction runs.
    for (const Shape& s : {Shape{3, 5, 7}, Shape{31, 37, 31}}) {
      Tensor a = randn(s, gen, dt), b = randn({s[2], s[0], s[1]}, gen, dt).permute({1, 2, 0});  // b not contiguous
      Tensor x = randn(s, gen, dt, 0.0, 4.0), t = rand(s, gen, dt);
      std::vector<double> va = naive::values(a), vb = naive::values(b), vx = naive::values(x), vt = naive::values(t);
      double se = 0, ae = 0, bce = 0;
      for (size_t i = 0; i < va.size(); ++i) {
        se += (va[i] - vb[i]) * (va[i] - vb[i]);
        ae += std::abs(va[i] - vb[i]);
        double sig = 1 / (1 + std::exp(-vx[i]));
        bce += -(vt[i] * std::log(sig) + (1 - vt[i]) * std::log(1 - sig));
      }
      double n = static_cast<double>(va.size());
      // The kernels accumulate in double too; only the final rounding to T differs.
      double rtol = dt == DType::f32 ? 1e-6 : 1e-12;
      CHECK(std::abs(mse_loss(a, b).item() - se / n) <= rtol * se / n);
      CHECK(std::abs(l1_loss(a, b).item() - ae / n) <= rtol * ae / n);
      CHECK(std::abs(bce_with_logits(x, t).item() - bce / n) <= rtol * bce / n);
    }
  }
}

TEST_CASE("bce_with_logits: hand value from the log-sigmoid form, and stability at +-100") {
  for (DType dt : {DType::f32, DType::f64}) {
    std::vector<double> x = {0, 2, -1, 0.3}, t = {1, 0, 0.5, 0.25};
    double ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double s = 1 / (1 + std::exp(-x[i]));
      ref += -(t[i] * std::log(s) + (1 - t[i]) * std::log(1 - s));
    }
    CHECK(bce_with_logits(vec(x, dt), vec(t, dt)).item() == doctest::Approx(ref / 4).epsilon(1e-6));

    // Naive -log(sigmoid) overflows or gives log(0) here; the stable form is exact.
    Tensor big = vec({100, -100, 100, -100}, dt), targets = vec({1, 0, 0, 1}, dt);
    double v = bce_with_logits(big, targets).item();
    CHECK(std::isfinite(v));
    CHECK(v == doctest::Approx((2 * std::exp(-100.0) + 200) / 4).epsilon(1e-6));
    CHECK(bce_with_logits(vec({100, -100}, dt), vec({1, 0}, dt)).item() == doctest::Approx(std::exp(-100.0)).scale(0).epsilon(0.05));
    Tensor xg = vec({100, -100, 100, -100}).requires_grad_();
    Tensor gx = autograd::grad({bce_with_logits(xg, vec({1, 0, 0, 1}))}, {xg})[0];
    std::vector<double> g = gx.to_vector<double>();  // (sigmoid(x) - t) / 4
    CHECK(std::abs(g[0]) < 1e-40);
    CHECK(std::abs(g[1]) < 1e-40);
    CHECK(g[2] == doctest::Approx(0.25));
    CHECK(g[3] == doctest::Approx(-0.25));
  }
}

TEST_CASE("GAN losses: non-saturating and hinge, hand values") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor real = vec({1, -2}, dt), fake = vec({0.5, -0.25, 3}, dt);
    double d_ns = (softplus_ref(-1) + softplus_ref(2)) / 2 + (softplus_ref(0.5) + softplus_ref(-0.25) + softplus_ref(3)) / 3;
    CHECK(gan_d_loss_nonsaturating(real, fake).item() == doctest::Approx(d_ns).epsilon(1e-6));
    double g_ns = (softplus_ref(-0.5) + softplus_ref(0.25) + softplus_ref(-3)) / 3;
    CHECK(gan_g_loss_nonsaturating(fake).item() == doctest::Approx(g_ns).epsilon(1e-6));
    // hinge D: mean(relu(1 - real)) = (0 + 3) / 2; mean(relu(1 + fake)) = (1.5 + 0.75 + 4) / 3
    CHECK(gan_d_loss_hinge(real, fake).item() == doctest::Approx(1.5 + 6.25 / 3).epsilon(1e-6));
    CHECK(gan_g_loss_hinge(fake).item() == doctest::Approx(-3.25 / 3).epsilon(1e-6));
    // A batch of (N, 1) logits is a batch too.
    CHECK(gan_g_loss_hinge(fake.reshape({3, 1})).item() == doctest::Approx(-3.25 / 3).epsilon(1e-6));
    // Stable at extreme logits: D is perfect, loss -> 0 without NaN.
    double perfect = gan_d_loss_nonsaturating(vec({100}, dt), vec({-100}, dt)).item();
    CHECK(std::isfinite(perfect));
    CHECK(perfect < 1e-30);
    CHECK(gan_g_loss_nonsaturating(vec({-100}, dt)).item() == doctest::Approx(100).epsilon(1e-6));
  }
}

TEST_CASE("total_variation: the documented definition on a hand example and a random reference") {
  // x (1, 1, 2, 3) = [[1, 2, 4], [0, 3, 3]]
  // horizontal differences 1, 2, 3, 0: mean of squares (1 + 4 + 9 + 0) / 4 = 3.5
  // vertical differences -1, 1, -1: mean of squares 1
  Tensor x = from_vector(std::vector<double>{1, 2, 4, 0, 3, 3}, {1, 1, 2, 3});
  CHECK(total_variation(x).item() == doctest::Approx(4.5));
  // One row: only the horizontal term; one column: only the vertical one; one pixel: 0.
  CHECK(total_variation(from_vector(std::vector<double>{1, 2, 4}, {1, 1, 1, 3})).item() == doctest::Approx(5.0 / 2));
  CHECK(total_variation(from_vector(std::vector<double>{1, 2, 4}, {1, 1, 3, 1})).item() == doctest::Approx(5.0 / 2));
  CHECK(total_variation(ones({2, 3, 1, 1})).item() == 0.0);

  Generator gen(2);
  for (DType dt : {DType::f32, DType::f64}) {
    // (2, 3, 71, 83) is above kParallelGrain; the permuted one is not contiguous.
    for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{2, 3, 71, 83}}) {
      for (bool strided : {false, true}) {
        Tensor r = strided ? randn({s[0], s[3], s[1], s[2]}, gen, dt).permute({0, 2, 3, 1}) : randn(s, gen, dt);
        double h = 0, v = 0;
        naive::for_each_index(s, [&](const std::vector<int64_t>& i) {
          double c = naive::read_at(r, i);
          if (i[3] + 1 < s[3]) h += std::pow(naive::read_at(r, {i[0], i[1], i[2], i[3] + 1}) - c, 2);
          if (i[2] + 1 < s[2]) v += std::pow(naive::read_at(r, {i[0], i[1], i[2] + 1, i[3]}) - c, 2);
        });
        double ref = h / static_cast<double>(s[0] * s[1] * s[2] * (s[3] - 1)) +
                     v / static_cast<double>(s[0] * s[1] * (s[2] - 1) * s[3]);
        CHECK(std::abs(total_variation(r).item() - ref) <= (dt == DType::f32 ? 1e-6 : 1e-12) * ref);
      }
    }
  }
}

TEST_CASE("log_softmax: reference along every axis, stable at large logits") {
  Generator gen(3);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = randn({3, 4, 5}, gen, dt, 0.0, 3.0);
    for (int64_t axis : {0, 1, 2, -1}) {
      int a = axis < 0 ? 2 : static_cast<int>(axis);
      std::vector<double> ref;
      naive::for_each_index(x.shape(), [&](const std::vector<int64_t>& i) {
        double s = 0;
        std::vector<int64_t> j = i;
        for (j[a] = 0; j[a] < x.shape()[a]; ++j[a]) s += std::exp(naive::read_at(x, j));
        ref.push_back(naive::read_at(x, i) - std::log(s));
      });
      // float: the output is x - lse rounded once, error ~ ulp(|x| + lse).
      naive::check_close(log_softmax(x, axis), ref, dt == DType::f32 ? 2e-6 : 1e-13, 0, "log_softmax");
    }
    // Above kParallelGrain (37k elements): the threaded loop over the outer index.
    Tensor wide = randn({40, 30, 31}, gen, dt);
    std::vector<double> wref;
    naive::for_each_index(wide.shape(), [&](const std::vector<int64_t>& i) {
      double s = 0;
      for (int64_t k = 0; k < 30; ++k) s += std::exp(naive::read_at(wide, {i[0], k, i[2]}));
      wref.push_back(naive::read_at(wide, i) - std::log(s));
    });
    naive::check_close(log_softmax(wide, 1), wref, dt == DType::f32 ? 2e-6 : 1e-13, 0, "log_softmax threaded");
    Tensor big = from_vector(std::vector<double>{1000, 1000, -1000}, {1, 3}, dt);
    std::vector<double> y = naive::values(log_softmax(big, 1));
    CHECK(y[0] == doctest::Approx(-std::log(2.0)));
    CHECK(y[1] == doctest::Approx(-std::log(2.0)));
    CHECK(y[2] == doctest::Approx(-2000 - std::log(2.0)));
  }
}

TEST_CASE("cross_entropy: hand value, picks the labelled class") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor logits = from_vector(std::vector<double>{1, 2, 3, 0.5, -1, 0}, {2, 3}, dt);
    Tensor labels = vec({2, 0}, dt);
    double l0 = -(3 - std::log(std::exp(1) + std::exp(2) + std::exp(3)));
    double l1 = -(0.5 - std::log(std::exp(0.5) + std::exp(-1) + 1));
    CHECK(cross_entropy(logits, labels).item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-6));
    // A confident, correct prediction at extreme logits costs ~0, finitely.
    Tensor sure = from_vector(std::vector<double>{500, -500}, {1, 2}, dt);
    CHECK(cross_entropy(sure, vec({0}, dt)).item() == doctest::Approx(0.0));
    CHECK(cross_entropy(sure, vec({1}, dt)).item() == doctest::Approx(1000.0));
  }
}

TEST_CASE("gradcheck and gradgradcheck of the losses") {
  Tensor p = leaf({3, 1, 5}, 1), t = leaf({3, 1, 5}, 2);
  expect_grad_ok([](const std::vector<Tensor>& v) { return mse_loss(v[0], v[1]); }, {p, t}, "mse_loss");
  expect_grad_ok([](const std::vector<Tensor>& v) { return bce_with_logits(v[0], v[1]); }, {p, t}, "bce_with_logits");
  // l1's kink is at pred == target; random normals are far from ties. Its
  // second derivative is 0, which gradgradcheck confirms.
  expect_grad_ok([](const std::vector<Tensor>& v) { return l1_loss(v[0], v[1]); }, {p, t}, "l1_loss");

  Tensor real = leaf({4, 1}, 3), fake = leaf({5}, 4);
  expect_grad_ok([](const std::vector<Tensor>& v) { return gan_d_loss_nonsaturating(v[0], v[1]); }, {real, fake},
                 "gan_d_loss_nonsaturating");
  expect_grad_ok([](const std::vector<Tensor>& v) { return gan_g_loss_nonsaturating(v[0]); }, {fake},
                 "gan_g_loss_nonsaturating");
  // hinge kinks at real = 1 and fake = -1: move values off them.
  Tensor real_h = from_vector(std::vector<double>{0.2, 1.7, -0.4, 0.9}, {4}, TensorOptions(DType::f64).grad());
  Tensor fake_h = from_vector(std::vector<double>{-1.6, -0.3, 0.8}, {3}, TensorOptions(DType::f64).grad());
  expect_grad_ok([](const std::vector<Tensor>& v) { return gan_d_loss_hinge(v[0], v[1]); }, {real_h, fake_h},
                 "gan_d_loss_hinge");
  expect_grad_ok([](const std::vector<Tensor>& v) { return gan_g_loss_hinge(v[0]); }, {fake_h}, "gan_g_loss_hinge");

  expect_grad_ok([](const std::vector<Tensor>& v) { return total_variation(v[0]); }, {leaf({2, 3, 4, 5}, 5)},
                 "total_variation");
  expect_grad_ok([](const std::vector<Tensor>& v) { return total_variation(v[0]); }, {leaf({1, 2, 1, 5}, 6)},
                 "total_variation H=1");
  // Multiplied by the input so that the second derivative is not just TV's constant Hessian.
  expect_grad_ok([](const std::vector<Tensor>& v) { return total_variation(v[0] * v[0]); }, {leaf({1, 2, 3, 4}, 7)},
                 "total_variation(x^2)");

  Tensor x = leaf({3, 4, 5}, 8);
  for (int64_t axis : {0, 1, -1})
    expect_grad_ok([axis](const std::vector<Tensor>& v) { return log_softmax(v[0], axis); }, {x}, "log_softmax");
  Tensor logits = leaf({4, 3}, 9);
  Tensor labels = vec({2, 0, 1, 2});
  expect_grad_ok([&labels](const std::vector<Tensor>& v) { return cross_entropy(v[0], labels); }, {logits},
                 "cross_entropy");
}

TEST_CASE("loss gradients have the textbook values") {
  Tensor p = vec({1, 2, 3}).requires_grad_(), t = vec({1.5, 2, 1}).requires_grad_();
  auto g = autograd::grad({mse_loss(p, t)}, {p, t});
  CHECK(g[0].to_vector<double>() == std::vector<double>{-1.0 / 3, 0, 4.0 / 3});  // 2 (p - t) / n
  CHECK(g[1].to_vector<double>()[2] == doctest::Approx(-4.0 / 3));
  auto g1 = autograd::grad({l1_loss(p, t)}, {p})[0].to_vector<double>();  // sign(p - t) / n, 0 at ties
  CHECK(g1[0] == doctest::Approx(-1.0 / 3));
  CHECK(g1[1] == 0.0);
  CHECK(g1[2] == doctest::Approx(1.0 / 3));
  // cross_entropy: softmax - one_hot, over N
  Tensor z = from_vector(std::vector<double>{0, 0}, {1, 2}, TensorOptions(DType::f64).grad());
  auto gz = autograd::grad({cross_entropy(z, vec({1}))}, {z})[0].to_vector<double>();
  CHECK(gz[0] == doctest::Approx(0.5));
  CHECK(gz[1] == doctest::Approx(-0.5));
}

TEST_CASE("losses reject bad input with clear messages") {
  Tensor a = zeros({4, 1}), b = zeros({4});
  CHECK_THROWS_WITH_AS(mse_loss(a, b), doctest::Contains("mse_loss: argument 'target' must have the shape of 'pred' (4, 1), got (4,)"), Error);
  CHECK_THROWS_WITH_AS(l1_loss(a, b), doctest::Contains("losses do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(bce_with_logits(b, zeros({4}, DType::f64)), doctest::Contains("bce_with_logits"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(zeros({0}), zeros({0})), doctest::Contains("must not be empty"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(Tensor(), b), doctest::Contains("'pred' is undefined"), Error);
  CHECK_THROWS_WITH_AS(gan_d_loss_hinge(b, zeros({3}, DType::f64)), doctest::Contains("gan_d_loss_hinge"), Error);
  CHECK_THROWS_WITH_AS(gan_g_loss_nonsaturating(zeros({0})), doctest::Contains("'fake_logits' must not be empty"),
                       Error);
  CHECK_THROWS_WITH_AS(total_variation(zeros({3, 4, 5})), doctest::Contains("must be 4-d (N, C, H, W), got shape (3, 4, 5)"),
                       Error);
  Tensor logits = zeros({2, 3});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, vec({0, 3}, DType::f32)),
                       doctest::Contains("class indices in [0, 3), got 3 at position 1"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, vec({-1, 0}, DType::f32)), doctest::Contains("got -1 at position 0"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, vec({0.5, 0}, DType::f32)), doctest::Contains("got 0.5"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, vec({0, 1, 2}, DType::f32)), doctest::Contains("must have shape (2,)"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({6}), vec({0}, DType::f32)), doctest::Contains("must be 2-d (N, K)"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(zeros({2, 3}), 2), doctest::Contains("out of range"), Error);
}
