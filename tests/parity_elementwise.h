/*
 * parity_elementwise.h: the CUDA twins of kernels/elementwise.h, reduce.h,
 * random.h, dropout.h, loss.h and optim.h on PARITY_DEVICE against their CPU
 * twins, through the autograd ops that dispatch to them: forward and the
 * gradients of every input, at two block sizes (parity::check runs the
 * default and 64 threads), at small odd shapes, with broadcast and
 * non-contiguous inputs (the views are taken inside the op under test, so
 * the device sees the strided tensor). Included by test_simt_elementwise.cpp
 * (simt, every CI run) and test_gpu_elementwise.cpp (cuda, where a GPU is).
 *
 * Tolerances (|device - cpu| <= atol + rtol |cpu|):
 *   exact       ops whose float result is the same expression on both sides
 *               (+ - * /, comparisons, copies, where, relu, dropout, uniform
 *               draws): 0, or 1e-6 where a gradient goes through a sum
 *   transcendental  expf/logf/tanhf/powf... on the device vs glibc: a few
 *               ulps, 1e-6 + 1e-5 |ref|
 *   reductions  both sides accumulate in double, then round once: 1e-6 +
 *               1e-6 |ref| (gradients that go through a float op: 1e-5)
 */
#pragma once
#include "tests/device_parity.h"

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "nn/optim.h"

#ifndef PARITY_DEVICE
#error "define PARITY_DEVICE before including parity_elementwise.h"
#endif

namespace {
using gesso::Device;
using gesso::Generator;
using gesso::Shape;
using gesso::Tensor;
using gesso::TensorOptions;

constexpr Device kDevice = PARITY_DEVICE;

Tensor normal(Shape s, uint64_t seed, bool grad = true) {
  Generator g(seed);
  return gesso::randn(s, g, TensorOptions().grad(grad));
}
Tensor uniform(Shape s, uint64_t seed, double lo, double hi, bool grad = true) {
  Generator g(seed);
  return gesso::rand(s, g, TensorOptions().grad(grad), lo, hi);
}
// Values on a coarse grid (multiples of 0.5 in [-2, 2]), so that comparisons tie.
Tensor grid_values(Shape s, uint64_t seed) {
  Generator g(seed);
  Tensor u = gesso::rand(s, g, TensorOptions(), 0.0, 9.0);
  std::vector<float> v = u.to_vector<float>();
  for (float& x : v) x = std::floor(x) * 0.5f - 2.0f;
  return gesso::from_vector(v, s);
}

// Runs `body` at the launchers' default block size and at 64 threads.
template <class F>
void at_two_block_sizes(F body) {
  for (int threads : {0, 64}) {
    gesso::kernels::ScopedBlockThreads block(threads);
    CAPTURE(threads);
    body();
  }
}

void expect_same(const Tensor& got, const Tensor& want, double atol, const char* what) {
  parity::expect_close(got, want, atol, 0.0, what);
}
}  // namespace

// ---------------------------------------------------------------- binary ops

