// test_dropout.cpp: dropout's mask (fraction kept, scaling, the Philox
// stream it comes from), determinism per seed, the identity cases,
// gradient g * keep / (1 - p), gradcheck with a fixed mask, bad p.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/random.h"

using namespace gesso;

TEST_CASE("dropout keeps about 1 - p of the elements and scales them by 1 / (1 - p)") {
  for (DType dt : {DType::f32, DType::f64}) {
    const int64_t n = 100001;  // odd, and above the parallel threshold
    for (double p : {0.1, 0.5, 0.9}) {
      Generator gen(42);
      Tensor x = full({n}, 2.0, dt);
      std::vector<double> y = dropout(x, p, true, gen).to_vector<double>();
      int64_t kept = 0;
      bool values_ok = true;
      for (double v : y) {
        if (v != 0) {
          ++kept;
          values_ok = values_ok && std::abs(v - 2.0 / (1 - p)) <= 1e-6 * v;
        }
      }
      CHECK(values_ok);
      // Binomial(n, 1 - p): 5 standard deviations is at most ~790 here.
      double expected = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
      CHECK(std::abs(kept - expected) < 5 * sd);
      CHECK(gen.offset == static_cast<uint64_t>((n + 3) / 4));  // the generator advanced past the draw
    }
  }
}

TEST_CASE("dropout's mask is Philox element i at the generator's offset, the same for the same seed") {
  Generator gen(7);
  gen.advance(10);  // not at the stream's start
  uint64_t offset = gen.offset;
  Tensor x = ones({3, 5, 7}, DType::f64);
  std::vector<double> y = dropout(x, 0.3, true, gen).to_vector<double>();
  for (int64_t i = 0; i < 105; ++i) {
    bool keep = kernels::philox_uniform_at(7, offset, i) >= 0.3;
    CHECK(y[i] == (keep ? 1.0 / 0.7 : 0.0));
  }
  Generator a(9), b(9), c(10);
  Tensor z = ones({1000});
  CHECK(dropout(z, 0.5, true, a).to_vector<float>() == dropout(z, 0.5, true, b).to_vector<float>());
  CHECK(dropout(z, 0.5, true, a).to_vector<float>() != dropout(z, 0.5, true, c).to_vector<float>());
}

TEST_CASE("dropout is the identity in eval mode and at p = 0; non-contiguous input works") {
  Generator gen(1);
  Tensor x = randn({4, 6}, gen);
  CHECK(dropout(x, 0.5, false, gen).to_vector<float>() == x.to_vector<float>());
  CHECK(dropout(x, 0.0, true, gen).to_vector<float>() == x.to_vector<float>());
  Tensor xt = x.transpose(0, 1);
  Generator g1(3), g2(3);
  CHECK(dropout(xt, 0.4, true, g1).to_vector<float>() == dropout(xt.contiguous(), 0.4, true, g2).to_vector<float>());
}

TEST_CASE("dropout gradient is g * keep / (1 - p); gradcheck and gradgradcheck with a fixed mask") {
  Generator gen(5);
  Tensor x = randn({3, 1, 5}, gen, TensorOptions(DType::f64).grad());
  Generator mask_gen(8);
  Tensor y = dropout(x, 0.25, true, mask_gen);
  Tensor gx = autograd::grad({sum(y)}, {x})[0];
  std::vector<double> yv = y.to_vector<double>(), gv = gx.to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) CHECK(gv[i] == (yv[i] != 0 ? 1.0 / 0.75 : 0.0));

  // A fresh generator per call: every evaluation draws the same mask.
  autograd::TestFn f = [](const std::vector<Tensor>& v) {
    Generator g(8);
    return dropout(v[0] * v[0], 0.25, true, g);
  };
  auto r = autograd::gradcheck(f, {x});
  CHECK_MESSAGE(r.ok, r.report);
  auto r2 = autograd::gradgradcheck(f, {x});
  CHECK_MESSAGE(r2.ok, r2.report);
}

TEST_CASE("dropout rejects p outside [0, 1)") {
  Generator gen(0);
  Tensor x = ones({3});
  CHECK_THROWS_WITH_AS(dropout(x, 1.0, true, gen), doctest::Contains("dropout: argument 'p' must be in [0, 1), got 1"),
                       Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, true, gen), doctest::Contains("got -0.1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, std::nan(""), false, gen), doctest::Contains("'p' must be in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(dropout(Tensor(), 0.5, true, gen), doctest::Contains("undefined"), Error);
}
