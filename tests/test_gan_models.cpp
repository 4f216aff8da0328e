// test_gan_models.cpp: the GAN building blocks without data or files:
// DCGAN shapes and parameter counts at every size, seeding, spectral norm
// (the normalised weight has spectral norm 1; its gradient against finite
// differences), the weight EMA, the four adversarial losses against their
// formulas, the WGAN-GP penalty (closed form and finite differences of its
// gradient, i.e. double backprop), the Jacobi eigen-solver and the Frechet
// distance against closed forms, spherical interpolation, and the plot
// rasteriser.
#include <doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "gan/losses.h"
#include "gan/metrics.h"
#include "gan/models.h"
#include "gan/plot.h"
#include "gan/trainer.h"

using namespace gesso;
using namespace gesso::gan;

namespace {

ModelConfig tiny(int size, int channels, int width = 4) {
  ModelConfig c;
  c.image_size = size;
  c.channels = channels;
  c.latent = 8;
  c.g_width = c.d_width = width;
  return c;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

// The largest singular value of a (rows, cols) matrix, by 500 power iterations in double.
double top_singular_value(const std::vector<double>& w, int64_t rows, int64_t cols) {
  std::vector<double> v(cols, 1.0), u(rows);
  double sigma = 0;
  for (int it = 0; it < 500; ++it) {
    for (int64_t i = 0; i < rows; ++i) {
      u[i] = 0;
      for (int64_t j = 0; j < cols; ++j) u[i] += w[i * cols + j] * v[j];
    }
    double nu = 0;
    for (double x : u) nu += x * x;
    nu = std::sqrt(nu);
    for (double& x : u) x /= nu;
    for (int64_t j = 0; j < cols; ++j) {
      v[j] = 0;
      for (int64_t i = 0; i < rows; ++i) v[j] += w[i * cols + j] * u[i];
    }
    double nv = 0;
    for (double x : v) nv += x * x;
    sigma = std::sqrt(nv);
    for (double& x : v) x /= sigma;
  }
  return sigma;
}

// Tr sqrt(M) of a 2x2 matrix with positive eigenvalues: sqrt(tr M + 2 sqrt(det M)).
double trace_sqrt_2x2(const double m[4]) {
  return std::sqrt(m[0] + m[3] + 2 * std::sqrt(m[0] * m[3] - m[1] * m[2]));
}

}  // namespace

TEST_CASE("DCGAN generator and discriminator shapes at 28, 32, 64 and 128 px") {
  for (int size : {28, 32, 64, 128}) {
    for (int channels : {1, 3}) {
      CAPTURE(size);
      CAPTURE(channels);
      Generator gen(1);
      ModelConfig c = tiny(size, channels, size == 128 ? 2 : 4);
      DcganGenerator G(c, gen);
      DcganDiscriminator D(c, gen);
      Tensor z = randn({3, c.latent}, gen);
      Tensor x = G(z);
      REQUIRE(x.shape() == Shape{3, channels, size, size});
      for (float v : x.to_vector<float>()) REQUIRE(std::abs(v) <= 1.0f);  // tanh range
      CHECK(D(x).shape() == Shape{3});
    }
  }
}

TEST_CASE("the 64 px model with widths 64 has the DCGAN paper's layers") {
  Generator gen(0);
  ModelConfig c;
  c.image_size = 64;
  c.channels = 3;
  DcganGenerator G(c, gen);
  DcganDiscriminator D(c, gen);
  // G: ConvT 100->512 (4x4), 512->256, 256->128, 128->64, 64->3 (+3 bias), BN scales and shifts.
  const int64_t g_params = 100 * 512 * 16 + 512 * 256 * 16 + 256 * 128 * 16 + 128 * 64 * 16 + 64 * 3 * 16 + 3 +
                           2 * (512 + 256 + 128 + 64);
  // D: Conv 3->64 (+64 bias, no BN), 64->128, 128->256, 256->512 (BN), 512->1 (4x4, +1 bias).
  const int64_t d_params = 3 * 64 * 16 + 64 + 64 * 128 * 16 + 128 * 256 * 16 + 256 * 512 * 16 + 2 * (128 + 256 + 512) +
                           512 * 16 + 1;
  CHECK(G.num_parameters() == g_params);
  CHECK(D.num_parameters() == d_params);
  auto names = G.state_dict();
  CHECK(names.count("main.0.weight") == 1);
  CHECK(names.at("main.0.weight").shape() == Shape{100, 512, 4, 4});
  CHECK(names.count("main.1.running_mean") == 1);
}

TEST_CASE("DCGAN weights: the same seed builds the same model, N(0, 0.02) convolutions") {
  Generator a(7), b(7), c(8);
  ModelConfig cfg = tiny(32, 3, 16);
  DcganGenerator Ga(cfg, a), Gb(cfg, b), Gc(cfg, c);
  Tensor wa = Ga.state_dict().at("main.3.weight"), wb = Gb.state_dict().at("main.3.weight");
  CHECK(same_values(wa, wb));
  CHECK_FALSE(same_values(wa, Gc.state_dict().at("main.3.weight")));
  std::vector<double> v = wa.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  s = std::sqrt(s / static_cast<double>(v.size()));
  // 8192 samples: the std of the sample std is about 0.02 / sqrt(2 * 8192) = 1.6e-4.
  CHECK(std::abs(s - 0.02) < 1e-3);
  CHECK(std::abs(m) < 1e-3);
}

TEST_CASE("model config: validation and JSON round trip name the field") {
  ModelConfig c = tiny(64, 3);
  c.spectral_norm = true;
  c.d_norm = "none";
  ModelConfig back = ModelConfig::from_json(c.to_json());
  CHECK(back.difference(c).empty());
  back.g_width = 5;
  CHECK(back.difference(c) == "generator width 5 vs 4");
  ModelConfig bad = c;
  bad.image_size = 48;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("'image_size' must be 28, 32, 64 or 128, got 48"), Error);
  bad = c;
  bad.d_norm = "layer";
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("'d_norm' must be \"batch\" or \"none\""), Error);
  Generator gen(0);
  DcganGenerator G(c, gen);
  CHECK_THROWS_WITH_AS(G(zeros({2, 9})), doctest::Contains("z must be (N, 8)"), Error);
  DcganDiscriminator D(c, gen);
  CHECK_THROWS_WITH_AS(D(zeros({2, 1, 64, 64})), doctest::Contains("images must be (N, 3, 64, 64)"), Error);
}