TEST_CASE("binary arithmetic: same shape, broadcast, scalar and non-contiguous operands") {
  using gesso::add;
  using gesso::div;
  using gesso::mul;
  using gesso::sub;
  // + - * of float operands is the same float on both sides; gradients go
  // through sum_to (double sums) and are within an ulp.
  const double atol = 1e-6, rtol = 1e-6;
  auto same = [](const auto& v) { return add(mul(v[0], v[1]), sub(v[0], v[1])); };
  parity::check("add/mul/sub (5,7)", kDevice, same, {normal({5, 7}, 1), normal({5, 7}, 2)}, atol, rtol);
  // (5,1,7) against (3,7): both operands broadcast.
  parity::check("add broadcast (5,1,7)+(3,7)", kDevice, [](const auto& v) { return add(v[0], v[1]); },
                {normal({5, 1, 7}, 3), normal({3, 7}, 4)}, atol, rtol);
  parity::check("mul broadcast (3,1)*(1,9)", kDevice, [](const auto& v) { return mul(v[0], v[1]); },
                {normal({3, 1}, 5), normal({1, 9}, 6)}, atol, rtol);
  parity::check("sub scalar tensor", kDevice, [](const auto& v) { return sub(v[0], v[1]); },
                {normal({11}, 7), normal({}, 8)}, atol, rtol);
  // Non-contiguous: a transposed and a narrowed operand (strided layout kernel).
  parity::check("mul transposed * narrowed", kDevice,
                [](const auto& v) { return mul(v[0].transpose(0, 1), v[1].narrow(1, 2, 5)); },
                {normal({5, 3}, 9), normal({3, 9}, 10)}, atol, rtol);
  parity::check("add permuted 3-d + expanded", kDevice,
                [](const auto& v) { return add(v[0].permute({2, 0, 1}), v[1].expand({7, 3, 5})); },
                {normal({3, 5, 7}, 11), normal({1, 3, 1}, 12)}, atol, rtol);
  // div: the divisor kept away from 0; its gradient -a/b^2 is a float chain.
  parity::check("div broadcast", kDevice, [](const auto& v) { return div(v[0], v[1]); },
                {normal({4, 9}, 13), uniform({9}, 14, 0.5, 2.0)}, 1e-6, 1e-5);
  // pow: powf/logf on the device vs glibc: a few ulps.
  parity::check("pow", kDevice, [](const auto& v) { return gesso::pow(v[0], v[1]); },
                {uniform({3, 7}, 15, 0.2, 2.0), normal({3, 7}, 16)}, 1e-6, 1e-5);
  parity::check("pow broadcast exponent, transposed base", kDevice,
                [](const auto& v) { return gesso::pow(v[0].transpose(0, 1), v[1]); },
                {uniform({5, 3}, 17, 0.2, 2.0), normal({5}, 18)}, 1e-6, 1e-5);
}

TEST_CASE("comparisons: ties, broadcast, strided") {
  // Masks are 0/1 floats: exactly equal on both sides.
  const Tensor a = grid_values({5, 7}, 21), b = grid_values({7}, 22), c = grid_values({7, 5}, 23);
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"eq", gesso::eq}, {"ne", gesso::ne}, {"lt", gesso::lt}, {"le", gesso::le},
      {"gt", [](const Tensor& x, const Tensor& y) { return gesso::gt(x, y); }}, {"ge", gesso::ge}};
  for (const auto& [name, fn] : ops) {
    parity::check(name, kDevice, [fn = fn](const auto& v) { return fn(v[0], v[1]); }, {a, b}, 0, 0, false);
    parity::check(name, kDevice, [fn = fn](const auto& v) { return fn(v[0], v[1].transpose(0, 1)); }, {a, c}, 0, 0,
                  false);
  }
  parity::check("gt scalar (step)", kDevice, [](const auto& v) { return gesso::gt(v[0], 0.5); }, {a}, 0, 0, false);
}

// ----------------------------------------------------------------- unary ops

