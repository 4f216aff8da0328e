// test_activation.cpp: relu, leaky_relu, tanh, sigmoid and softplus against
// plain double formulas (float and double, contiguous and not), their
// behaviour at extreme inputs, gradcheck and gradgradcheck in float64
// (relu and leaky_relu away from the kink at 0), bad input.
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

struct Activation {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
};

// References written from the definitions, in double.
std::vector<Activation> activations() {
  return {
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }},
      {"leaky_relu(0.2)", [](const Tensor& x) { return leaky_relu(x); }, [](double v) { return v > 0 ? v : 0.2 * v; }},
      {"leaky_relu(0.01)", [](const Tensor& x) { return leaky_relu(x, 0.01); },
       [](double v) { return v > 0 ? v : 0.01 * v; }},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double v) { return std::log1p(std::exp(v)); }},
  };
}

// Inputs of magnitude up to ~9, odd shape, with exact zeros and values near
// the kinks, so every branch of every kernel runs.
Tensor inputs(DType dt, const Shape& shape) {
  Generator gen(11);
  Tensor x = randn(shape, gen, dt, 0.0, 3.0);
  Tensor host = x.contiguous();
  if (dt == DType::f32) {
    host.data<float>()[0] = 0.0f;
    host.data<float>()[1] = -0.0f;
    host.data<float>()[2] = 1e-30f;
  } else {
    host.data<double>()[0] = 0.0;
    host.data<double>()[1] = -0.0;
    host.data<double>()[2] = -1e-300;
  }
  return host;
}

// Moves values within 0.05 of 0 away from it: relu-like kinks break finite
// differences when x +- eps straddles 0.
Tensor away_from_zero(const Tensor& x) {
  Tensor y = x.contiguous().clone();
  double* p = y.data<double>();
  for (int64_t i = 0; i < y.numel(); ++i)
    if (std::abs(p[i]) < 0.05) p[i] = p[i] < 0 ? -0.3 : 0.3;
  return y;
}

}  // namespace

TEST_CASE("activations match their definitions in float and double, contiguous or not") {
  for (DType dt : {DType::f32, DType::f64}) {
    // float: the kernels call float exp/tanh/log1p (about 1 ulp each, a few
    // ulps after the divisions), so 4e-7 relative; double: 1e-14.
    double rtol = dt == DType::f32 ? 4e-7 : 1e-14, atol = dt == DType::f32 ? 1e-37 : 1e-300;
    // The second shape has 37597 elements: above kParallelGrain, so the threaded loop runs.
    for (const Shape& shape : {Shape{3, 5, 7}, Shape{7, 41, 131}}) {
      Tensor x = inputs(dt, shape);
      Tensor xt = x.permute({2, 0, 1});  // not contiguous
      for (const Activation& a : activations()) {
        for (const Tensor& in : {x, xt}) {
          Tensor y = a.op(in);
          CHECK(y.shape() == in.shape());
          CHECK(y.dtype() == dt);
          std::vector<double> ref;
          for (double v : naive::values(in)) ref.push_back(a.ref(v));
          naive::check_close(y, ref, atol, rtol, a.name + " " + dtype_name(dt) + " " + shape_str(shape));
        }
      }
    }
  }
}

TEST_CASE("sigmoid, softplus and tanh stay finite and exact at logits +-100 and beyond") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = from_vector(std::vector<double>{-1000, -100, -30, 30, 100, 1000}, {6}, dt);
    std::vector<double> s = naive::values(sigmoid(x)), sp = naive::values(softplus(x)), t = naive::values(tanh(x));
    for (size_t i = 0; i < 6; ++i) {
      CHECK(std::isfinite(s[i]));
      CHECK(std::isfinite(sp[i]));
      CHECK(std::isfinite(t[i]));
    }
    // e^-100 = 3.7e-44 is a float denormal with ~5 significant bits: 5% there.
    const double e100 = std::exp(-100.0), tiny_rtol = dt == DType::f32 ? 0.05 : 1e-12;
    CHECK(s[0] == 0.0);
    CHECK(std::abs(s[1] - e100) <= tiny_rtol * e100);
    CHECK(s[4] == 1.0);
    CHECK(s[5] == 1.0);
    CHECK(std::abs(sp[1] - e100) <= tiny_rtol * e100);
    CHECK(sp[4] == doctest::Approx(100.0).epsilon(1e-7));
    CHECK(sp[5] == doctest::Approx(1000.0).epsilon(1e-7));
    CHECK(t[0] == -1.0);
    CHECK(t[5] == 1.0);
  }
}