TEST_CASE("spectral norm: the normalised weight's largest singular value converges to 1") {
  Generator gen(3);
  auto conv = std::make_shared<nn::Conv2d>(5, 7, 3, nn::Conv2dOptions(), gen);
  SpectralNorm sn(conv, gen);
  CHECK(sn.named_parameters().size() == 2);  // weight_orig, bias
  CHECK(sn.named_buffers().size() == 2);     // weight_u, weight_v
  NoGradGuard ng;
  Tensor w;
  for (int i = 0; i < 60; ++i) w = sn.normalized_weight(true);
  // After 60 power iterations u and v have converged for this 7 x 45 matrix
  // (the ratio of its two largest singular values is well below 1).
  const double top = top_singular_value(w.to_vector<double>(), 7, 45);
  CHECK(top == doctest::Approx(1.0).epsilon(1e-3));
  // Eval mode leaves u alone.
  Tensor u_before = sn.weight_u.clone();
  sn.eval();
  sn.forward(randn({1, 5, 6, 6}, gen));
  CHECK(same_values(u_before, sn.weight_u));
  sn.train();
  auto linear = std::make_shared<nn::Linear>(4, 3, true, gen);
  SpectralNorm sl(linear, gen);
  CHECK(sl.forward(randn({2, 4}, gen)).shape() == Shape{2, 3});
  CHECK_THROWS_WITH_AS(SpectralNorm(std::make_shared<nn::ReLU>(), gen), doctest::Contains("wraps a Conv2d or a Linear"),
                       Error);
}

