// test_reduce.cpp: sum, mean, max, var and argmax along single axes and
// several (adjacent and non-adjacent) axes, keepdim or not, whole-tensor,
// contiguous and strided inputs, float and double, against plain double
// references; ties in max (gradient split) and argmax (first index);
// gradcheck / gradgradcheck in float64; bad axes.
#include <doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "naive_ref.h"

using namespace gesso;

namespace {

enum class Red { sum, mean, max, var_biased, var_unbiased, argmax };

const char* red_name(Red r) {
  switch (r) {
    case Red::sum: return "sum";
    case Red::mean: return "mean";
    case Red::max: return "max";
    case Red::var_biased: return "var";
    case Red::var_unbiased: return "var unbiased";
    case Red::argmax: return "argmax";
  }
  return "?";
}

// Reduces x over `axes` (non-negative) plainly: gathers each output's
// values by walking the whole input, then folds them in double.
std::vector<double> reduce_ref(const Tensor& x, const std::vector<int64_t>& axes, Red r) {
  auto reduced = [&](int64_t d) { return std::find(axes.begin(), axes.end(), d) != axes.end(); };
  Shape kept;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!reduced(d)) kept.push_back(x.shape()[d]);
  std::vector<std::vector<double>> groups(static_cast<size_t>(numel_of(kept)));
  naive::for_each_index(x.shape(), [&](const std::vector<int64_t>& i) {
    int64_t flat = 0;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!reduced(d)) flat = flat * x.shape()[d] + i[d];
    groups[flat].push_back(naive::read_at(x, i));
  });
  std::vector<double> out;
  for (const std::vector<double>& g : groups) {
    double n = static_cast<double>(g.size()), s = 0;
    for (double v : g) s += v;
    switch (r) {
      case Red::sum: out.push_back(s); break;
      case Red::mean: out.push_back(s / n); break;
      case Red::max: out.push_back(*std::max_element(g.begin(), g.end())); break;
      case Red::argmax: out.push_back(static_cast<double>(std::max_element(g.begin(), g.end()) - g.begin())); break;
      case Red::var_biased:
      case Red::var_unbiased: {
        double m = s / n, ss = 0;
        for (double v : g) ss += (v - m) * (v - m);
        out.push_back(ss / (n - (r == Red::var_unbiased ? 1 : 0)));
        break;
      }
    }
  }
  return out;
}

Shape expected_shape(const Shape& s, const std::vector<int64_t>& axes, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    bool red = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!red) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Tensor run(Red r, const Tensor& x, const std::vector<int64_t>& axes, bool keepdim) {
  switch (r) {
    case Red::sum: return sum(x, axes, keepdim);
    case Red::mean: return mean(x, axes, keepdim);
    case Red::max: return max(x, axes[0], keepdim);
    case Red::var_biased: return var(x, axes, false, keepdim);
    case Red::var_unbiased: return var(x, axes, true, keepdim);
    case Red::argmax: return argmax(x, axes[0]);
  }
  return Tensor();
}

// Sums are in double inside the kernels: float results are one rounding
// off the double reference (plus the float inputs' own representation,
// which the reference shares). var is two-pass in double too.
double rtol_for(DType dt) { return dt == DType::f32 ? 2.4e-7 : 1e-13; }

}  // namespace