TEST_CASE("activation gradients have the textbook values, relu's subgradient at 0 is 0") {
  Tensor x = from_vector(std::vector<double>{-2, 0, 3}, {3}, TensorOptions(DType::f64).grad());
  auto grad_of = [&](const std::function<Tensor(const Tensor&)>& f) {
    return autograd::grad({sum(f(x))}, {x})[0].to_vector<double>();
  };
  CHECK(grad_of([](const Tensor& v) { return relu(v); }) == std::vector<double>{0, 0, 1});
  std::vector<double> lr = grad_of([](const Tensor& v) { return leaky_relu(v, 0.1); });
  CHECK(lr[0] == doctest::Approx(0.1));
  CHECK(lr[1] == doctest::Approx(0.1));
  CHECK(lr[2] == 1.0);
  std::vector<double> sg = grad_of([](const Tensor& v) { return sigmoid(v); });
  double s = 1.0 / (1.0 + std::exp(2.0));
  CHECK(sg[0] == doctest::Approx(s * (1 - s)));
  CHECK(sg[1] == doctest::Approx(0.25));
  std::vector<double> sp = grad_of([](const Tensor& v) { return softplus(v); });
  CHECK(sp[0] == doctest::Approx(s));
  CHECK(sp[1] == doctest::Approx(0.5));
  std::vector<double> th = grad_of([](const Tensor& v) { return tanh(v); });
  CHECK(th[2] == doctest::Approx(1 - std::tanh(3.0) * std::tanh(3.0)));
  // Large logits: the gradients are finite too.
  Tensor big = from_vector(std::vector<double>{-100, 100}, {2}, TensorOptions(DType::f64).grad());
  for (double g : autograd::grad({sum(softplus(big))}, {big})[0].to_vector<double>()) CHECK(std::isfinite(g));
  for (double g : autograd::grad({sum(sigmoid(big))}, {big})[0].to_vector<double>()) CHECK(std::isfinite(g));
}

TEST_CASE("gradcheck and gradgradcheck of every activation") {
  Generator gen(5);
  Tensor x = away_from_zero(randn({3, 1, 5}, gen, DType::f64, 0.0, 2.0)).requires_grad_();
  for (const Activation& a : activations()) {
    autograd::TestFn f = [&a](const std::vector<Tensor>& v) { return a.op(v[0]); };
    auto r = autograd::gradcheck(f, {x});
    CHECK_MESSAGE(r.ok, a.name, " gradcheck: ", r.report);
    auto r2 = autograd::gradgradcheck(f, {x});
    CHECK_MESSAGE(r2.ok, a.name, " gradgradcheck: ", r2.report);
  }
  // Composed with a smooth op, so the second derivative through the
  // activation's backward is exercised in both of its inputs (g and x).
  for (const Activation& a : activations()) {
    autograd::TestFn f = [&a](const std::vector<Tensor>& v) { return a.op(v[0] * v[0] * 0.5 - 0.2) * v[0]; };
    auto r2 = autograd::gradgradcheck(f, {x});
    CHECK_MESSAGE(r2.ok, a.name, " composed gradgradcheck: ", r2.report);
  }
}

TEST_CASE("leaky_relu's second derivative: d/dx of its gradient is 0, d/dg is the slope") {
  Tensor x = from_vector(std::vector<double>{-1.5, 2.0}, {2}, TensorOptions(DType::f64).grad());
  Tensor g1 = autograd::grad({sum(leaky_relu(x, 0.2) * x)}, {x}, {}, true, true)[0];  // slope*x + leaky(x)
  CHECK(g1.requires_grad());
  Tensor g2 = autograd::grad({sum(g1)}, {x})[0];  // 2 * slope
  CHECK(g2.to_vector<double>()[0] == doctest::Approx(0.4));
  CHECK(g2.to_vector<double>()[1] == doctest::Approx(2.0));
}

TEST_CASE("activations reject bad input") {
  CHECK_THROWS_WITH_AS(relu(Tensor()), doctest::Contains("relu: argument 'x' is undefined"), Error);
  CHECK_THROWS_WITH_AS(sigmoid(Tensor()), doctest::Contains("sigmoid"), Error);
  CHECK_THROWS_WITH_AS(leaky_relu(ones({2}), std::nan("")), doctest::Contains("'negative_slope' must be finite"),
                       Error);
}
