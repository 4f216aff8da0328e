// test_elementwise.cpp: every elementwise op of ops/elementwise.cpp (binary
// arithmetic, comparisons, scalar forms, unary math, clamp, where, the
// operators) against plain double references read through the inputs' own
// strides, at odd broadcast shapes, with non-contiguous inputs (permute,
// narrow, expand), in float and double, on both sides of the OpenMP
// threshold; gradcheck for each differentiable op, gradgradcheck for the
// arithmetic, exp/log/sqrt/pow/abs/clamp and for sum and mean.
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

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;
using UnaryFn = std::function<Tensor(const Tensor&)>;

enum class Domain { any, positive, nonzero, grid };

struct BinaryCase {
  std::string name;
  BinaryFn op;
  std::function<double(double, double)> ref;
  Domain a_domain, b_domain;
  bool transcendental;
};

std::vector<BinaryCase> binary_cases() {
  auto b2d = [](bool v) { return v ? 1.0 : 0.0; };
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](double x, double y) { return x + y; },
       Domain::any, Domain::any, false},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](double x, double y) { return x - y; },
       Domain::any, Domain::any, false},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](double x, double y) { return x * y; },
       Domain::any, Domain::any, false},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](double x, double y) { return x / y; },
       Domain::any, Domain::nonzero, false},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](double x, double y) { return std::pow(x, y); }, Domain::positive, Domain::any, true},
      {"operator+", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double x, double y) { return x + y; },
       Domain::any, Domain::any, false},
      {"operator-", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double x, double y) { return x - y; },
       Domain::any, Domain::any, false},
      {"operator*", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double x, double y) { return x * y; },
       Domain::any, Domain::any, false},
      {"operator/", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double x, double y) { return x / y; },
       Domain::any, Domain::nonzero, false},
      // Comparisons on a coarse grid, so that ties (eq, le, ge) really occur.
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, [=](double x, double y) { return b2d(x == y); },
       Domain::grid, Domain::grid, false},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, [=](double x, double y) { return b2d(x != y); },
       Domain::grid, Domain::grid, false},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, [=](double x, double y) { return b2d(x < y); },
       Domain::grid, Domain::grid, false},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, [=](double x, double y) { return b2d(x <= y); },
       Domain::grid, Domain::grid, false},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, [=](double x, double y) { return b2d(x > y); },
       Domain::grid, Domain::grid, false},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, [=](double x, double y) { return b2d(x >= y); },
       Domain::grid, Domain::grid, false},
  };
}

// A contiguous tensor of `shape` with values from `domain`.
Tensor make(const Shape& shape, Domain domain, DType dt, uint64_t seed) {
  Generator gen(seed);
  std::vector<double> v = randn(shape, gen, DType::f64).to_vector<double>();
  for (double& x : v) {
    switch (domain) {
      case Domain::any: break;
      case Domain::positive: x = 0.5 + std::abs(x); break;
      case Domain::nonzero: x = x < 0 ? x - 0.25 : x + 0.25; break;
      case Domain::grid: x = std::round(x * 2) / 2; break;  // -1, -0.5, 0, 0.5, ...
    }
  }
  return from_vector(v, shape, dt);
}

// The input as a view of `kind`: the same logical shape, other strides.
enum class View { contiguous, permuted, narrowed, expanded };