TEST_CASE("unary math and scalar forms, contiguous and transposed") {
  struct Case {
    const char* name;
    parity::Fn fn;
    Tensor input;
    double atol, rtol;
  };
  // Exact: neg, abs, affine (+ - * by scalars). Transcendental: a few ulps.
  const std::vector<Case> cases = {
      {"neg", [](const auto& v) { return gesso::neg(v[0]); }, normal({5, 7}, 31), 0, 0},
      {"abs", [](const auto& v) { return gesso::abs(v[0]); }, normal({5, 7}, 32), 0, 0},
      {"add scalar", [](const auto& v) { return gesso::add(v[0], 0.75); }, normal({5, 7}, 33), 1e-7, 1e-7},
      {"mul scalar", [](const auto& v) { return gesso::mul(v[0], -1.5); }, normal({5, 7}, 34), 1e-7, 1e-7},
      {"operators", [](const auto& v) { return (2.0 - v[0]) * 3.0 / 7.0 + 1.0; }, normal({5, 7}, 35), 1e-6, 1e-6},
      {"exp", [](const auto& v) { return gesso::exp(v[0]); }, normal({5, 7}, 36), 1e-6, 1e-5},
      {"log", [](const auto& v) { return gesso::log(v[0]); }, uniform({5, 7}, 37, 0.1, 3.0), 1e-6, 1e-5},
      {"sqrt", [](const auto& v) { return gesso::sqrt(v[0]); }, uniform({5, 7}, 38, 0.1, 3.0), 1e-6, 1e-5},
      {"pow scalar", [](const auto& v) { return gesso::pow(v[0], 2.5); }, uniform({5, 7}, 39, 0.1, 3.0), 1e-6, 1e-5},
      {"pow scalar 0", [](const auto& v) { return gesso::pow(v[0], 0.0); }, normal({5, 7}, 40), 0, 0},
      {"clamp", [](const auto& v) { return gesso::clamp(v[0], -0.5, 0.7); }, normal({5, 7}, 41), 0, 0},
  };
  for (const Case& c : cases) {
    parity::check(c.name, kDevice, c.fn, {c.input}, c.atol, c.rtol);
    // The same op on a transposed view: the device makes it dense with the
    // strided-copy kernel first, and the gradient flows back through it.
    parity::check(c.name, kDevice, [fn = c.fn](const auto& v) { return fn({v[0].transpose(0, 1)}); }, {c.input},
                  c.atol, c.rtol);
  }
}

TEST_CASE("activations forward and backward") {
  // The gradient formulas run the binary/unary kernels again (tanh, sigmoid
  // recomputed from x), so the transcendental tolerance holds throughout.
  const double atol = 1e-6, rtol = 1e-5;
  Tensor x = normal({3, 5, 7}, 51);
  parity::check("relu", kDevice, [](const auto& v) { return gesso::relu(v[0]); }, {x}, 0, 0);
  parity::check("leaky_relu", kDevice, [](const auto& v) { return gesso::leaky_relu(v[0], 0.2); }, {x}, 1e-7, 1e-7);
  parity::check("tanh", kDevice, [](const auto& v) { return gesso::tanh(v[0]); }, {x}, atol, rtol);
  parity::check("sigmoid", kDevice, [](const auto& v) { return gesso::sigmoid(v[0]); }, {x}, atol, rtol);
  parity::check("softplus", kDevice, [](const auto& v) { return gesso::softplus(v[0]); }, {x}, atol, rtol);
  // Large magnitudes: the overflow-free branches of sigmoid and softplus.
  Tensor big = gesso::from_vector(std::vector<float>{-100.f, -30.f, -1.f, 0.f, 1.f, 30.f, 100.f}, {7}).requires_grad_();
  parity::check("sigmoid extremes", kDevice, [](const auto& v) { return gesso::sigmoid(v[0]); }, {big}, atol, rtol);
  parity::check("softplus extremes", kDevice, [](const auto& v) { return gesso::softplus(v[0]); }, {big}, atol, rtol);
  // An activation of a permuted view.
  parity::check("tanh permuted", kDevice, [](const auto& v) { return gesso::tanh(v[0].permute({2, 0, 1})); }, {x},
                atol, rtol);
}

TEST_CASE("where with broadcast condition and operands") {
  Tensor cond = gesso::gt(normal({5, 1}, 61, false), gesso::zeros({}));
  parity::check("where", kDevice, [](const auto& v) { return gesso::where(v[0], v[1], v[2]); },
                {cond, normal({5, 7}, 62), normal({7}, 63)}, 0, 0);
  parity::check("where transposed", kDevice,
                [](const auto& v) { return gesso::where(v[0], v[1].transpose(0, 1), v[2]); },
                {cond, normal({7, 5}, 64), normal({1}, 65)}, 1e-6, 1e-6);
}

// ----------------------------------------------------------- copies and views

