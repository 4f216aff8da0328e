// test_view.cpp: the shape ops of ops/view.cpp: reshape, view, permute,
// transpose, narrow, expand, squeeze, unsqueeze, flatten, contiguous, clone,
// concat and to(DType). Values against index arithmetic done by hand, which
// ops share storage and which copy, gradcheck / gradgradcheck in float64,
// and the error messages for bad input.
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

// 0, 1, 2, ... in the given shape: element values are their own flat index.
Tensor iota(const Shape& s, DType dt = DType::f32) { return arange(numel_of(s), dt).reshape(s); }

Tensor leaf(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen, TensorOptions(DType::f64).grad());
}

void expect_grads(const autograd::TestFn& f, const std::vector<Tensor>& in, const std::string& what) {
  auto r = autograd::gradcheck(f, in);
  CHECK_MESSAGE(r.ok, what, " gradcheck: ", r.report);
  // Multiplied by itself so that the second derivative is not zero.
  autograd::TestFn sq = [f](const std::vector<Tensor>& v) {
    Tensor y = f(v);
    return y * y;
  };
  auto r2 = autograd::gradgradcheck(sq, in);
  CHECK_MESSAGE(r2.ok, what, " gradgradcheck: ", r2.report);
}

}  // namespace

TEST_CASE("reshape and view keep row-major order; -1 is inferred; view shares storage") {
  Tensor x = iota({2, 3, 4});
  Tensor v = x.view({4, -1});
  CHECK(v.shape() == Shape{4, 6});
  CHECK(v.same_storage(x));
  CHECK(v.strides() == Strides{6, 1});
  CHECK(naive::values(v) == naive::values(x));
  CHECK(x.reshape({24}).shape() == Shape{24});
  CHECK(x.reshape({-1}).shape() == Shape{24});
  CHECK(x.reshape({2, 1, 12}).shape() == Shape{2, 1, 12});
  // reshape of a non-contiguous tensor copies, in logical order.
  Tensor t = x.transpose(0, 2);  // (4, 3, 2)
  Tensor r = t.reshape({4, 6});
  CHECK_FALSE(r.same_storage(x));
  std::vector<double> ref;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) ref.push_back(static_cast<double>(k * 12 + j * 4 + i));
  CHECK(naive::values(r) == ref);
  // A scalar and back.
  Tensor s = scalar_tensor(5);
  CHECK(s.reshape({1, 1}).shape() == Shape{1, 1});
  CHECK(s.reshape({1}).reshape({}).dim() == 0);
}

TEST_CASE("permute and transpose move strides, not data") {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Strides{1, 12, 4});
  CHECK(p.same_storage(x));
  naive::for_each_index(p.shape(), [&](const std::vector<int64_t>& i) {
    CHECK(naive::read_at(p, i) == static_cast<double>(i[1] * 12 + i[2] * 4 + i[0]));
  });
  Tensor t = x.transpose(-1, 0);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(naive::read_at(t, {3, 1, 1}) == 12 + 4 + 3);
  CHECK(x.permute({-3, -2, -1}).strides() == x.strides());
  CHECK(p.contiguous().is_contiguous());
  CHECK(naive::values(p.contiguous()) == naive::values(p));
}

TEST_CASE("narrow offsets the view; expand broadcasts with stride 0") {
  Tensor x = iota({4, 5});
  Tensor n = x.narrow(1, 1, 3);
  CHECK(n.shape() == Shape{4, 3});
  CHECK(n.same_storage(x));
  CHECK(naive::values(n.narrow(0, 2, 2)) == std::vector<double>{11, 12, 13, 16, 17, 18});
  CHECK(x.narrow(-1, 4, 1).shape() == Shape{4, 1});
  CHECK(x.narrow(0, 4, 0).numel() == 0);

  Tensor c = iota({3, 1});
  Tensor e = c.expand({2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Strides{0, 1, 0});
  naive::for_each_index(e.shape(), [&](const std::vector<int64_t>& i) { CHECK(naive::read_at(e, i) == i[1]); });
  CHECK(c.expand({-1, 6}).shape() == Shape{3, 6});
  CHECK(c.expand({3, 1}).same_storage(c));
  // A copy of an expanded view materialises the repeats.
  std::vector<double> ref;
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) ref.push_back(i);
  CHECK(naive::values(e.contiguous()) == ref);
}