TEST_CASE("spectral norm: gradient through W / sigma(W) matches finite differences (float64)") {
  Generator gen(4);
  auto conv = std::make_shared<nn::Conv2d>(2, 3, 2, nn::Conv2dOptions(), gen);
  SpectralNorm sn(conv, gen);
  sn.to(DType::f64);
  {
    NoGradGuard ng;
    for (int i = 0; i < 5; ++i) sn.normalized_weight(true);
  }
  auto f = [&](const std::vector<Tensor>&) { return sn.normalized_weight(false); };
  auto r = autograd::gradcheck(f, {sn.weight_orig});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("spectral-norm discriminator trains its u buffer and is deterministic") {
  ModelConfig c = tiny(28, 1);
  c.spectral_norm = true;
  c.d_norm = "none";
  Generator g1(5), g2(5);
  DcganDiscriminator D1(c, g1), D2(c, g2);
  Tensor x = randn({2, 1, 28, 28}, g1);
  Tensor u0 = D1.state_dict().at("main.0.weight_u").clone();
  Tensor y1 = D1(x), y2 = D2(x);
  CHECK(same_values(y1, y2));
  CHECK_FALSE(same_values(u0, D1.state_dict().at("main.0.weight_u")));
}

TEST_CASE("EMA: a moving average of parameters and running statistics; loads into a fresh generator") {
  Generator gen(2);
  ModelConfig c = tiny(28, 1);
  DcganGenerator G(c, gen);
  Ema ema(G, 0.75);
  Tensor w0 = G.state_dict().at("main.0.weight").clone();
  {
    NoGradGuard ng;
    G.state_dict().at("main.0.weight").copy_(add(w0, 1.0));
    G.state_dict().at("main.1.running_mean").fill_(4.0);
  }
  ema.update(G);
  // 0.75 * w0 + 0.25 * (w0 + 1) = w0 + 0.25
  std::vector<double> got = ema.state_dict().at("main.0.weight").to_vector<double>();
  std::vector<double> want = add(w0, 0.25).to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-6));
  CHECK(ema.state_dict().at("main.1.running_mean").to_vector<double>()[0] == doctest::Approx(1.0));  // 0.25 * 4
  Generator other(9);
  DcganGenerator fresh(c, other);
  fresh.load_state_dict(ema.state_dict());
  CHECK(same_values(fresh.state_dict().at("main.0.weight"), ema.state_dict().at("main.0.weight")));
  // Warm-up: the 1st update (n = 0) keeps only 1/10 of the old average.
  Ema warm(G, 0.999);
  {
    NoGradGuard ng;
    G.state_dict().at("main.0.weight").copy_(w0);
  }
  warm.update(G, 0);  // d = min(0.999, 1 / 10)
  std::vector<double> w_now = w0.to_vector<double>();
  std::vector<double> w_old = add(w0, 1.0).to_vector<double>();
  std::vector<double> got_warm = warm.state_dict().at("main.0.weight").to_vector<double>();
  for (size_t i = 0; i < got_warm.size(); ++i)
    REQUIRE(got_warm[i] == doctest::Approx(0.1 * w_old[i] + 0.9 * w_now[i]).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(Ema(G, 1.0), doctest::Contains("'beta' must be in [0, 1)"), Error);
}