TEST_CASE("reductions along single and multiple axes match the reference, keepdim or not") {
  struct Case {
    Shape shape;
    std::vector<int64_t> axes;  // as passed (may be negative or unsorted)
  };
  const std::vector<Case> cases = {
      {{3, 4, 5}, {0}}, {{3, 4, 5}, {1}}, {{3, 4, 5}, {2}}, {{3, 4, 5}, {-1}},
      {{3, 4, 5}, {0, 2}},       // non-adjacent
      {{3, 4, 5}, {2, 0}},       // unsorted
      {{3, 4, 5}, {1, 2}},       // adjacent, trailing
      {{3, 4, 5}, {0, 1, 2}},    // everything
      {{2, 3, 4, 5}, {1, 3}},    // non-adjacent in 4-d
      {{2, 3, 4, 5}, {0, 3}},
      {{2, 3, 4, 5}, {0, 2, 3}},
      {{7}, {0}},
      {{1, 5, 1}, {0, 2}},
      {{37, 29, 41}, {1}},       // 44k elements: above the parallel threshold
      {{37, 29, 41}, {0, 2}},
  };
  uint64_t seed = 1;
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Case& c : cases) {
      Generator gen(seed++);
      Tensor base = randn(c.shape, gen, dt);
      // The same values through a strided view: permute a reversed tensor back.
      Shape rev(c.shape.rbegin(), c.shape.rend());
      std::vector<int64_t> perm(c.shape.size());
      for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(perm.size() - 1 - i);
      Tensor strided = randn(rev, gen, dt).permute(perm);
      std::vector<int64_t> axes;
      for (int64_t a : c.axes) axes.push_back(a < 0 ? a + static_cast<int64_t>(c.shape.size()) : a);
      for (const Tensor& x : {base, strided}) {
        for (bool keepdim : {false, true}) {
          for (Red r : {Red::sum, Red::mean, Red::var_biased, Red::var_unbiased, Red::max, Red::argmax}) {
            bool single_axis_only = r == Red::max || r == Red::argmax;
            if (single_axis_only && c.axes.size() != 1) continue;
            if (r == Red::argmax && keepdim) continue;  // argmax has no keepdim
            Tensor out = run(r, x, c.axes, keepdim);
            std::string what = std::string(red_name(r)) + " " + dtype_name(dt) + " " + shape_str(c.shape) +
                               " axes " + shape_str(c.axes) + (keepdim ? " keepdim" : "") +
                               (x.is_contiguous() ? "" : " strided");
            CHECK_MESSAGE(out.shape() == expected_shape(c.shape, axes, keepdim || false), what);
            bool exact = r == Red::max || r == Red::argmax;
            naive::check_close(out, reduce_ref(x, axes, r), exact ? 0 : 1e-300, exact ? 0 : rtol_for(dt), what);
          }
        }
      }
    }
  }
}

TEST_CASE("whole-tensor reductions give scalars") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = from_vector(std::vector<double>{1, -2, 5, 0.5, 3, 2}, {2, 3}, dt);
    CHECK(sum(x).dim() == 0);
    CHECK(sum(x).item() == doctest::Approx(9.5));
    CHECK(mean(x).item() == doctest::Approx(9.5 / 6));
    CHECK(max(x).dim() == 0);
    CHECK(max(x).item() == 5.0);
    CHECK(max(x.transpose(0, 1)).item() == 5.0);
    CHECK(var(x, {0, 1}).item() == doctest::Approx(reduce_ref(x, {0, 1}, Red::var_biased)[0]));
    CHECK(sum(zeros({3, 0}), {1}).to_vector<float>() == std::vector<float>{0, 0, 0});  // empty sums are 0
  }
}

TEST_CASE("max ties: the value is exact, the gradient is split; argmax takes the first") {
  Tensor x = from_vector(std::vector<double>{1, 3, 3, 2, 7, 7, 7, 0}, {2, 4}, TensorOptions(DType::f64).grad());
  CHECK(argmax(x, 1).to_vector<double>() == std::vector<double>{1, 0});
  Tensor g = autograd::grad({sum(max(x, 1))}, {x})[0];
  std::vector<double> gv = g.to_vector<double>();
  CHECK(gv[0] == 0.0);
  CHECK(gv[1] == doctest::Approx(0.5));
  CHECK(gv[2] == doctest::Approx(0.5));
  CHECK(gv[3] == 0.0);
  for (int i = 4; i < 7; ++i) CHECK(gv[i] == doctest::Approx(1.0 / 3));
  CHECK(gv[7] == 0.0);
  // Whole-tensor max: the gradient sums to 1 over the three tied 7s.
  Tensor gw = autograd::grad({max(x)}, {x})[0];
  double total = 0;
  for (double v : gw.to_vector<double>()) total += v;
  CHECK(total == doctest::Approx(1.0));
  CHECK(gw.to_vector<double>()[5] == doctest::Approx(1.0 / 3));
  // argmax along axis 0 with ties, and over negative values.
  Tensor y = from_vector(std::vector<double>{-5, -1, -3, -5, -1, -2}, {2, 3});
  CHECK(argmax(y, 0).to_vector<float>() == std::vector<float>{0, 0, 1});
  CHECK(max(y, 0).to_vector<float>() == std::vector<float>{-5, -1, -2});
}