TEST_CASE("squeeze, unsqueeze and flatten") {
  Tensor x = iota({2, 1, 3});
  CHECK(x.squeeze(1).shape() == Shape{2, 3});
  CHECK(x.squeeze(-2).shape() == Shape{2, 3});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 1, 3});
  CHECK(x.unsqueeze(3).shape() == Shape{2, 1, 3, 1});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 1, 3, 1});
  Tensor y = iota({2, 3, 4, 5});
  CHECK(y.flatten().shape() == Shape{120});
  CHECK(y.flatten(1).shape() == Shape{2, 60});
  CHECK(y.flatten(1, 2).shape() == Shape{2, 12, 5});
  CHECK(y.flatten(-2, -1).shape() == Shape{2, 3, 20});
  CHECK(scalar_tensor(2).flatten().shape() == Shape{1});
  // flatten of a strided tensor keeps logical order.
  Tensor t = y.transpose(1, 3);  // (2, 5, 4, 3)
  CHECK(naive::values(t.flatten(1)) == naive::values(t));
  // squeeze/unsqueeze of a non-contiguous tensor keep values.
  Tensor tn = iota({3, 1, 4}).transpose(0, 2);  // (4, 1, 3)
  CHECK(naive::values(tn.squeeze(1)) == naive::values(tn));
  CHECK(naive::values(tn.unsqueeze(1)) == naive::values(tn));
}

TEST_CASE("contiguous, clone, to(DType) copy; concat joins along any axis") {
  Tensor x = iota({2, 3}, DType::f64);
  CHECK(x.contiguous().same_storage(x));  // already contiguous: no copy
  Tensor c = x.clone();
  CHECK_FALSE(c.same_storage(x));
  CHECK(naive::values(c) == naive::values(x));
  Tensor f = from_vector(std::vector<double>{0.1, 1e-50, 3e38, -2.5}, {2, 2}, DType::f64);
  Tensor f32 = f.to(DType::f32);
  CHECK(f32.dtype() == DType::f32);
  std::vector<float> fv = f32.to_vector<float>();
  CHECK(fv == std::vector<float>{0.1f, static_cast<float>(1e-50), 3e38f, -2.5f});
  CHECK(f32.to(DType::f64).to_vector<double>()[0] == static_cast<double>(0.1f));
  CHECK(f.to(DType::f64).same_storage(f));  // same dtype: the tensor itself
  // Converting a strided view.
  CHECK(naive::values(x.transpose(0, 1).to(DType::f32)) == naive::values(x.transpose(0, 1)));

  Tensor a = iota({2, 3}), b = iota({2, 2}) + 100.0, d = iota({2, 1}) + 200.0;
  Tensor cat1 = concat({a, b, d}, 1);
  CHECK(cat1.shape() == Shape{2, 6});
  CHECK(naive::values(cat1) == std::vector<double>{0, 1, 2, 100, 101, 200, 3, 4, 5, 102, 103, 201});
  Tensor cat0 = concat({a, iota({1, 3}) + 50.0}, 0);
  CHECK(naive::values(cat0) == std::vector<double>{0, 1, 2, 3, 4, 5, 50, 51, 52});
  // Middle axis of a 3-d tensor, with a strided and an empty part.
  Tensor p = iota({2, 2, 3});
  Tensor q = iota({2, 3, 1}).transpose(1, 2).expand({2, 1, 3});  // (2, 1, 3), stride-0 free
  Tensor cat = concat({p, q, zeros({2, 0, 3})}, -2);
  CHECK(cat.shape() == Shape{2, 3, 3});
  naive::for_each_index(cat.shape(), [&](const std::vector<int64_t>& i) {
    double want = i[1] < 2 ? naive::read_at(p, {i[0], i[1], i[2]}) : naive::read_at(q, {i[0], 0, i[2]});
    CHECK(naive::read_at(cat, i) == want);
  });
  CHECK(concat({a}, 0).shape() == a.shape());
}