Tensor as_view(const Shape& shape, Domain domain, DType dt, uint64_t seed, View kind) {
  if (kind == View::contiguous || shape.empty()) return make(shape, domain, dt, seed);
  if (kind == View::permuted) {
    // Build the reversed shape, then reverse the dims back: all strides non-unit-ordered.
    Shape rev(shape.rbegin(), shape.rend());
    std::vector<int64_t> perm(shape.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(shape.size() - 1 - i);
    return make(rev, domain, dt, seed).permute(perm);
  }
  if (kind == View::narrowed) {
    // Two extra elements on the last dim, and the middle taken.
    Shape wide = shape;
    wide.back() += 2;
    return make(wide, domain, dt, seed).narrow(-1, 1, shape.back());
  }
  // expanded: the first dim of size > 1 is a stride-0 broadcast of one row.
  Shape one = shape;
  for (int64_t& s : one)
    if (s > 1) { s = 1; break; }
  return make(one, domain, dt, seed).expand(shape);
}

struct ShapePair {
  Shape a, b;
};

std::vector<ShapePair> shape_pairs() {
  return {
      {{3, 1, 5}, {4, 1}},   // both sides broadcast
      {{4, 1}, {3, 1, 5}},   // the same, swapped
      {{2, 3, 7}, {2, 3, 7}},
      {{}, {3, 5}},          // a scalar tensor
      {{5}, {3, 1, 5}},
      {{1, 7}, {5, 1}},
      {{2, 1, 3, 1}, {1, 4, 1, 5}},
      {{41, 1, 97}, {37, 1}},  // 147k outputs: above kParallelGrain, runs threaded
  };
}

// Reference of a binary op by walking the output and reading each input through its strides.
std::vector<double> binary_ref(const BinaryCase& c, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  std::vector<double> ref;
  naive::for_each_index(out_shape, [&](const std::vector<int64_t>& i) {
    ref.push_back(c.ref(naive::read_broadcast(a, i), naive::read_broadcast(b, i)));
  });
  return ref;
}

// Tolerances: float results are rounded once from exact float inputs
// (arithmetic: 0.5 ulp = 6e-8 relative; pow, exp, log: a few ulps); double
// ones likewise at 1.1e-16.
double rtol_for(DType dt, bool transcendental) {
  if (dt == DType::f32) return transcendental ? 1e-6 : 1.2e-7;
  return transcendental ? 1e-14 : 2.3e-16;
}

Tensor leaf64(const Shape& s, Domain d, uint64_t seed) { return make(s, d, DType::f64, seed).requires_grad_(); }

void expect_gradcheck(const autograd::TestFn& f, const std::vector<Tensor>& in, const std::string& what,
                      bool second_order) {
  auto r = autograd::gradcheck(f, in);
  CHECK_MESSAGE(r.ok, what, " gradcheck: ", r.report);
  if (second_order) {
    auto r2 = autograd::gradgradcheck(f, in);
    CHECK_MESSAGE(r2.ok, what, " gradgradcheck: ", r2.report);
  }
}

}  // namespace

TEST_CASE("binary ops and comparisons match the reference at broadcast shapes, float and double") {
  uint64_t seed = 1;
  for (DType dt : {DType::f32, DType::f64}) {
    for (const BinaryCase& c : binary_cases()) {
      for (const ShapePair& sp : shape_pairs()) {
        Tensor a = make(sp.a, c.a_domain, dt, seed++), b = make(sp.b, c.b_domain, dt, seed++);
        Tensor out = c.op(a, b);
        Shape want = broadcast_shapes(sp.a, sp.b, "test");
        REQUIRE(out.shape() == want);
        CHECK(out.is_contiguous());
        CHECK(out.dtype() == dt);
        naive::check_close(out, binary_ref(c, a, b, want), 1e-300, rtol_for(dt, c.transcendental),
                           c.name + " " + dtype_name(dt) + " " + shape_str(sp.a) + " with " + shape_str(sp.b));
      }
    }
  }
}

TEST_CASE("binary ops read non-contiguous inputs (permute, narrow, expand) correctly") {
  uint64_t seed = 100;
  const std::vector<View> views = {View::contiguous, View::permuted, View::narrowed, View::expanded};
  for (DType dt : {DType::f32, DType::f64}) {
    for (const BinaryCase& c : binary_cases()) {
      for (const ShapePair& sp : {ShapePair{{3, 1, 5}, {4, 1}}, ShapePair{{3, 4, 5}, {3, 4, 5}},
                                  ShapePair{{6, 5}, {1, 5}}}) {
        for (View va : views) {
          for (View vb : views) {
            Tensor a = as_view(sp.a, c.a_domain, dt, seed++, va), b = as_view(sp.b, c.b_domain, dt, seed++, vb);
            Shape want = broadcast_shapes(sp.a, sp.b, "test");
            Tensor out = c.op(a, b);
            REQUIRE(out.shape() == want);
            naive::check_close(out, binary_ref(c, a, b, want), 1e-300, rtol_for(dt, c.transcendental),
                               c.name + " views " + std::to_string(static_cast<int>(va)) + "/" +
                                   std::to_string(static_cast<int>(vb)) + " " + shape_str(sp.a));
          }
        }
      }
    }
  }
}

TEST_CASE("empty and zero-dim broadcasts") {
  Tensor e = add(zeros({0, 3}), ones({1, 3}));
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.numel() == 0);
  Tensor s = mul(scalar_tensor(3.0), scalar_tensor(-2.0));
  CHECK(s.dim() == 0);
  CHECK(s.item() == -6.0);
  CHECK(add(ones({1, 1}), ones({1})).shape() == Shape{1, 1});
  CHECK(add(ones({1, 1}), ones({1})).item() == 2.0);
}