TEST_CASE("adversarial losses match their formulas") {
  Tensor r = from_vector(std::vector<float>{2.0f, -1.0f, 0.5f}, {3});
  Tensor f = from_vector(std::vector<float>{-0.5f, 1.5f, 0.0f}, {3});
  auto sp = [](double x) { return std::log1p(std::exp(x)); };
  auto mean3 = [](double a, double b, double c) { return (a + b + c) / 3; };
  const double rv[3] = {2.0, -1.0, 0.5}, fv[3] = {-0.5, 1.5, 0.0};
  // Tolerance: float32 evaluation of a few transcendental terms.
  const double eps = 1e-6;
  CHECK(discriminator_loss(LossKind::nonsaturating, r, f).item() ==
        doctest::Approx(mean3(sp(-rv[0]), sp(-rv[1]), sp(-rv[2])) + mean3(sp(fv[0]), sp(fv[1]), sp(fv[2]))).epsilon(eps));
  CHECK(generator_loss(LossKind::nonsaturating, f).item() ==
        doctest::Approx(mean3(sp(-fv[0]), sp(-fv[1]), sp(-fv[2]))).epsilon(eps));
  auto relu = [](double x) { return x > 0 ? x : 0; };
  CHECK(discriminator_loss(LossKind::hinge, r, f).item() ==
        doctest::Approx(mean3(relu(1 - rv[0]), relu(1 - rv[1]), relu(1 - rv[2])) +
                        mean3(relu(1 + fv[0]), relu(1 + fv[1]), relu(1 + fv[2]))).epsilon(eps));
  CHECK(generator_loss(LossKind::hinge, f).item() == doctest::Approx(-mean3(fv[0], fv[1], fv[2])).epsilon(eps));
  auto sq = [](double x) { return x * x; };
  CHECK(discriminator_loss(LossKind::lsgan, r, f).item() ==
        doctest::Approx(0.5 * mean3(sq(rv[0] - 1), sq(rv[1] - 1), sq(rv[2] - 1)) +
                        0.5 * mean3(sq(fv[0]), sq(fv[1]), sq(fv[2]))).epsilon(eps));
  CHECK(generator_loss(LossKind::lsgan, f).item() ==
        doctest::Approx(0.5 * mean3(sq(fv[0] - 1), sq(fv[1] - 1), sq(fv[2] - 1))).epsilon(eps));
  CHECK(discriminator_loss(LossKind::wgan_gp, r, f).item() ==
        doctest::Approx(mean3(fv[0], fv[1], fv[2]) - mean3(rv[0], rv[1], rv[2])).epsilon(eps));
  CHECK(generator_loss(LossKind::wgan_gp, f).item() == doctest::Approx(-mean3(fv[0], fv[1], fv[2])).epsilon(eps));
  CHECK(discriminator_score(LossKind::nonsaturating, zeros({4})) == doctest::Approx(0.5));
  CHECK(parse_loss("bce") == LossKind::nonsaturating);
  CHECK(std::string(loss_name(parse_loss("wgan-gp"))) == "wgan-gp");
  CHECK_THROWS_WITH_AS(parse_loss("wgan"), doctest::Contains("expected one of nonsaturating (or bce), hinge, lsgan, "
                                                             "wgan-gp; got 'wgan'"), Error);
  CHECK_THROWS_WITH_AS(discriminator_loss(LossKind::hinge, zeros({2, 1}), f),
                       doctest::Contains("'real_logits' must be a non-empty 1-d tensor"), Error);
}

TEST_CASE("gradient penalty of a linear critic is (||w|| - 1)^2 exactly") {
  // critic(x)_i = <w, x_i>: its input gradient is w for every sample and every interpolate.
  Generator gen(11);
  Tensor w = randn({1, 2, 3, 3}, gen, TensorOptions(DType::f64));
  auto critic = [&](const Tensor& x) { return sum(mul(x, w), {1, 2, 3}); };
  Tensor real = randn({4, 2, 3, 3}, gen, TensorOptions(DType::f64));
  Tensor fake = randn({4, 2, 3, 3}, gen, TensorOptions(DType::f64));
  Tensor alpha = rand({4}, gen, TensorOptions(DType::f64));
  const double norm = std::sqrt(sum(mul(w, w)).item());
  CHECK(gradient_penalty(critic, real, fake, alpha).item() == doctest::Approx((norm - 1) * (norm - 1)).epsilon(1e-9));
  CHECK_THROWS_WITH_AS(gradient_penalty(critic, real, fake, rand({3}, gen)), doctest::Contains("'alpha' must be (4)"),
                       Error);
  CHECK_THROWS_WITH_AS(gradient_penalty(critic, real, zeros({4, 2, 3, 2}), alpha),
                       doctest::Contains("'fake' must have the shape of 'real'"), Error);
}