TEST_CASE("contiguous, clone, concat and moves between devices") {
  Tensor x = normal({3, 5, 7}, 71);
  // Strided copies are exact.
  parity::check("contiguous of permute", kDevice, [](const auto& v) { return v[0].permute({2, 0, 1}).contiguous(); },
                {x}, 0, 0);
  parity::check("clone of narrow", kDevice, [](const auto& v) { return v[0].narrow(2, 1, 4).clone(); }, {x}, 0, 0);
  parity::check("reshape of transpose", kDevice, [](const auto& v) { return v[0].transpose(1, 2).reshape({15, 7}); },
                {x}, 0, 0);
  parity::check("contiguous of expand", kDevice, [](const auto& v) { return v[0].expand({4, 3, 5}).contiguous(); },
                {normal({3, 1}, 72)}, 1e-6, 1e-6);
  // concat on every axis, of views; its backward is narrow, and narrow's
  // backward is concat again with zeros (the device's fill and copy_rows).
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    parity::check("concat", kDevice,
                  [axis](const auto& v) {
                    return gesso::concat({v[0], v[1].permute({0, 2, 1}), v[0].narrow(axis, 0, 1)}, axis);
                  },
                  {normal({3, 5, 5}, 73), normal({3, 5, 5}, 74)}, 0, 0);
    parity::check("narrow", kDevice, [axis](const auto& v) { return gesso::mul(v[0].narrow(axis, 1, 2), 2.0); }, {x},
                  0, 0);
  }
  // cpu -> device -> cpu, and device -> cpu of a strided view.
  Tensor back = x.detach().to(kDevice).to(Device::cpu);
  expect_same(back, x, 0, "round trip");
  Tensor strided = x.detach().to(kDevice).transpose(0, 2).to(Device::cpu);
  expect_same(strided, x.detach().transpose(0, 2).contiguous(), 0, "strided view to cpu");
  CHECK(x.detach().to(kDevice).transpose(0, 2).to_vector<float>() ==
        x.detach().transpose(0, 2).contiguous().to_vector<float>());
  CHECK(gesso::sum(x.detach().to(kDevice)).item() == doctest::Approx(gesso::sum(x.detach()).item()).epsilon(1e-6));
}

TEST_CASE("fill_, full, zeros and copy_ on the device") {
  at_two_block_sizes([] {
    Tensor z = gesso::zeros({3, 7}, TensorOptions().with(kDevice));
    CHECK(z.device() == kDevice);
    expect_same(z, gesso::zeros({3, 7}), 0, "zeros");
    Tensor f = gesso::full({5, 3}, -2.25, TensorOptions().with(kDevice));
    expect_same(f, gesso::full({5, 3}, -2.25), 0, "full");
    f.fill_(0.5);
    expect_same(f, gesso::full({5, 3}, 0.5), 0, "fill_");

    Tensor src = normal({3, 5}, 81, false);
    // cpu (strided) -> device
    Tensor d = Tensor::empty({5, 3}, TensorOptions().with(kDevice));
    d.copy_(src.transpose(0, 1));
    expect_same(d, src.transpose(0, 1).contiguous(), 0, "copy_ cpu -> device");
    // device (strided) -> device
    Tensor d2 = Tensor::empty({5, 3}, TensorOptions().with(kDevice));
    d2.copy_(src.to(kDevice).transpose(0, 1));
    expect_same(d2, src.transpose(0, 1).contiguous(), 0, "copy_ device -> device");
    // float64 cpu -> device (converted on the host), device -> float64 cpu
    Tensor d3 = Tensor::empty({3, 5}, TensorOptions().with(kDevice));
    d3.copy_(src.to(gesso::DType::f64));
    expect_same(d3, src, 0, "copy_ f64 cpu -> device");
    Tensor h = Tensor::empty({5, 3}, TensorOptions(gesso::DType::f64));
    h.copy_(src.to(kDevice).transpose(0, 1));
    expect_same(h.to(gesso::DType::f32), src.transpose(0, 1).contiguous(), 0, "copy_ device -> f64 cpu");
  });
}

