// test_autograd_core.cpp: the engine itself: recording, accumulation,
// no-grad, retain_graph, grad() w.r.t. non-leaves, second order.
#include <doctest.h>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace gesso;

TEST_CASE("backward of a small expression matches the hand derivative") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3}, {3}, TensorOptions(DType::f64).grad());
  Tensor y = sum(x * x * 3.0 + x);  // dy/dx = 6x + 1
  y.backward();
  auto g = x.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(7));
  CHECK(g[1] == doctest::Approx(13));
  CHECK(g[2] == doctest::Approx(19));
}

TEST_CASE("gradients accumulate across backward calls") {
  Tensor x = from_vector(std::vector<float>{2}, {1}, TensorOptions().grad());
  sum(x * x).backward();
  sum(x * x).backward();
  CHECK(x.grad().item() == doctest::Approx(8));
}

TEST_CASE("no-grad scope records nothing") {
  Tensor x = ones({2}, TensorOptions().grad());
  NoGradGuard ng;
  Tensor y = x * 2.0;
  CHECK_FALSE(y.requires_grad());
  CHECK(y.is_leaf());
}

TEST_CASE("second backward without retain_graph fails clearly; with it, works") {
  Tensor x = ones({3}, TensorOptions().grad());
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  CHECK(x.grad().to_vector<float>()[0] == doctest::Approx(2 * std::exp(1.0)));
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), Error);
}

TEST_CASE("grad() of a non-leaf and a gradient of a gradient") {
  Tensor x = from_vector(std::vector<double>{0.5, -1.5}, {2}, TensorOptions(DType::f64).grad());
  Tensor h = x * x;  // non-leaf
  Tensor y = sum(pow(h, 3.0));  // y = sum x^6
  auto gh = autograd::grad({y}, {h}, {}, true, false);
  CHECK(gh[0].to_vector<double>()[0] == doctest::Approx(3 * 0.25 * 0.25));  // 3 h^2
  auto gx = autograd::grad({y}, {x}, {}, true, true);  // 6 x^5, with a graph
  CHECK(gx[0].requires_grad());
  auto gxx = autograd::grad({sum(gx[0])}, {x});  // 30 x^4
  CHECK(gxx[0].to_vector<double>()[1] == doctest::Approx(30 * std::pow(1.5, 4)));
  CHECK(x.grad().defined() == false);  // grad() never touches .grad
}

TEST_CASE("broadcasting gradients sum back to the input shape") {
  Generator gen(3);
  Tensor a = randn({3, 1, 4}, gen, TensorOptions(DType::f64).grad());
  Tensor b = randn({5, 1}, gen, TensorOptions(DType::f64).grad());
  for (auto f : std::vector<autograd::TestFn>{
           [](const std::vector<Tensor>& v) { return v[0] + v[1]; },
           [](const std::vector<Tensor>& v) { return v[0] - v[1]; },
           [](const std::vector<Tensor>& v) { return v[0] * v[1]; },
           [](const std::vector<Tensor>& v) { return v[0] / (v[1] * v[1] + 1.0); },
       }) {
    auto r = autograd::gradcheck(f, {a, b});
    CHECK_MESSAGE(r.ok, r.report);
    auto r2 = autograd::gradgradcheck(f, {a, b});
    CHECK_MESSAGE(r2.ok, r2.report);
  }
}

TEST_CASE("bad input names the argument, expected and actual") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("(2, 3) and (4,) do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(a.view({5}), doctest::Contains("does not hold 6 elements"), Error);
  CHECK_THROWS_WITH_AS(add(a, zeros({2, 3}, DType::f64)), doctest::Contains("different dtypes"), Error);
}
