// test_optim.cpp: optimizer steps against hand-computed numbers, L-BFGS and
// Adam on a quadratic and on the Rosenbrock function, learning-rate
// schedules, gradient clipping, and state_dict round trips that must
// reproduce the following steps exactly.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "nn/optim.h"

using namespace gesso;
using namespace gesso::nn;

namespace {

TensorOptions f64() { return TensorOptions(DType::f64); }

Tensor param(std::vector<double> v) {
  Shape s = {static_cast<int64_t>(v.size())};
  return from_vector(v, s, f64().grad());
}

void set_grad(Tensor& p, std::vector<double> g) { p.set_grad(from_vector(g, p.shape(), TensorOptions(p.dtype()))); }

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Rosenbrock's banana, minimum 0 at (1, 1).
Tensor rosenbrock(const Tensor& p) {
  Tensor x = p.narrow(0, 0, 1), y = p.narrow(0, 1, 1);
  return sum(pow(1.0 - x, 2.0) + 100.0 * pow(y - x * x, 2.0));
}

Closure loss_closure(Tensor p, std::function<Tensor(const Tensor&)> f) {
  return [p, f]() mutable {
    p.zero_grad();
    Tensor loss = f(p);
    loss.backward();
    return loss;
  };
}

}  // namespace

TEST_CASE("SGD: plain, momentum with weight decay, dampening, Nesterov (hand-computed)") {
  SUBCASE("plain") {
    Tensor p = param({1, -2});
    SGD opt({p}, SgdOptions(0.1));
    set_grad(p, {0.5, 0.25});
    opt.step();
    CHECK(values(p)[0] == doctest::Approx(0.95));
    CHECK(values(p)[1] == doctest::Approx(-2.025));
  }
  SUBCASE("momentum 0.9, weight decay 0.1") {
    Tensor p = param({1, -2});
    SGD opt({p}, SgdOptions(0.1).momentum(0.9).weight_decay(0.1));
    set_grad(p, {0.5, 0.25});
    opt.step();  // d = g + 0.1 p = (0.6, 0.05) = buf; p = (0.94, -2.005)
    CHECK(values(p)[0] == doctest::Approx(0.94));
    CHECK(values(p)[1] == doctest::Approx(-2.005));
    opt.step();  // d = (0.594, 0.0495); buf = 0.9 (0.6, 0.05) + d = (1.134, 0.0945)
    CHECK(values(p)[0] == doctest::Approx(0.8266));
    CHECK(values(p)[1] == doctest::Approx(-2.01445));
  }
  SUBCASE("dampening 0.5: not applied on the first step") {
    Tensor p = param({1});
    SGD opt({p}, SgdOptions(0.1).momentum(0.9).dampening(0.5));
    set_grad(p, {1.0});
    opt.step();  // buf = 1
    CHECK(values(p)[0] == doctest::Approx(0.9));
    opt.step();  // buf = 0.9 + 0.5 = 1.4
    CHECK(values(p)[0] == doctest::Approx(0.76));
  }
  SUBCASE("Nesterov") {
    Tensor p = param({1, -2});
    SGD opt({p}, SgdOptions(0.1).momentum(0.9).nesterov(true));
    set_grad(p, {0.5, 0.25});
    opt.step();  // buf = g; d = g + 0.9 g = 1.9 g
    CHECK(values(p)[0] == doctest::Approx(0.905));
    CHECK(values(p)[1] == doctest::Approx(-2.0475));
    opt.step();  // buf = 1.9 g; d = g + 0.9 * 1.9 g = 2.71 g
    CHECK(values(p)[0] == doctest::Approx(0.7695));
    CHECK(values(p)[1] == doctest::Approx(-2.11525));
  }
  SUBCASE("float32 parameters take the same path") {
    Tensor p = from_vector(std::vector<float>{1, -2}, {2}, TensorOptions().grad());
    SGD opt({p}, SgdOptions(0.1));
    set_grad(p, {0.5, 0.25});
    opt.step();
    CHECK(values(p)[0] == doctest::Approx(0.95).epsilon(1e-6));
  }
}

