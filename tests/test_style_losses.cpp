// test_style_losses.cpp: the pieces of style transfer's objective against
// values computed by hand (the Gram op, the neural-style normalised Gram,
// content and style losses, the softmax smoothing), the fused conv + relu
// (+ shortcut) node against the composed ops and by gradcheck, the YUV
// colour helpers, list parsing, and bad input.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "style/color.h"
#include "style/conv_relu.h"
#include "style/feature_net.h"
#include "style/losses.h"

using namespace gesso;

namespace {

std::vector<double> values(const Tensor& t) { return t.to(DType::f64).contiguous().to_vector<double>(); }

// F for one image (1, 2, 2, 2): channel 0 = [1 2; 3 4], channel 1 = [0 -1; 2 1].
Tensor hand_features(DType dtype = DType::f32) {
  return from_vector(std::vector<double>{1, 2, 3, 4, 0, -1, 2, 1}, {1, 2, 2, 2}, TensorOptions(dtype));
}

}  // namespace

TEST_CASE("gram op and style_gram on a hand example") {
  // F F^T: [1+4+9+16, 0-2+6+4; ., 0+1+4+1] = [30 8; 8 6].
  Tensor g = gram(hand_features(), 0.5);
  CHECK(g.shape() == Shape{1, 2, 2});
  std::vector<double> v = values(g);
  CHECK(v[0] == doctest::Approx(15.0));
  CHECK(v[1] == doctest::Approx(4.0));
  CHECK(v[2] == doctest::Approx(4.0));
  CHECK(v[3] == doctest::Approx(3.0));
  // neural-style's normalisation: divided by C*H*W = 8.
  std::vector<double> s = values(style::style_gram(hand_features()));
  CHECK(s[0] == doctest::Approx(30.0 / 8));
  CHECK(s[1] == doctest::Approx(8.0 / 8));
  CHECK(s[3] == doctest::Approx(6.0 / 8));
}

TEST_CASE("content and style losses on hand examples") {
  Tensor f = hand_features();
  Tensor target = from_vector(std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1}, {1, 2, 2, 2});
  // (0^2 + 1 + 4 + 9 + 1 + 4 + 1 + 0) / 8 = 20 / 8.
  CHECK(style::content_loss(f, target).item() == doctest::Approx(2.5));
  // Gram [3.75 1; 1 0.75] against the identity: (2.75^2 + 1 + 1 + 0.25^2) / 4.
  Tensor eye = from_vector(std::vector<double>{1, 0, 0, 1}, {1, 2, 2});
  const double want = (2.75 * 2.75 + 1 + 1 + 0.0625) / 4;
  CHECK(style::style_loss(style::style_gram(f), eye).item() == doctest::Approx(want));
}

TEST_CASE("the losses' gradients match finite differences (float64)") {
  Generator gen(3);
  Tensor x = randn({1, 3, 3, 5}, gen, DType::f64).requires_grad_();
  Tensor content_target = randn({1, 3, 3, 5}, gen, DType::f64);
  Tensor gram_target = randn({1, 3, 3}, gen, DType::f64);
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return add(style::content_loss(in[0], content_target),
                   style::style_loss(style::style_gram(in[0]), gram_target));
      },
      {x});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("smooth_activations is count * softmax over each image's values") {
  // One image of 4 values [0, 1, 2, 3] at T = 1: 4 e^v / (1 + e + e^2 + e^3).
  Tensor x = from_vector(std::vector<double>{0, 1, 2, 3}, {1, 1, 2, 2}, TensorOptions(DType::f64));
  std::vector<double> s = values(style::smooth_activations(x, 1.0));
  const double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  for (int i = 0; i < 4; ++i) CHECK(s[i] == doctest::Approx(4 * std::exp(static_cast<double>(i)) / z));
  // T = 2 halves the logits.
  std::vector<double> t = values(style::smooth_activations(x, 2.0));
  const double z2 = 1 + std::exp(0.5) + std::exp(1.0) + std::exp(1.5);
  CHECK(t[3] == doctest::Approx(4 * std::exp(1.5) / z2));
  // Per image: each of a batch of 2 sums to its count, and a shift changes nothing.
  Generator gen(5);
  Tensor b = mul(randn({2, 3, 4, 5}, gen), 30.0);  // large values: exp must not overflow
  Tensor sb = style::smooth_activations(b, 1.0);
  std::vector<double> sums = values(sum(sb, {1, 2, 3}));
  CHECK(sums[0] == doctest::Approx(60.0).epsilon(1e-4));
  CHECK(sums[1] == doctest::Approx(60.0).epsilon(1e-4));
  Tensor shifted = style::smooth_activations(add(b, 100.0), 1.0);
  CHECK(max(abs(sub(shifted, sb))).item() <= 1e-3 * max(sb).item());
  CHECK(std::isfinite(max(sb).item()));
}