TEST_CASE("unary ops, scalar forms and the scalar operators match the reference") {
  struct UnaryCase {
    std::string name;
    UnaryFn op;
    std::function<double(double)> ref;
    Domain domain;
    bool transcendental;
  };
  const std::vector<UnaryCase> cases = {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }, Domain::any, false},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, Domain::any, true},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, Domain::positive, true},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, Domain::positive, false},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::abs(v); }, Domain::any, false},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.75); },
       [](double v) { return std::min(std::max(v, -0.5), 0.75); }, Domain::any, false},
      {"pow 2.5", [](const Tensor& x) { return pow(x, 2.5); }, [](double v) { return std::pow(v, 2.5); },
       Domain::positive, true},
      {"pow 3 (negative bases)", [](const Tensor& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; },
       Domain::any, true},
      {"add scalar", [](const Tensor& x) { return add(x, 1.25); }, [](double v) { return v + 1.25; }, Domain::any, false},
      {"mul scalar", [](const Tensor& x) { return mul(x, -3.0); }, [](double v) { return -3 * v; }, Domain::any, false},
      {"x + s", [](const Tensor& x) { return x + 2.0; }, [](double v) { return v + 2; }, Domain::any, false},
      {"x - s", [](const Tensor& x) { return x - 2.0; }, [](double v) { return v - 2; }, Domain::any, false},
      {"x * s", [](const Tensor& x) { return x * 0.5; }, [](double v) { return v * 0.5; }, Domain::any, false},
      // x / s is computed as x * (1 / s): one extra rounding of 1/s.
      {"x / s", [](const Tensor& x) { return x / 3.0; }, [](double v) { return v / 3; }, Domain::any, true},
      {"s + x", [](const Tensor& x) { return 2.0 + x; }, [](double v) { return 2 + v; }, Domain::any, false},
      {"s - x", [](const Tensor& x) { return 2.0 - x; }, [](double v) { return 2 - v; }, Domain::any, false},
      {"s * x", [](const Tensor& x) { return 4.0 * x; }, [](double v) { return 4 * v; }, Domain::any, false},
      {"-x", [](const Tensor& x) { return -x; }, [](double v) { return -v; }, Domain::any, false},
      {"gt scalar", [](const Tensor& x) { return gt(x, 0.5); }, [](double v) { return v > 0.5 ? 1.0 : 0.0; },
       Domain::grid, false},
  };
  uint64_t seed = 500;
  for (DType dt : {DType::f32, DType::f64}) {
    for (const UnaryCase& c : cases) {
      for (const Shape& s : {Shape{}, Shape{7}, Shape{3, 5, 7}, Shape{97, 401}}) {
        for (View v : {View::contiguous, View::permuted, View::narrowed, View::expanded}) {
          Tensor x = as_view(s, c.domain, dt, seed++, v);
          Tensor y = c.op(x);
          REQUIRE(y.shape() == s);
          std::vector<double> ref;
          for (double xv : naive::values(x)) ref.push_back(c.ref(xv));
          // add/affine forms are a * x + b in T: for "x - s" two roundings can
          // meet a cancellation, hence the absolute 1e-6 (float) / 1e-15 (double).
          double atol = dt == DType::f32 ? 1e-6 : 1e-15;
          naive::check_close(y, ref, atol, rtol_for(dt, c.transcendental),
                             c.name + " " + dtype_name(dt) + " " + shape_str(s));
        }
      }
    }
  }
}

TEST_CASE("where picks a where cond != 0, with broadcasting and strided inputs") {
  for (DType dt : {DType::f32, DType::f64}) {
    // cond values -0.5, 0, 0.5, 1 ...: every non-zero picks a.
    Tensor cond = make({3, 1, 5}, Domain::grid, dt, 1);
    Tensor a = make({4, 1}, Domain::any, dt, 2);
    Tensor b = scalar_tensor(-9.0, dt);
    Tensor out = where(cond, a, b);
    REQUIRE(out.shape() == Shape{3, 4, 5});
    std::vector<double> ref;
    naive::for_each_index(out.shape(), [&](const std::vector<int64_t>& i) {
      ref.push_back(naive::read_broadcast(cond, i) != 0 ? naive::read_broadcast(a, i) : -9.0);
    });
    naive::check_close(out, ref, 0, 0, "where");
    Tensor ct = as_view({5, 6}, Domain::grid, dt, 3, View::permuted), at = as_view({5, 6}, Domain::any, dt, 4, View::narrowed);
    Tensor bt = as_view({5, 6}, Domain::any, dt, 5, View::expanded);
    std::vector<double> r2;
    naive::for_each_index({5, 6}, [&](const std::vector<int64_t>& i) {
      r2.push_back(naive::read_at(ct, i) != 0 ? naive::read_at(at, i) : naive::read_at(bt, i));
    });
    naive::check_close(where(ct, at, bt), r2, 0, 0, "where strided");
  }
}