TEST_CASE("gradient penalty: its gradient in the critic's weights matches finite differences (double backprop)") {
  // A conv -> leaky relu -> linear critic in float64; gradcheck perturbs the
  // weights and re-evaluates the penalty, whose own evaluation differentiates
  // the critic once (create_graph), so the analytic side is a second-order gradient.
  Generator gen(12);
  TensorOptions f64(DType::f64);
  Tensor w1 = mul(randn({3, 2, 3, 3}, gen, f64), 0.5).requires_grad_();
  Tensor b1 = mul(randn({3}, gen, f64), 0.1).requires_grad_();
  Tensor w2 = mul(randn({1, 3 * 3 * 3}, gen, f64), 0.5).requires_grad_();
  Tensor real = randn({2, 2, 5, 5}, gen, f64), fake = randn({2, 2, 5, 5}, gen, f64);
  Tensor alpha = from_vector(std::vector<double>{0.3, 0.8}, {2}, f64);
  Conv2dParams p;
  p.stride_h = p.stride_w = 1;
  auto critic = [&](const Tensor& x) {
    Tensor h = leaky_relu(conv2d(x, w1, b1, p), 0.2);
    return linear(h.flatten(1), w2).reshape({x.size(0)});
  };
  auto f = [&](const std::vector<Tensor>&) { return gradient_penalty(critic, real, fake, alpha); };
  auto r = autograd::gradcheck(f, {w1, b1, w2}, 1e-6, 1e-6, 1e-4);
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("gradient penalty through a spectral-norm DCGAN critic matches finite differences") {
  ModelConfig c = tiny(28, 1, 2);
  c.d_norm = "none";
  c.spectral_norm = true;
  Generator gen(13);
  DcganDiscriminator D(c, gen);
  D.to(DType::f64);
  D.eval();  // u, v fixed: the function gradcheck probes must not change between evaluations
  TensorOptions f64(DType::f64);
  Tensor real = randn({2, 1, 28, 28}, gen, f64), fake = randn({2, 1, 28, 28}, gen, f64);
  Tensor alpha = from_vector(std::vector<double>{0.25, 0.6}, {2}, f64);
  auto critic = [&](const Tensor& x) { return D(x); };
  auto f = [&](const std::vector<Tensor>&) { return mul(gradient_penalty(critic, real, fake, alpha), 100.0); };
  std::vector<Tensor> params = D.parameters();
  auto r = autograd::gradcheck(f, params, 1e-6, 1e-5, 1e-4);
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("Jacobi eigen-decomposition reconstructs a symmetric matrix (7x7)") {
  const int n = 7;
  Generator gen(21);
  std::vector<double> r = randn({n, n}, gen, TensorOptions(DType::f64)).to_vector<double>();
  std::vector<double> a(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a[i * n + j] = r[i * n + j] + r[j * n + i];
  SymmetricEigen e = symmetric_eigen(a, n);
  for (int j = 1; j < n; ++j) CHECK(e.values[j - 1] <= e.values[j]);
  double worst = 0, worst_orth = 0;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      double rec = 0, dot = 0;
      for (int j = 0; j < n; ++j) {
        rec += e.vectors[i * n + j] * e.values[j] * e.vectors[k * n + j];
        dot += e.vectors[j * n + i] * e.vectors[j * n + k];
      }
      worst = std::max(worst, std::abs(rec - a[i * n + k]));
      worst_orth = std::max(worst_orth, std::abs(dot - (i == k ? 1.0 : 0.0)));
    }
  // Double precision rotations on O(1) entries: errors of a few ulps times n.
  CHECK(worst < 1e-12);
  CHECK(worst_orth < 1e-12);
  std::vector<double> s = sqrtm_psd(std::vector<double>{4, 0, 0, 0, 9, 0, 0, 0, 0}, 3);
  CHECK(s[0] == doctest::Approx(2));
  CHECK(s[4] == doctest::Approx(3));
  CHECK(s[8] == doctest::Approx(0));
  CHECK_THROWS_WITH_AS(symmetric_eigen({1, 2, 3, 4}, 2), doctest::Contains("not symmetric"), Error);
  CHECK_THROWS_WITH_AS(symmetric_eigen({1, 2, 3}, 2), doctest::Contains("must hold n x n = 4 values, got 3"), Error);
}

TEST_CASE("Frechet distance matches closed forms") {
  GaussianStats a, b;
  a.dim = b.dim = 2;
  a.mean = {1, 2};
  b.mean = {0, 0};
  // Diagonal: |mu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  a.cov = {4, 0, 0, 1};
  b.cov = {1, 0, 0, 9};
  CHECK(frechet_distance(a, b) == doctest::Approx(5 + 1 + 4).epsilon(1e-12));
  CHECK(frechet_distance(a, a) == doctest::Approx(0).epsilon(1e-12));
  // Non-commuting covariances: Tr sqrt(A B) from the 2x2 closed form.
  a.cov = {2, 0.5, 0.5, 1};
  b.cov = {1, -0.3, -0.3, 3};
  const double ab[4] = {2 * 1 + 0.5 * -0.3, 2 * -0.3 + 0.5 * 3, 0.5 * 1 + 1 * -0.3, 0.5 * -0.3 + 1 * 3};
  const double want = 5 + (2 + 1) + (1 + 3) - 2 * trace_sqrt_2x2(ab);
  CHECK(frechet_distance(a, b) == doctest::Approx(want).epsilon(1e-12));
  // gaussian_stats: the mean and the unbiased covariance of the rows.
  Tensor f = from_vector(std::vector<float>{1, 2, 3, 6, 5, 4}, {3, 2});
  GaussianStats s = gaussian_stats(f);
  CHECK(s.mean[0] == doctest::Approx(3));
  CHECK(s.mean[1] == doctest::Approx(4));
  // Centred rows (-2, -2), (0, 2), (2, 0), divided by n - 1 = 2.
  CHECK(s.cov[0] == doctest::Approx(4));
  CHECK(s.cov[1] == doctest::Approx(2));
  CHECK(s.cov[2] == doctest::Approx(2));
  CHECK(s.cov[3] == doctest::Approx(4));
  CHECK_THROWS_WITH_AS(gaussian_stats(zeros({1, 3})), doctest::Contains("at least 2 rows"), Error);
}

TEST_CASE("slerp: endpoints, constant norm between equal-norm latents, linear when parallel") {
  Tensor a = from_vector(std::vector<float>{1, 0, 0}, {3}), b = from_vector(std::vector<float>{0, 1, 0}, {3});
  CHECK(same_values(slerp(a, b, 0), a));
  std::vector<float> end = slerp(a, b, 1).to_vector<float>();
  CHECK(end[1] == doctest::Approx(1));
  std::vector<float> mid = slerp(a, b, 0.5).to_vector<float>();
  CHECK(mid[0] == doctest::Approx(std::sqrt(0.5)));
  CHECK(mid[1] == doctest::Approx(std::sqrt(0.5)));
  std::vector<float> par = slerp(a, mul(a, 3.0), 0.5).to_vector<float>();
  CHECK(par[0] == doctest::Approx(2));
  CHECK_THROWS_WITH_AS(slerp(a, b, 1.5), doctest::Contains("t must be in [0, 1]"), Error);
  // Latents for seeds: one row per seed, reproducible, different seeds differ.
  Tensor z = latents_for_seeds({3, 4, 3}, 5);
  REQUIRE(z.shape() == Shape{3, 5});
  std::vector<float> v = z.to_vector<float>();
  CHECK(std::vector<float>(v.begin(), v.begin() + 5) == std::vector<float>(v.begin() + 10, v.end()));
  CHECK(std::vector<float>(v.begin(), v.begin() + 5) != std::vector<float>(v.begin() + 5, v.begin() + 10));
}

TEST_CASE("loss plot: coloured curves, axes and labels on white") {
  PlotSeries d{"D", {0, 50, 100}, {1.4, 0.9, 1.1}, 1, 0, 0};
  PlotSeries g{"G", {0, 50, 100}, {0.7, 2.0, 1.5}, 0, 0, 1};
  Tensor img = plot_lines({d, g}, 400, 200);
  REQUIRE(img.shape() == Shape{3, 200, 400});
  std::vector<float> px = img.to_vector<float>();
  const size_t plane = 200 * 400;
  int red = 0, blue = 0, black = 0, white = 0;
  for (size_t i = 0; i < plane; ++i) {
    const float r = px[i], gg = px[plane + i], b = px[2 * plane + i];
    if (r == 1 && gg == 0 && b == 0) ++red;
    if (r == 0 && gg == 0 && b == 1) ++blue;
    if (r == 0 && gg == 0 && b == 0) ++black;
    if (r == 1 && gg == 1 && b == 1) ++white;
  }
  CHECK(red > 200);    // a 2-px polyline across ~320 px, plus the legend box
  CHECK(blue > 200);
  CHECK(black > 400);  // axes, ticks and tick labels
  CHECK(white > static_cast<int>(plane) / 2);
  Tensor canvas = full({3, 10, 20}, 1.0);
  CHECK(draw_text(canvas, "12", 0, 0, 1, 0, 0, 0) == 8);
  CHECK(canvas.to_vector<float>()[0] == 1.0f);  // '1' has its top-left pixel off ...
  CHECK(canvas.to_vector<float>()[1] == 0.0f);  // ... and the next one on
  PlotSeries bad{"X", {0, 1}, {1}, 0, 0, 0};
  CHECK_THROWS_WITH_AS(plot_lines({bad}), doctest::Contains("has 2 x values and 1 y values"), Error);
}