// ---------------------------------------------------------------- reductions

TEST_CASE("sum and mean over every layout the reduction kernel picks") {
  // Both twins accumulate in double and round once; gradients are expands.
  const double atol = 1e-6, rtol = 1e-6;
  // Whole tensor, long enough to be split into chunks (two passes).
  parity::check("sum all (5001)", kDevice, [](const auto& v) { return gesso::sum(v[0]); }, {normal({5001}, 91)},
                1e-5, 1e-6);
  parity::check("mean all (3,5,7)", kDevice, [](const auto& v) { return gesso::mean(v[0]); }, {normal({3, 5, 7}, 92)},
                atol, rtol);
  // Last axis (inner 1), middle axis with small inner (block per output,
  // strided), with inner >= 32 (the column kernel), and column chunks.
  parity::check("sum last axis", kDevice, [](const auto& v) { return gesso::sum(v[0], {1}); }, {normal({7, 301}, 93)},
                atol, rtol);
  parity::check("sum middle axis, inner 5", kDevice, [](const auto& v) { return gesso::sum(v[0], {1}, true); },
                {normal({3, 37, 5}, 94)}, atol, rtol);
  parity::check("sum middle axis, inner 67", kDevice, [](const auto& v) { return gesso::sum(v[0], {1}); },
                {normal({3, 41, 67}, 95)}, atol, rtol);
  parity::check("sum first axis, inner 40, long", kDevice, [](const auto& v) { return gesso::sum(v[0], {0}); },
                {normal({1201, 40}, 96)}, 1e-5, rtol);
  // Non-adjacent axes (permuted to the end first), and a transposed input.
  parity::check("sum axes {0,2}", kDevice, [](const auto& v) { return gesso::sum(v[0], {0, 2}); },
                {normal({3, 5, 7}, 97)}, atol, rtol);
  parity::check("mean of transpose", kDevice, [](const auto& v) { return gesso::mean(v[0].transpose(0, 1), {1}); },
                {normal({9, 4}, 98)}, atol, rtol);
  parity::check("sum over an empty axis", kDevice, [](const auto& v) { return gesso::sum(v[0], {1}); },
                {normal({3, 0, 2}, 99, false)}, 0, 0, false);
}

TEST_CASE("max, argmax and var") {
  // var sums squared deviations in float: relative error grows with the row length, hence 1e-5 below.
  const double atol = 1e-6, var_rtol = 1e-5;
  parity::check("max last axis", kDevice, [](const auto& v) { return gesso::max(v[0], 1); }, {normal({5, 33}, 101)},
                0, 0);
  parity::check("max axis 0, inner 35", kDevice, [](const auto& v) { return gesso::max(v[0], 0, true); },
                {normal({9, 35}, 102)}, 0, 0);
  parity::check("max all, long", kDevice, [](const auto& v) { return gesso::max(v[0]); }, {normal({4099}, 103)}, 0, 0);
  // Ties share the gradient; grid values make many.
  parity::check("max with ties", kDevice, [](const auto& v) { return gesso::max(v[0], 1); },
                {grid_values({6, 9}, 104).requires_grad_()}, 1e-7, 1e-6);
  // NaN wins max; argmax skips NaN and takes the first of equal maxima.
  std::vector<float> vals = {1.f, 3.f, NAN, 3.f, 2.f, -INFINITY, -INFINITY, -INFINITY, 0.f, 2.f, 2.f, NAN};
  Tensor special = gesso::from_vector(vals, {3, 4});
  auto nan_eq = [](const Tensor& t) {
    std::vector<float> v = t.to(Device::cpu).to_vector<float>();
    for (float& f : v) if (std::isnan(f)) f = 12345.f;
    return v;
  };
  at_two_block_sizes([&] {
    CHECK(nan_eq(gesso::max(special.to(kDevice), 1)) == nan_eq(gesso::max(special, 1)));
    CHECK(gesso::argmax(special.to(kDevice), 1).to_vector<float>() == gesso::argmax(special, 1).to_vector<float>());
    CHECK(gesso::argmax(special.to(kDevice), 1).to_vector<float>() == std::vector<float>{1, 0, 1});
    Tensor g = grid_values({7, 45}, 105);
    CHECK(gesso::argmax(g.to(kDevice), 0).to_vector<float>() == gesso::argmax(g, 0).to_vector<float>());
    CHECK(gesso::argmax(g.to(kDevice), 1).to_vector<float>() == gesso::argmax(g, 1).to_vector<float>());
    Tensor longrow = normal({1, 5003}, 106, false);
    CHECK(gesso::argmax(longrow.to(kDevice), 1).to_vector<float>() == gesso::argmax(longrow, 1).to_vector<float>());
  });
  parity::check("var unbiased last axis", kDevice, [](const auto& v) { return gesso::var(v[0], {1}, true); },
                {normal({5, 31}, 107)}, atol, var_rtol);
  parity::check("var biased, inner 33", kDevice, [](const auto& v) { return gesso::var(v[0], {0}, false, true); },
                {normal({7, 33}, 108)}, atol, var_rtol);
  parity::check("var all, long, offset mean", kDevice, [](const auto& v) { return gesso::var(gesso::add(v[0], 10.0), {0}, true); },
                {normal({3001}, 109)}, atol, var_rtol);
  // n - ddof = 0: NaN on both.
  at_two_block_sizes([] {
    Tensor one = normal({4, 1}, 110, false);
    std::vector<float> got = gesso::var(one.to(kDevice), {1}, /*unbiased=*/true).to_vector<float>();
    CHECK(got.size() == 4);
    for (float f : got) CHECK(std::isnan(f));
  });
}