TEST_CASE("gradcheck of every differentiable elementwise op; gradgradcheck of the arithmetic and math") {
  // Binary ops at broadcast shapes: the gradient of the broadcast side is a sum.
  Tensor a = leaf64({3, 1, 5}, Domain::any, 1), b = leaf64({4, 1}, Domain::any, 2);
  Tensor bnz = leaf64({4, 1}, Domain::nonzero, 3), apos = leaf64({3, 1, 5}, Domain::positive, 4);
  expect_gradcheck([](const std::vector<Tensor>& v) { return add(v[0], v[1]); }, {a, b}, "add", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return sub(v[0], v[1]); }, {a, b}, "sub", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return mul(v[0], v[1]); }, {a, b}, "mul", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return div(v[0], v[1]); }, {a, bnz}, "div", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], v[1]); }, {apos, b}, "pow", true);
  // Linear ops have a zero second derivative; composed with mul the
  // gradgradcheck exercises their backward's backward as well.
  expect_gradcheck([](const std::vector<Tensor>& v) { return mul(add(v[0], v[1]), sub(v[0], v[1])); }, {a, b},
                   "(a + b)(a - b)", true);

  // Only one input requiring grad.
  Tensor a_const = make({3, 1, 5}, Domain::any, DType::f64, 5);
  expect_gradcheck([&a_const](const std::vector<Tensor>& v) { return mul(a_const, v[0]); }, {b}, "mul, one side", true);

  Tensor x = leaf64({3, 5}, Domain::any, 6), xpos = leaf64({3, 5}, Domain::positive, 7);
  expect_gradcheck([](const std::vector<Tensor>& v) { return neg(v[0]); }, {x}, "neg", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return exp(v[0]); }, {x}, "exp", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return log(v[0]); }, {xpos}, "log", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return sqrt(v[0]); }, {xpos}, "sqrt", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], 2.5); }, {xpos}, "pow scalar 2.5", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], 3.0); }, {x}, "pow scalar 3", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], 1.0); }, {x}, "pow scalar 1", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return pow(v[0], 0.0) * v[0]; }, {x}, "pow scalar 0", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return add(v[0], 1.5) * v[0]; }, {x}, "add scalar", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return mul(v[0], -2.5) * v[0]; }, {x}, "mul scalar", true);
  expect_gradcheck([](const std::vector<Tensor>& v) { return (2.0 - v[0]) / 3.0 * (1.0 + v[0] * 2.0 - 0.5); }, {x},
                   "scalar operators", true);
  // abs and clamp away from their kinks (|x| >= 0.25 after nonzero; clamp bounds avoided).
  Tensor xnz = leaf64({3, 5}, Domain::nonzero, 8);
  expect_gradcheck([](const std::vector<Tensor>& v) { return abs(v[0]) * v[0]; }, {xnz}, "abs", true);
  Tensor xc = from_vector(std::vector<double>{-2, -0.7, -0.2, 0.1, 0.4, 0.9, 1.6}, {7}, TensorOptions(DType::f64).grad());
  expect_gradcheck([](const std::vector<Tensor>& v) { return clamp(v[0], -0.5, 0.7) * v[0]; }, {xc}, "clamp", true);

  // where: the gradient goes to a where cond holds, to b elsewhere, summed over broadcasts.
  Tensor cond = make({3, 1, 5}, Domain::grid, DType::f64, 9);
  expect_gradcheck([&cond](const std::vector<Tensor>& v) { return where(cond, v[0], v[1]) * v[1]; }, {a, b}, "where",
                   true);

  // Reductions, whole and along axes (adjacent, non-adjacent, negative, keepdim).
  Tensor r = leaf64({3, 4, 5}, Domain::any, 10);
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> reductions = {
      {"sum", [](const Tensor& t) { return sum(t); }},
      {"sum {1}", [](const Tensor& t) { return sum(t, {1}); }},
      {"sum {0, 2}", [](const Tensor& t) { return sum(t, {0, 2}); }},
      {"sum {-1} keepdim", [](const Tensor& t) { return sum(t, {-1}, true); }},
      {"mean", [](const Tensor& t) { return mean(t); }},
      {"mean {0}", [](const Tensor& t) { return mean(t, {0}); }},
      {"mean {2, 0} keepdim", [](const Tensor& t) { return mean(t, {2, 0}, true); }},
      {"mean {1, 2}", [](const Tensor& t) { return mean(t, {1, 2}); }},
  };
  for (const auto& [name, red] : reductions) {
    expect_gradcheck([red](const std::vector<Tensor>& v) { return red(v[0]); }, {r}, name, true);
    // Squared first, so the second derivative is not identically zero.
    expect_gradcheck([red](const std::vector<Tensor>& v) { return red(v[0] * v[0]) * red(v[0]); }, {r},
                     name + " of x^2 times itself", true);
  }
}