TEST_CASE("max propagates NaN") {
  Tensor x = from_vector(std::vector<double>{1, std::nan(""), 3}, {3});
  CHECK(std::isnan(max(x).item()));
}

TEST_CASE("gradcheck and gradgradcheck of the reductions") {
  Generator gen(9);
  Tensor x = randn({3, 4, 5}, gen, TensorOptions(DType::f64).grad());  // continuous values: no max ties
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> fns = {
      {"sum {0, 2}", [](const Tensor& t) { return sum(t, {0, 2}); }},
      {"sum {1} keepdim", [](const Tensor& t) { return sum(t, {1}, true); }},
      {"mean {2, 0}", [](const Tensor& t) { return mean(t, {2, 0}); }},
      {"mean", [](const Tensor& t) { return mean(t); }},
      {"max {1}", [](const Tensor& t) { return max(t, 1); }},
      {"max {-1} keepdim", [](const Tensor& t) { return max(t, -1, true); }},
      {"max whole", [](const Tensor& t) { return max(t); }},
      {"var {0, 2}", [](const Tensor& t) { return var(t, {0, 2}); }},
      {"var {1} unbiased keepdim", [](const Tensor& t) { return var(t, {1}, true, true); }},
      {"var all", [](const Tensor& t) { return var(t, {0, 1, 2}); }},
  };
  for (const auto& [name, f] : fns) {
    autograd::TestFn tf = [f](const std::vector<Tensor>& v) { return f(v[0]); };
    auto r = autograd::gradcheck(tf, {x});
    CHECK_MESSAGE(r.ok, name, " gradcheck: ", r.report);
    auto r2 = autograd::gradgradcheck(tf, {x});
    CHECK_MESSAGE(r2.ok, name, " gradgradcheck: ", r2.report);
    // Through a smooth op, so the reduction's backward is differentiated in both its inputs.
    autograd::TestFn sq = [f](const std::vector<Tensor>& v) { return f(v[0] * v[0]) * f(v[0]); };
    auto r3 = autograd::gradgradcheck(sq, {x});
    CHECK_MESSAGE(r3.ok, name, " composed gradgradcheck: ", r3.report);
  }
  // Strided input.
  Tensor xt = randn({5, 4, 3}, gen, TensorOptions(DType::f64).grad());
  autograd::TestFn tf = [](const std::vector<Tensor>& v) { return var(v[0].permute({2, 1, 0}), {0, 2}); };
  auto r = autograd::gradcheck(tf, {xt});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("reductions reject bad axes") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, {2}), doctest::Contains("sum: axis 2 is out of range for a tensor of 2 dims"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}), doctest::Contains("sum: repeated axis"), Error);
  CHECK_THROWS_WITH_AS(mean(zeros({2, 0}), {1}), doctest::Contains("mean: cannot average over an empty axis"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({2, 0}), 1), doctest::Contains("max: cannot reduce over an empty axis"), Error);
  CHECK_THROWS_WITH_AS(max(x, -3), doctest::Contains("max: axis -3 is out of range"), Error);
  CHECK_THROWS_WITH_AS(argmax(x, 5), doctest::Contains("argmax"), Error);
  CHECK_THROWS_WITH_AS(var(x, {0, 0}), doctest::Contains("var: repeated axis"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor(), {0}), doctest::Contains("undefined"), Error);
}