// -------------------------------------------------------------------- losses

TEST_CASE("losses forward and backward") {
  // Sums in double on both sides; the gradients are elementwise formulas.
  const double atol = 1e-6, rtol = 1e-5;
  parity::check("mse_loss", kDevice, [](const auto& v) { return gesso::mse_loss(v[0], v[1]); },
                {normal({3, 5, 7}, 121), normal({3, 5, 7}, 122)}, atol, rtol);
  parity::check("mse_loss long", kDevice, [](const auto& v) { return gesso::mse_loss(v[0], v[1]); },
                {normal({4001}, 123), normal({4001}, 124)}, atol, rtol);
  parity::check("l1_loss", kDevice, [](const auto& v) { return gesso::l1_loss(v[0], v[1].transpose(0, 1)); },
                {normal({5, 7}, 125), normal({7, 5}, 126)}, atol, rtol);
  parity::check("bce_with_logits", kDevice, [](const auto& v) { return gesso::bce_with_logits(v[0], v[1]); },
                {normal({9, 5}, 127), uniform({9, 5}, 128, 0.0, 1.0)}, atol, rtol);
  Tensor extreme = gesso::from_vector(std::vector<float>{-100.f, -20.f, -0.5f, 0.f, 0.5f, 20.f, 100.f}, {7}).requires_grad_();
  parity::check("bce_with_logits extremes", kDevice, [](const auto& v) { return gesso::bce_with_logits(v[0], v[1]); },
                {extreme, uniform({7}, 129, 0.0, 1.0)}, atol, rtol);
  parity::check("total_variation", kDevice, [](const auto& v) { return gesso::total_variation(v[0]); },
                {normal({2, 3, 5, 7}, 130)}, atol, rtol);
  parity::check("total_variation W=1", kDevice, [](const auto& v) { return gesso::total_variation(v[0]); },
                {normal({1, 2, 5, 1}, 131)}, atol, rtol);
  parity::check("total_variation H=1", kDevice, [](const auto& v) { return gesso::total_variation(v[0]); },
                {normal({1, 2, 1, 9}, 132)}, atol, rtol);
  // log_softmax: last axis (rows kernel, inner 1), middle axis (rows kernel,
  // inner 5), first axis of a wide matrix (column kernel, inner 40).
  parity::check("log_softmax last axis", kDevice, [](const auto& v) { return gesso::log_softmax(v[0], 1); },
                {normal({7, 13}, 133)}, atol, rtol);
  parity::check("log_softmax middle axis", kDevice, [](const auto& v) { return gesso::log_softmax(v[0], 1); },
                {normal({3, 9, 5}, 134)}, atol, rtol);
  parity::check("log_softmax axis 0, inner 40", kDevice, [](const auto& v) { return gesso::log_softmax(v[0], 0); },
                {normal({5, 40}, 135)}, atol, rtol);
  parity::check("log_softmax long row", kDevice, [](const auto& v) { return gesso::log_softmax(v[0], 0); },
                {normal({1001}, 136)}, atol, rtol);
  Tensor labels = gesso::from_vector(std::vector<float>{0, 3, 2, 2, 1}, {5});
  parity::check("cross_entropy", kDevice, [](const auto& v) { return gesso::cross_entropy(v[0], v[1]); },
                {normal({5, 4}, 137), labels}, atol, rtol);
  parity::check("gan losses", kDevice,
                [](const auto& v) {
                  return gesso::add(gesso::add(gesso::gan_d_loss_nonsaturating(v[0], v[1]), gesso::gan_g_loss_nonsaturating(v[1])),
                                    gesso::add(gesso::gan_d_loss_hinge(v[0], v[1]), gesso::gan_g_loss_hinge(v[1])));
                },
                {normal({9, 1}, 138), normal({9, 1}, 139)}, atol, rtol);
}