TEST_CASE("gradients at the edges: pow at base 0, abs at 0, clamp at its bounds") {
  auto opts = TensorOptions(DType::f64).grad();
  // a^0 is constant everywhere: d/da = 0 even at a = 0 (not 0 * inf = NaN).
  Tensor x = from_vector(std::vector<double>{0, 2}, {2}, opts);
  CHECK(autograd::grad({sum(pow(x, 0.0))}, {x})[0].to_vector<double>() == std::vector<double>{0, 0});
  Tensor a = from_vector(std::vector<double>{0, 0, 3}, {3}, opts);
  Tensor b = from_vector(std::vector<double>{0, 2, 2}, {3}, opts);
  auto g = autograd::grad({sum(pow(a, b))}, {a, b});
  // d/da = b a^(b-1): 0 (b = 0), 2 * 0 = 0, 2 * 3 = 6; d/db = a^b log a: 0, 0, 9 log 3.
  CHECK(g[0].to_vector<double>() == std::vector<double>{0, 0, 6});
  std::vector<double> gb = g[1].to_vector<double>();
  CHECK(gb[0] == 0.0);
  CHECK(gb[1] == 0.0);
  CHECK(gb[2] == doctest::Approx(9 * std::log(3.0)));
  // abs: subgradient 0 at 0; clamp: the gradient passes at the bounds themselves.
  Tensor y = from_vector(std::vector<double>{-1, 0, 1}, {3}, opts);
  CHECK(autograd::grad({sum(abs(y))}, {y})[0].to_vector<double>() == std::vector<double>{-1, 0, 1});
  CHECK(autograd::grad({sum(clamp(y, -1, 0.5))}, {y})[0].to_vector<double>() == std::vector<double>{1, 1, 0});
}

TEST_CASE("sum_to reduces a broadcast gradient back to the input shape") {
  Tensor g = arange(24, DType::f64).reshape({2, 3, 4});
  CHECK(sum_to(g, {2, 3, 4}).same_storage(g));  // nothing to reduce: g itself
  std::vector<double> ref;
  for (int64_t j = 0; j < 3; ++j) {
    double s = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 4; ++k) s += naive::read_at(g, {i, j, k});
    ref.push_back(s);
  }
  Tensor r = sum_to(g, {3, 1});  // a leading dim dropped and a size-1 dim kept
  CHECK(r.shape() == Shape{3, 1});
  naive::check_close(r, ref, 0, 1e-15, "sum_to (3, 1)");
  CHECK(sum_to(g, {}).item() == doctest::Approx(276));
  CHECK(sum_to(g, {1, 1, 4}).shape() == Shape{1, 1, 4});
  CHECK_THROWS_WITH_AS(sum_to(g, {2, 2, 4}), doctest::Contains("sum_to: shape (2, 3, 4) does not broadcast from (2, 2, 4)"),
                       Error);
  CHECK_THROWS_WITH_AS(sum_to(g, {1, 2, 3, 4}), doctest::Contains("sum_to: cannot reduce shape"), Error);
}

TEST_CASE("elementwise ops reject bad input") {
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({4})), doctest::Contains("add: shapes (2, 3) and (4,) do not broadcast"),
                       Error);
  CHECK_THROWS_WITH_AS(mul(zeros({2}), zeros({2}, DType::f64)), doctest::Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(sub(Tensor(), zeros({2})), doctest::Contains("sub: an argument is undefined"), Error);
  CHECK_THROWS_WITH_AS(exp(Tensor()), doctest::Contains("exp"), Error);
  CHECK_THROWS_WITH_AS(clamp(zeros({2}), 1.0, -1.0), doctest::Contains("clamp: lo (1) must be <= hi (-1)"), Error);
  CHECK_THROWS_WITH_AS(where(zeros({2}), zeros({3}), zeros({2})), doctest::Contains("where"), Error);
  CHECK_THROWS_WITH_AS(lt(zeros({2}), zeros({2}, DType::f64)), doctest::Contains("lt"), Error);
}