TEST_CASE("gradcheck and gradgradcheck of the shape ops") {
  Tensor x = leaf({2, 3, 4}, 1);
  expect_grads([](const std::vector<Tensor>& v) { return v[0].reshape({4, 6}); }, {x}, "reshape");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].view({-1}); }, {x}, "view");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].permute({2, 0, 1}); }, {x}, "permute");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].transpose(0, 2).reshape({4, 6}); }, {x},
               "transpose + reshape (copy)");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].narrow(2, 1, 2); }, {x}, "narrow");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].narrow(0, 0, 1).narrow(1, 2, 1); }, {x}, "narrow twice");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].unsqueeze(1).expand({2, 5, 3, 4}); }, {x}, "expand");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].narrow(1, 0, 1).squeeze(1); }, {x}, "squeeze");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].flatten(0, 1); }, {x}, "flatten");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].permute({1, 0, 2}).contiguous(); }, {x}, "contiguous");
  expect_grads([](const std::vector<Tensor>& v) { return v[0].clone(); }, {x}, "clone");
  Tensor y = leaf({2, 1, 4}, 2), z = leaf({2, 2, 4}, 3);
  expect_grads([](const std::vector<Tensor>& v) { return concat({v[0], v[1], v[2]}, 1); }, {x, y, z}, "concat");
  expect_grads([](const std::vector<Tensor>& v) { return concat({v[0], v[0].permute({0, 1, 2})}, 2); }, {y},
               "concat of one input twice");
}

TEST_CASE("to(DType) passes the gradient back in the source dtype") {
  Tensor x = from_vector(std::vector<float>{1, 2, 3}, {3}, TensorOptions().grad());
  Tensor w = from_vector(std::vector<double>{0.5, -1, 2}, {3}, DType::f64);
  Tensor g = autograd::grad({sum(x.to(DType::f64) * w)}, {x})[0];
  CHECK(g.dtype() == DType::f32);
  CHECK(g.to_vector<float>() == std::vector<float>{0.5f, -1.0f, 2.0f});
}

TEST_CASE("shape ops reject bad input with clear messages") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(x.view({4}), doctest::Contains("view: shape (4,) does not hold 6 elements"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({-1, -1}), doctest::Contains("only one size may be -1"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({-1, 4}), doctest::Contains("cannot infer -1"), Error);
  CHECK_THROWS_WITH_AS(x.reshape({-2, 3}), doctest::Contains("sizes must be >= 0 or -1"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 1).view({6}), doctest::Contains("view: the tensor is not contiguous"), Error);
  CHECK_THROWS_WITH_AS(x.permute({0}), doctest::Contains("permute: 1 dims given for a tensor of 2 dims"), Error);
  CHECK_THROWS_WITH_AS(x.permute({1, 1}), doctest::Contains("permute: dimension 1 repeated"), Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 2}), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 2), doctest::Contains("transpose: axis 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 2), doctest::Contains("narrow: range [2, 4) is outside dimension 1 of size 3"),
                       Error);
  CHECK_THROWS_WITH_AS(x.narrow(0, -1, 1), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(x.expand({2, 4}), doctest::Contains("expand: dimension 1 of size 3 cannot expand to 4"), Error);
  CHECK_THROWS_WITH_AS(x.expand({3}), doctest::Contains("expand: cannot expand shape (2, 3) to fewer dims"), Error);
  CHECK_THROWS_WITH_AS(x.squeeze(0), doctest::Contains("squeeze: dimension 0 has size 2, expected 1"), Error);
  CHECK_THROWS_WITH_AS(x.unsqueeze(3), doctest::Contains("unsqueeze: axis 3 is out of range"), Error);
  CHECK_THROWS_WITH_AS(x.flatten(1, 0), doctest::Contains("flatten: start_dim 1 is after end_dim 0"), Error);
  CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("concat: no tensors given"), Error);
  CHECK_THROWS_WITH_AS(concat({x, zeros({3, 3})}, 1), doctest::Contains("which differs from tensor 0 (2, 3) outside axis 1"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({x, zeros({2})}, 0), doctest::Contains("concat: tensor 1 has shape (2,), expected 2 dims"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({x, zeros({2, 3}, DType::f64)}, 0), doctest::Contains("concat"), Error);
  CHECK_THROWS_WITH_AS(concat({x, x}, 2), doctest::Contains("concat: axis 2 is out of range"), Error);
}