// ------------------------------------------------------- randomness, dropout

TEST_CASE("Philox on the device gives the CPU's numbers") {
  at_two_block_sizes([] {
    // Odd sizes after an odd-sized draw: the second draw starts mid-stream
    // at a new block, and its last block is partly used.
    Generator cpu_gen(20240611), dev_gen(20240611);
    for (int64_t n : {1, 7, 1001}) {
      CAPTURE(n);
      Tensor want_u = gesso::rand({n}, cpu_gen, TensorOptions(), -2.0, 3.0);
      Tensor got_u = gesso::rand({n}, dev_gen, TensorOptions().with(kDevice), -2.0, 3.0);
      CHECK(got_u.device() == kDevice);
      // Uniforms: the same float, bit for bit.
      CHECK(got_u.to_vector<float>() == want_u.to_vector<float>());
      Tensor want_n = gesso::randn({n, 3}, cpu_gen, TensorOptions(), 0.5, 2.0);
      Tensor got_n = gesso::randn({n, 3}, dev_gen, TensorOptions().with(kDevice), 0.5, 2.0);
      // Normals: the device's double log/sin/cos vs glibc's, rounded to float.
      parity::expect_close(got_n, want_n, 1e-6, 0.0, "randn");
      CHECK(dev_gen.offset == cpu_gen.offset);
    }
    // Unit uniforms and standard normals, as init code draws them.
    Generator a(7), b(7);
    CHECK(gesso::rand({5, 9}, a, TensorOptions().with(kDevice)).to_vector<float>() ==
          gesso::rand({5, 9}, b).to_vector<float>());
    parity::expect_close(gesso::randn({37}, a, TensorOptions().with(kDevice)), gesso::randn({37}, b), 1e-6, 0.0,
                         "randn standard");
  });
}

TEST_CASE("dropout: the same mask on the device") {
  // The mask is the same Philox draw and y = x * keep / (1 - p) the same
  // float operations: exact (the gradient too).
  for (double p : {0.3, 0.75}) {
    CAPTURE(p);
    parity::check("dropout", kDevice,
                  [p](const auto& v) {
                    Generator g(99);
                    g.advance(5);  // start at an offset
                    return gesso::dropout(v[0], p, true, g);
                  },
                  {normal({7, 13}, 141)}, 0, 0);
  }
}

// ---------------------------------------------------------------- optimizers