TEST_CASE("smooth_activations passes gradcheck and gradgradcheck (float64)") {
  Generator gen(7);
  Tensor x = randn({2, 2, 3, 3}, gen, DType::f64).requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return style::smooth_activations(in[0], 1.5); };
  auto r = autograd::gradcheck(f, {x});
  CHECK_MESSAGE(r.ok, r.report);
  auto r2 = autograd::gradgradcheck(f, {x});
  CHECK_MESSAGE(r2.ok, r2.report);
}

TEST_CASE("conv2d_relu equals relu(conv2d(x) + residual), forward and gradients") {
  Generator gen(11);
  Conv2dParams p;
  p.stride_h = 2;
  p.stride_w = 1;
  p.pad_h = p.pad_w = 1;
  Tensor x = randn({2, 3, 7, 5}, gen);
  Tensor w = randn({4, 3, 3, 3}, gen);
  Tensor b = randn({4}, gen);
  Tensor r = randn({2, 4, 4, 5}, gen);
  Tensor fused = style::conv2d_relu(x, w, b, p, r);
  Tensor composed = relu(add(conv2d(x, w, b, p), r));
  CHECK(fused.shape() == composed.shape());
  CHECK(max(abs(sub(fused, composed))).item() <= 1e-5);
  Tensor plain = style::conv2d_relu(x, w, b, p);
  CHECK(max(abs(sub(plain, relu(conv2d(x, w, b, p))))).item() <= 1e-5);

  // First-order gradients through the fast mask (grad mode off in backward)
  // equal the composed ops' gradients.
  Tensor x1 = x.clone().requires_grad_(), r1 = r.clone().requires_grad_();
  Tensor x2 = x.clone().requires_grad_(), r2 = r.clone().requires_grad_();
  Tensor g = randn({2, 4, 4, 5}, gen);
  sum(mul(style::conv2d_relu(x1, w, b, p, r1), g)).backward();
  sum(mul(relu(add(conv2d(x2, w, b, p), r2)), g)).backward();
  CHECK(max(abs(sub(x1.grad(), x2.grad()))).item() <= 1e-4);
  CHECK(max(abs(sub(r1.grad(), r2.grad()))).item() <= 1e-6);
}

TEST_CASE("conv2d_relu passes gradcheck and gradgradcheck in every input (float64)") {
  Generator gen(13);
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  // Values kept away from the relu's kink, where finite differences are not a derivative.
  Tensor x = randn({1, 2, 4, 3}, gen, DType::f64).requires_grad_();
  Tensor w = randn({3, 2, 3, 3}, gen, DType::f64).requires_grad_();
  Tensor b = randn({3}, gen, DType::f64).requires_grad_();
  Tensor r = randn({1, 3, 4, 3}, gen, DType::f64).requires_grad_();
  auto f = [&](const std::vector<Tensor>& in) { return style::conv2d_relu(in[0], in[1], in[2], p, in[3]); };
  auto res = autograd::gradcheck(f, {x, w, b, r});
  CHECK_MESSAGE(res.ok, res.report);
  auto res2 = autograd::gradgradcheck(f, {x, w, b, r});
  CHECK_MESSAGE(res2.ok, res2.report);
}

TEST_CASE("conv2d_relu keeps no second activation: its node's inputs are x, weight, bias, residual") {
  Generator gen(17);
  Tensor x = randn({1, 2, 5, 5}, gen).requires_grad_();
  Tensor w = randn({3, 2, 3, 3}, gen);
  Conv2dParams p;
  p.pad_h = p.pad_w = 1;
  Tensor y = style::conv2d_relu(x, w, Tensor(), p);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "conv2d_relu");
  CHECK(y.grad_fn()->inputs.size() == 4);
  CHECK(y.grad_fn()->inputs[0].same_storage(x));
}