TEST_CASE("Adam and AdamW single steps (hand-computed)") {
  SUBCASE("Adam: the first step moves each weight by lr in the direction of -sign(g)") {
    Tensor p = param({1, -2});
    Adam opt({p}, AdamOptions(0.1));
    set_grad(p, {0.5, 0.25});
    opt.step();
    const double p1 = values(p)[0];
    // m_hat = g, v_hat = g^2: p -= lr * g / (|g| + eps)
    CHECK(values(p)[0] == doctest::Approx(1 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    CHECK(values(p)[1] == doctest::Approx(-2 - 0.1 * 0.25 / (0.25 + 1e-8)).epsilon(1e-14));
    // Second step with g = -0.5 on the first weight:
    // m = 0.9 * 0.05 - 0.05 = -0.005, v = 0.999 * 0.00025 + 0.001 * 0.25 = 0.00049975
    set_grad(p, {-0.5, 0.25});
    opt.step();
    double m_hat = -0.005 / (1 - 0.81), v_hat = 0.00049975 / (1 - 0.998001);
    double expected = p1 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
    CHECK(values(p)[0] == doctest::Approx(expected).epsilon(1e-9));
    CHECK(values(p)[0] == doctest::Approx(0.905263).epsilon(1e-5));
  }
  SUBCASE("Adam's weight decay enters the gradient") {
    Tensor p = param({1, -2});
    Adam opt({p}, AdamOptions(0.1).weight_decay(0.1));
    set_grad(p, {0.5, 0.25});  // g + 0.1 p = (0.6, 0.05): both positive
    opt.step();
    CHECK(values(p)[0] == doctest::Approx(0.9));
    CHECK(values(p)[1] == doctest::Approx(-2.1));
  }
  SUBCASE("AdamW decays the weights directly") {
    Tensor p = param({1, -2});
    AdamW opt({p}, AdamOptions(0.1).weight_decay(0.1));
    set_grad(p, {0.5, 0.25});
    opt.step();  // p * (1 - 0.01) - 0.1 * sign(g)
    CHECK(values(p)[0] == doctest::Approx(0.89));
    CHECK(values(p)[1] == doctest::Approx(-2.08));
    CHECK(opt.type_name() == "AdamW");
  }
  SUBCASE("parameters without a gradient are skipped and get no state") {
    Tensor a = param({1}), b = param({5});
    Adam opt({a, b}, AdamOptions(0.1));
    set_grad(a, {1.0});
    opt.step();
    CHECK(values(b)[0] == 5.0);
    StateDict sd = opt.state_dict();
    CHECK(sd.count("state.0.exp_avg") == 1);
    CHECK(sd.count("state.1.exp_avg") == 0);
    // Once b gets a gradient, its bias correction starts at its own step 1.
    set_grad(b, {2.0});
    opt.step();
    CHECK(values(b)[0] == doctest::Approx(4.9));
  }
}

TEST_CASE("L-BFGS minimises a quadratic and the Rosenbrock function") {
  SUBCASE("quadratic 0.5 x'Ax - b'x with A = diag(1, 10, 100)") {
    Tensor x = param({3, -1, 2});
    Tensor a = from_vector(std::vector<double>{1, 10, 100}, {3}, f64());
    Tensor b = from_vector(std::vector<double>{1, 2, 3}, {3}, f64());
    // Tight tolerances: with the defaults the loss change (~1e-12) stops it at ~1e-6 from the optimum.
    LBFGS opt({x}, LbfgsOptions().max_iter(50).tolerance_grad(1e-12).tolerance_change(1e-16));
    opt.step(loss_closure(x, [a, b](const Tensor& v) { return sum(0.5 * a * v * v - b * v); }));
    CAPTURE(opt.iterations());
    CHECK(values(x)[0] == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(values(x)[1] == doctest::Approx(0.2).epsilon(1e-9));
    CHECK(values(x)[2] == doctest::Approx(0.03).epsilon(1e-9));
    CHECK(opt.iterations() < 20);
  }
  SUBCASE("Rosenbrock from (-1.5, 2), float64: to (1, 1) within 1e-4 in < 100 iterations") {
    Tensor p = param({-1.5, 2.0});
    LBFGS opt({p}, LbfgsOptions().max_iter(100));
    opt.step(loss_closure(p, rosenbrock));
    auto v = values(p);
    CAPTURE(v[0]);
    CAPTURE(v[1]);
    CAPTURE(opt.iterations());
    CHECK(std::abs(v[0] - 1) < 1e-4);
    CHECK(std::abs(v[1] - 1) < 1e-4);
    CHECK(opt.iterations() < 100);
  }
  SUBCASE("Rosenbrock in float32, over several step() calls (state carried across)") {
    Tensor p = from_vector(std::vector<float>{-1.5f, 2.0f}, {2}, TensorOptions().grad());
    LBFGS opt({p}, LbfgsOptions().max_iter(10));
    for (int i = 0; i < 10; ++i) opt.step(loss_closure(p, rosenbrock));
    auto v = values(p);
    CAPTURE(v[0]);
    CAPTURE(v[1]);
    CHECK(std::abs(v[0] - 1) < 1e-3);  // float32: the loss stalls near 1e-7
    CHECK(std::abs(v[1] - 1) < 2e-3);
  }
  SUBCASE("without a line search it still converges on the quadratic") {
    Tensor x = param({3, -1, 2});
    Tensor a = from_vector(std::vector<double>{1, 2, 3}, {3}, f64());
    LBFGS opt({x}, LbfgsOptions().max_iter(100).line_search(LineSearch::none));
    opt.step(loss_closure(x, [a](const Tensor& v) { return sum(a * v * v); }));
    for (double v : values(x)) CHECK(std::abs(v) < 1e-5);
  }
  SUBCASE("step() without a closure is refused clearly") {
    Tensor p = param({1});
    LBFGS opt({p});
    CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("call step(closure)"), Error);
  }
}

TEST_CASE("Adam minimises a quadratic and makes its way along Rosenbrock's valley") {
  Tensor x = param({3, -1, 2});
  Tensor c = from_vector(std::vector<double>{0.5, -0.25, 1}, {3}, f64());
  Adam opt({x}, AdamOptions(0.05));
  for (int i = 0; i < 600; ++i) opt.step(loss_closure(x, [c](const Tensor& v) { return sum(pow(v - c, 2.0)); }));
  auto v = values(x);
  CHECK(v[0] == doctest::Approx(0.5).epsilon(1e-3));
  CHECK(v[1] == doctest::Approx(-0.25).epsilon(1e-3));
  CHECK(v[2] == doctest::Approx(1.0).epsilon(1e-3));

  Tensor p = param({-1.5, 2.0});
  Adam ropt({p}, AdamOptions(0.02));
  double first = rosenbrock(p).item();
  for (int i = 0; i < 4000; ++i) ropt.step(loss_closure(p, rosenbrock));
  auto r = values(p);
  CAPTURE(r[0]);
  CAPTURE(r[1]);
  CHECK(rosenbrock(p).item() < 1e-3 * first);
  CHECK(std::abs(r[0] - 1) < 0.05);
  CHECK(std::abs(r[1] - 1) < 0.1);
}

TEST_CASE("learning-rate schedules") {
  Tensor p = param({1});
  SUBCASE("StepLR: gamma every step_size epochs") {
    SGD opt({p}, SgdOptions(1.0));
    StepLR sched(opt, 3, 0.5);
    std::vector<double> lrs = {opt.lr()};
    for (int e = 0; e < 6; ++e) {
      sched.step();
      lrs.push_back(opt.lr());
    }
    std::vector<double> expected = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
    for (size_t i = 0; i < expected.size(); ++i) CHECK(lrs[i] == doctest::Approx(expected[i]));
    // The schedule's state restores the lr.
    SGD opt2({p}, SgdOptions(1.0));
    StepLR sched2(opt2, 3, 0.5);
    sched2.load_state_dict(sched.state_dict());
    CHECK(opt2.lr() == doctest::Approx(0.25));
    CHECK(sched2.last_epoch() == 6);
  }
  SUBCASE("CosineAnnealingLR: from base to eta_min over T_max") {
    SGD opt({p}, SgdOptions(1.0));
    CosineAnnealingLR sched(opt, 10, 0.1);
    std::vector<double> lrs = {opt.lr()};
    for (int e = 0; e < 10; ++e) {
      sched.step();
      lrs.push_back(opt.lr());
    }
    CHECK(lrs[0] == doctest::Approx(1.0));
    CHECK(lrs[5] == doctest::Approx(0.55));
    CHECK(lrs[10] == doctest::Approx(0.1));
    CHECK(lrs[2] == doctest::Approx(0.1 + 0.9 * (1 + std::cos(M_PI * 0.2)) / 2));
    for (int e = 1; e <= 10; ++e) CHECK(lrs[e] < lrs[e - 1]);
  }
}

TEST_CASE("clip_grad_norm_ returns the total norm and scales only when above max_norm") {
  Tensor a = param({0, 0}), b = param({0}), c = param({7});  // c has no grad: ignored
  set_grad(a, {3, 4});
  set_grad(b, {12});
  CHECK(clip_grad_norm_({a, b, c}, 100.0) == doctest::Approx(13.0));
  CHECK(values(a.grad())[0] == doctest::Approx(3.0));  // unchanged
  CHECK(clip_grad_norm_({a, b, c}, 6.5) == doctest::Approx(13.0));
  CHECK(values(a.grad())[0] == doctest::Approx(1.5).epsilon(1e-6));
  CHECK(values(a.grad())[1] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(values(b.grad())[0] == doctest::Approx(6.0).epsilon(1e-6));
  CHECK(clip_grad_norm_({a, b}, 100.0, INFINITY) == doctest::Approx(6.0).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(clip_grad_norm_({a}, -1.0), doctest::Contains("'max_norm' must be >= 0"), Error);
}

TEST_CASE("optimizer state_dict round trip gives identical subsequent steps") {
  // Gradients for each step, fixed in advance.
  Generator gen(42);
  std::vector<Tensor> grads_w, grads_b;
  for (int s = 0; s < 6; ++s) {
    grads_w.push_back(randn({3, 2}, gen));
    grads_b.push_back(randn({2}, gen));
  }
  auto run = [&](Optimizer& opt, Tensor& w, Tensor& b, int from, int to) {
    for (int s = from; s < to; ++s) {
      w.set_grad(grads_w[s].clone());
      if (s % 2 == 0) b.set_grad(grads_b[s].clone());  // b skips odd steps
      else b.zero_grad();
      opt.step();
    }
  };
  auto check_same = [](const Tensor& x, const Tensor& y) {
    auto a = x.to_vector<float>(), c = y.to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == c[i]);  // bit-identical
  };
  auto make = [](const char* kind, std::vector<Tensor> ps) -> std::unique_ptr<Optimizer> {
    std::string k = kind;
    if (k == "sgd") return std::make_unique<SGD>(ps, SgdOptions(0.05).momentum(0.9).nesterov(true));
    if (k == "adam") return std::make_unique<Adam>(ps, AdamOptions(0.01));
    return std::make_unique<AdamW>(ps, AdamOptions(0.01).weight_decay(0.05));
  };
  for (const char* kind : {"sgd", "adam", "adamw"}) {
    CAPTURE(kind);
    Generator pg(7);
    Tensor w = randn({3, 2}, pg, TensorOptions().grad()), b = randn({2}, pg, TensorOptions().grad());
    auto opt = make(kind, {w, b});
    run(*opt, w, b, 0, 3);
    StateDict saved = opt->state_dict();
    Tensor w_saved = w.detach().clone(), b_saved = b.detach().clone();
    run(*opt, w, b, 3, 6);  // continues; must not disturb `saved`

    Tensor w2 = w_saved.clone().requires_grad_(), b2 = b_saved.clone().requires_grad_();
    auto opt2 = make(kind, {w2, b2});
    opt2->load_state_dict(saved);
    CHECK(opt2->steps() == 3);
    run(*opt2, w2, b2, 3, 6);
    check_same(w, w2);
    check_same(b, b2);
  }
}

TEST_CASE("L-BFGS state_dict round trip continues identically") {
  Tensor p = param({-1.5, 2.0});
  LBFGS opt({p}, LbfgsOptions().max_iter(4));
  opt.step(loss_closure(p, rosenbrock));
  opt.step(loss_closure(p, rosenbrock));
  StateDict saved = opt.state_dict();
  Tensor p_saved = p.detach().clone();
  opt.step(loss_closure(p, rosenbrock));

  Tensor q = p_saved.clone().requires_grad_();
  LBFGS opt2({q}, LbfgsOptions().max_iter(4));
  opt2.load_state_dict(saved);
  opt2.step(loss_closure(q, rosenbrock));
  CHECK(values(q)[0] == values(p)[0]);
  CHECK(values(q)[1] == values(p)[1]);
  CHECK(opt2.iterations() == opt.iterations());
}

TEST_CASE("optimizer bad input and mismatched state") {
  Tensor p = param({1, 2});
  CHECK_THROWS_WITH_AS(SGD({}, SgdOptions(0.1)), doctest::Contains("parameter list is empty"), Error);
  CHECK_THROWS_WITH_AS(SGD({p}, SgdOptions(0.1).nesterov(true)), doctest::Contains("Nesterov momentum needs momentum > 0"),
                       Error);
  CHECK_THROWS_WITH_AS(SGD({p, p}, SgdOptions(0.1)), doctest::Contains("appears twice"), Error);
  CHECK_THROWS_WITH_AS(Adam({p}, AdamOptions(0.1).betas(1.0, 0.9)), doctest::Contains("'beta1' must be in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(SGD({p * 2.0}, SgdOptions(0.1)), doctest::Contains("not a leaf"), Error);

  Adam opt({p}, AdamOptions(0.1));
  set_grad(p, {1, 1});
  opt.step();
  StateDict sd = opt.state_dict();
  Tensor other = param({1, 2, 3});
  Adam opt2({other}, AdamOptions(0.1));
  CHECK_THROWS_WITH_AS(opt2.load_state_dict(sd),
                       doctest::Contains("'state.0.exp_avg' has shape (2,), parameter 0 has shape (3,)"), Error);
  StateDict extra = sd;
  extra["state.4.exp_avg"] = zeros({2});
  CHECK_THROWS_WITH_AS(opt.load_state_dict(extra), doctest::Contains("names parameter 4, but this optimizer has 1"),
                       Error);
  StateDict no_step = sd;
  no_step.erase("step");
  CHECK_THROWS_WITH_AS(opt.load_state_dict(no_step), doctest::Contains("has no 'step'"), Error);
  // A failed load leaves the optimizer as it was.
  CHECK(opt.steps() == 1);
}