namespace {
// Runs `steps` optimizer steps on parameters on `device`, with gradients
// from a small least-squares problem computed on that device; returns the
// parameters on the CPU.
template <class MakeOptimizer>
std::vector<Tensor> train(Device device, MakeOptimizer make, int steps) {
  Tensor w = normal({5, 3}, 151, false).to(device).requires_grad_();
  Tensor b = normal({3}, 152, false).to(device).requires_grad_();
  Tensor x = normal({7, 5}, 153, false).to(device), y = normal({7, 3}, 154, false).to(device);
  auto opt = make(std::vector<Tensor>{w, b});
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    // (7,5)x(5,3) written as a broadcast product and a sum, so that only
    // this family's kernels run.
    Tensor pred = gesso::add(gesso::sum(gesso::mul(x.reshape({7, 5, 1}), w.reshape({1, 5, 3})), {1}), b);
    gesso::mse_loss(pred, y).backward();
    opt.step();
  }
  return {w.detach().to(Device::cpu), b.detach().to(Device::cpu)};
}

template <class MakeOptimizer>
void check_optimizer(const char* name, MakeOptimizer make) {
  // The update arithmetic is double on both sides; the gradients differ in
  // the last float bits (double sums of float products in another order),
  // which a few steps carry into the parameters at about 1e-6.
  const std::vector<Tensor> want = train(Device::cpu, make, 4);
  at_two_block_sizes([&] {
    const std::vector<Tensor> got = train(kDevice, make, 4);
    for (size_t i = 0; i < got.size(); ++i) parity::expect_close(got[i], want[i], 1e-5, 1e-5, name);
  });
}
}  // namespace

TEST_CASE("optimizer steps on the device match the CPU") {
  using gesso::nn::AdamOptions;
  using gesso::nn::SgdOptions;
  check_optimizer("SGD", [](std::vector<Tensor> p) { return gesso::nn::SGD(p, SgdOptions(0.1)); });
  check_optimizer("SGD momentum dampening wd", [](std::vector<Tensor> p) {
    return gesso::nn::SGD(p, SgdOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(1e-2));
  });
  check_optimizer("SGD nesterov", [](std::vector<Tensor> p) {
    return gesso::nn::SGD(p, SgdOptions(0.05).momentum(0.8).nesterov(true));
  });
  check_optimizer("Adam", [](std::vector<Tensor> p) {
    return gesso::nn::Adam(p, AdamOptions(0.01).betas(0.8, 0.99).weight_decay(1e-2));
  });
  check_optimizer("AdamW", [](std::vector<Tensor> p) { return gesso::nn::AdamW(p, AdamOptions(0.01).weight_decay(0.1)); });
}

// ------------------------------------------------------------- device rules

TEST_CASE("device ops run the CUDA twins and refuse what a device cannot do") {
  Tensor x = normal({4, 64}, 161, false).to(kDevice);
  {
    // A block of 48 threads cannot do full-warp shuffles: the reduction's
    // launcher refuses it, which shows the device path is the CUDA kernel.
    gesso::kernels::ScopedBlockThreads odd(48);
    CHECK_THROWS_WITH_AS(gesso::sum(x), doctest::Contains("multiple of 32"), gesso::Error);
    CHECK_THROWS_WITH_AS(gesso::mse_loss(x, x), doctest::Contains("multiple of 32"), gesso::Error);
    // Elementwise kernels take any block size.
    parity::expect_close(gesso::add(x, x), gesso::add(x.to(Device::cpu), x.to(Device::cpu)), 0, 0, "add at 48");
  }
  CHECK_THROWS_WITH_AS(normal({3}, 162, false).to(gesso::DType::f64).to(kDevice),
                       doctest::Contains("float64 tensors live on the CPU only"), gesso::Error);
  CHECK_THROWS_WITH_AS(x.to(gesso::DType::f64), doctest::Contains("float64 tensors live on the CPU only"),
                       gesso::Error);
  CHECK_THROWS_WITH_AS(gesso::add(x, normal({4, 64}, 163, false)), doctest::Contains("different devices"),
                       gesso::Error);
}