TEST_CASE("conv2d_relu and the losses reject bad input with clear messages") {
  Tensor x = zeros({1, 2, 5, 5}), w = zeros({3, 2, 3, 3});
  Conv2dParams p;
  CHECK_THROWS_WITH_AS(style::conv2d_relu(x, w, Tensor(), p, zeros({1, 3, 5, 5})),
                       doctest::Contains("'residual' must have the output's shape"), Error);
  p.padding_mode = PaddingMode::reflect;
  CHECK_THROWS_WITH_AS(style::conv2d_relu(x, w, Tensor(), p), doctest::Contains("padding_mode"), Error);
  CHECK_THROWS_WITH_AS(style::content_loss(zeros({1, 2, 3, 3}), zeros({1, 2, 3, 4})),
                       doctest::Contains("content_loss: argument 'target'"), Error);
  CHECK_THROWS_WITH_AS(style::style_loss(zeros({1, 2, 2}), zeros({1, 3, 3})),
                       doctest::Contains("style_loss: argument 'target_gram'"), Error);
  CHECK_THROWS_WITH_AS(style::style_gram(zeros({2, 3})), doctest::Contains("style_gram: argument 'features'"), Error);
  CHECK_THROWS_WITH_AS(style::smooth_activations(zeros({1, 2, 2, 2}), 0.0), doctest::Contains("'temperature'"),
                       Error);
}

TEST_CASE("YUV: round trip, the BT.601 luma, and original colours keep the content's chroma") {
  Generator gen(19);
  Tensor rgb = rand({3, 4, 5}, gen);
  Tensor back = style::yuv_to_rgb(style::rgb_to_yuv(rgb));
  // The published 5-digit coefficients invert each other to about 1e-5.
  CHECK(max(abs(sub(back, rgb))).item() <= 1e-4);
  Tensor px = from_vector(std::vector<float>{1, 0.5f, 0.25f}, {3, 1, 1});
  std::vector<double> yuv = values(style::rgb_to_yuv(px));
  CHECK(yuv[0] == doctest::Approx(0.299 + 0.587 * 0.5 + 0.114 * 0.25));

  Tensor stylized = rand({1, 3, 4, 5}, gen), content = rand({1, 3, 4, 5}, gen);
  Tensor out = style::keep_original_colors(stylized, content);
  Tensor out_yuv = style::rgb_to_yuv(out), s_yuv = style::rgb_to_yuv(stylized), c_yuv = style::rgb_to_yuv(content);
  CHECK(max(abs(sub(out_yuv.narrow(1, 0, 1), s_yuv.narrow(1, 0, 1)))).item() <= 1e-4);
  CHECK(max(abs(sub(out_yuv.narrow(1, 1, 2), c_yuv.narrow(1, 1, 2)))).item() <= 1e-4);
  CHECK_THROWS_WITH_AS(style::keep_original_colors(stylized, rand({1, 3, 4, 4}, gen)),
                       doctest::Contains("must have one shape"), Error);
  CHECK_THROWS_WITH_AS(style::rgb_to_yuv(rand({4, 2, 2}, gen)), doctest::Contains("rgb_to_yuv: expected an image"),
                       Error);
}

TEST_CASE("comma-separated lists parse, and bad ones are named") {
  CHECK(style::split_list("relu1_1, relu2_1,relu3_1", "--style-layers") ==
        std::vector<std::string>{"relu1_1", "relu2_1", "relu3_1"});
  CHECK(style::parse_doubles("1,0.5, 2e-1", "--w") == std::vector<double>{1, 0.5, 0.2});
  CHECK_THROWS_WITH_AS(style::split_list("a,,b", "--style-layers"), doctest::Contains("--style-layers"), Error);
  CHECK_THROWS_WITH_AS(style::parse_doubles("1,x", "--style-blend-weights"),
                       doctest::Contains("'x' is not a finite number"), Error);
}
