// test_norm.cpp: batch_norm, instance_norm and layer_norm against plain
// double-precision references at small odd shapes; running statistics;
// eval mode; the fused and the composed backward against each other;
// gradcheck / gradgradcheck in float64; bad input.
#include <doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace gesso;

namespace {

// Plain two-pass statistics in double.
struct RefStats {
  std::vector<double> mean, var;  // biased
};

// Batch-norm reference: x (N, C, HW), statistics per channel.
RefStats ref_channel_stats(const std::vector<double>& x, int64_t N, int64_t C, int64_t HW) {
  RefStats s;
  s.mean.assign(C, 0.0);
  s.var.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s.mean[c] += x[(n * C + c) * HW + i];
    s.mean[c] /= static_cast<double>(N * HW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        double d = x[(n * C + c) * HW + i] - s.mean[c];
        s.var[c] += d * d;
      }
    s.var[c] /= static_cast<double>(N * HW);
  }
  return s;
}

// Row reference: x (R, K), statistics per row.
RefStats ref_row_stats(const std::vector<double>& x, int64_t R, int64_t K) {
  RefStats s;
  s.mean.assign(R, 0.0);
  s.var.assign(R, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t k = 0; k < K; ++k) s.mean[r] += x[r * K + k];
    s.mean[r] /= static_cast<double>(K);
    for (int64_t k = 0; k < K; ++k) s.var[r] += (x[r * K + k] - s.mean[r]) * (x[r * K + k] - s.mean[r]);
    s.var[r] /= static_cast<double>(K);
  }
  return s;
}

void check_close(const std::vector<double>& got, const std::vector<double>& ref, double atol, double rtol,
                 const char* what) {
  REQUIRE(got.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(std::abs(got[i] - ref[i]) <= atol + rtol * std::abs(ref[i])) && bad++ < 5)
      FAIL_CHECK(what, " element ", i, ": got ", got[i], " expected ", ref[i]);
  CHECK(bad == 0);
}

TensorOptions f64() { return TensorOptions(DType::f64); }

}  // namespace

TEST_CASE("batch_norm training matches the reference and updates running stats like PyTorch") {
  // HW = 21 runs only the kernels' scalar tail; HW = 63 also their 32-lane main loop.
  for (Shape shape : {Shape{3, 5, 7, 3}, Shape{2, 3, 9, 7}})
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(shape_str(shape));
    const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3], HW = H * W;
    Generator gen(11);
    Tensor x = randn({N, C, H, W}, gen, TensorOptions(dt), 2.0, 3.0);
    Tensor w = randn({C}, gen, TensorOptions(dt)), b = randn({C}, gen, TensorOptions(dt));
    Tensor rm = randn({C}, gen, TensorOptions(dt)), rv = rand({C}, gen, TensorOptions(dt), 0.5, 2.0);
    std::vector<double> rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
    Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/true, /*momentum=*/0.3, /*eps=*/1e-3);

    std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
    RefStats s = ref_channel_stats(xv, N, C, HW);
    std::vector<double> ref(xv.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < HW; ++i) {
          int64_t k = (n * C + c) * HW + i;
          ref[k] = (xv[k] - s.mean[c]) / std::sqrt(s.var[c] + 1e-3) * wv[c] + bv[c];
        }
    // float: inputs of size ~10 normalised to O(1); a few ulps of the inputs.
    double tol = dt == DType::f32 ? 2e-5 : 1e-12;
    check_close(y.to_vector<double>(), ref, tol, tol, "y");

    // Running stats: momentum 0.3, the variance unbiased by count/(count-1).
    const double count = static_cast<double>(N * HW);
    std::vector<double> rm_ref(C), rv_ref(C);
    for (int64_t c = 0; c < C; ++c) {
      rm_ref[c] = 0.7 * rm0[c] + 0.3 * s.mean[c];
      rv_ref[c] = 0.7 * rv0[c] + 0.3 * s.var[c] * count / (count - 1);
    }
    check_close(rm.to_vector<double>(), rm_ref, tol, tol, "running_mean");
    check_close(rv.to_vector<double>(), rv_ref, tol, tol, "running_var");
  }
}

TEST_CASE("batch_norm running stats: hand-computed numbers") {
  // One channel, values 1, 2, 3, 4: mean 2.5, biased var 1.25, unbiased 5/3.
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 1, 2, 1}, f64());
  Tensor rm = zeros({1}, f64()), rv = ones({1}, f64());
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 0.0);
  CHECK(rm.item() == doctest::Approx(0.25));
  CHECK(rv.item() == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0));
  CHECK(y.to_vector<double>()[0] == doctest::Approx(-1.5 / std::sqrt(1.25)));
  // A second step keeps the exponential average going.
  batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 0.0);
  CHECK(rm.item() == doctest::Approx(0.9 * 0.25 + 0.1 * 2.5));
}

TEST_CASE("batch_norm eval mode uses the running statistics and leaves them alone") {
  const int64_t N = 2, C = 3, HW = 5;
  Generator gen(2);
  Tensor x = randn({N, C, HW, 1}, gen, f64());
  Tensor w = randn({C}, gen, f64()), b = randn({C}, gen, f64());
  Tensor rm = randn({C}, gen, f64()), rv = rand({C}, gen, f64(), 0.5, 2.0);
  std::vector<double> rmv = rm.to_vector<double>(), rvv = rv.to_vector<double>();
  Tensor y = batch_norm(x, w, b, rm, rv, /*training=*/false, 0.1, 1e-5);
  std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>(), ref(xv.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        int64_t k = (n * C + c) * HW + i;
        ref[k] = (xv[k] - rmv[c]) / std::sqrt(rvv[c] + 1e-5) * wv[c] + bv[c];
      }
  check_close(y.to_vector<double>(), ref, 1e-12, 1e-12, "eval y");
  check_close(rm.to_vector<double>(), rmv, 0, 0, "running_mean untouched");
  // A single sample is fine in eval mode.
  CHECK_NOTHROW(batch_norm(zeros({1, C, 1, 1}, f64()), w, b, rm, rv, false));
}

TEST_CASE("instance_norm and layer_norm match the reference") {
  const int64_t N = 3, C = 5, H = 3, W = 11, HW = H * W;  // HW = 33: lane loop and tail
  for (DType dt : {DType::f32, DType::f64}) {
    double tol = dt == DType::f32 ? 2e-5 : 1e-12;  // as above: a few ulps of O(10) inputs
    Generator gen(5);
    Tensor x = randn({N, C, H, W}, gen, TensorOptions(dt), -1.0, 4.0);
    Tensor w = randn({C}, gen, TensorOptions(dt)), b = randn({C}, gen, TensorOptions(dt));
    std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();

    Tensor yi = instance_norm(x, w, b, 1e-5);
    RefStats s = ref_row_stats(xv, N * C, HW);
    std::vector<double> ref(xv.size());
    for (int64_t r = 0; r < N * C; ++r)
      for (int64_t i = 0; i < HW; ++i)
        ref[r * HW + i] = (xv[r * HW + i] - s.mean[r]) / std::sqrt(s.var[r] + 1e-5) * wv[r % C] + bv[r % C];
    check_close(yi.to_vector<double>(), ref, tol, tol, "instance_norm");
    // No affine transform.
    Tensor yi0 = instance_norm(x, Tensor(), Tensor(), 1e-5);
    for (int64_t r = 0; r < N * C; ++r)
      for (int64_t i = 0; i < HW; ++i) ref[r * HW + i] = (xv[r * HW + i] - s.mean[r]) / std::sqrt(s.var[r] + 1e-5);
    check_close(yi0.to_vector<double>(), ref, tol, tol, "instance_norm (no affine)");

    // layer_norm over the last two dims (H, W), weight of that shape.
    Tensor lw = randn({H, W}, gen, TensorOptions(dt)), lb = randn({H, W}, gen, TensorOptions(dt));
    std::vector<double> lwv = lw.to_vector<double>(), lbv = lb.to_vector<double>();
    Tensor yl = layer_norm(x, {H, W}, lw, lb, 1e-5);
    for (int64_t r = 0; r < N * C; ++r)
      for (int64_t i = 0; i < HW; ++i)
        ref[r * HW + i] = (xv[r * HW + i] - s.mean[r]) / std::sqrt(s.var[r] + 1e-5) * lwv[i] + lbv[i];
    check_close(yl.to_vector<double>(), ref, tol, tol, "layer_norm");
    // ... and over the last three dims, without affine.
    Tensor yl3 = layer_norm(x, {C, H, W}, Tensor(), Tensor(), 1e-5);
    RefStats s3 = ref_row_stats(xv, N, C * HW);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < C * HW; ++i)
        ref[n * C * HW + i] = (xv[n * C * HW + i] - s3.mean[n]) / std::sqrt(s3.var[n] + 1e-5);
    check_close(yl3.to_vector<double>(), ref, tol, tol, "layer_norm 3 dims");
  }
}

TEST_CASE("statistics survive a large common offset in float32") {
  // Values 1e4 + N(0, 1): a naive sum of squares in float would lose the variance.
  Generator gen(9);
  Tensor x = randn({4, 3, 5, 5}, gen, TensorOptions(), 1e4, 1.0);
  Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
  std::vector<double> xv = x.to_vector<double>(), ref(xv.size());
  RefStats s = ref_channel_stats(xv, 4, 3, 25);
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < 25; ++i) ref[(n * 3 + c) * 25 + i] = (xv[(n * 3 + c) * 25 + i] - s.mean[c]) / std::sqrt(s.var[c]);
  // The inputs themselves are only known to float's ulp at 1e4 (~1e-3), i.e. 1e-3 of one std.
  check_close(y.to_vector<double>(), ref, 2e-3, 0, "offset batch_norm");
}

TEST_CASE("non-contiguous input gives the same result") {
  Generator gen(4);
  Tensor base = randn({3, 7, 5, 2}, gen, f64());
  Tensor x = base.permute({0, 3, 2, 1});  // (3, 2, 5, 7), strided
  Tensor y1 = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  Tensor y2 = batch_norm(x.contiguous(), Tensor(), Tensor(), Tensor(), Tensor(), true);
  check_close(y1.to_vector<double>(), y2.to_vector<double>(), 1e-14, 0, "strided");
  Tensor l1 = layer_norm(x, {5, 7}, Tensor(), Tensor());
  Tensor l2 = layer_norm(x.contiguous(), {5, 7}, Tensor(), Tensor());
  check_close(l1.to_vector<double>(), l2.to_vector<double>(), 1e-14, 0, "strided layer_norm");
}

TEST_CASE("fused backward kernels agree with the composed differentiable formula") {
  // Same gradients two ways: a plain backward (fused kernel) and grad() with
  // create_graph (composed ops). float32: both sum in double; 1e-4 covers
  // rounding of the float intermediates in the composed path.
  Generator gen(21);
  const int64_t N = 3, C = 4, H = 5, W = 3;
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> f;
    Shape param_shape;
  };
  Tensor rm = randn({C}, gen), rv = rand({C}, gen, TensorOptions(), 0.5, 1.5);
  std::vector<Case> cases = {
      {"batch_norm train", [](const Tensor& x, const Tensor& w, const Tensor& b) {
         return batch_norm(x, w, b, Tensor(), Tensor(), true); }, {C}},
      {"batch_norm eval", [rm, rv](const Tensor& x, const Tensor& w, const Tensor& b) {
         return batch_norm(x, w, b, rm, rv, false); }, {C}},
      {"instance_norm", [](const Tensor& x, const Tensor& w, const Tensor& b) {
         return instance_norm(x, w, b); }, {C}},
      {"layer_norm", [](const Tensor& x, const Tensor& w, const Tensor& b) {
         return layer_norm(x, {H, W}, w, b); }, {H, W}},
  };
  for (const Case& cs : cases) {
    CAPTURE(cs.name);
    Tensor x = randn({N, C, H, W}, gen, TensorOptions().grad());
    Tensor w = randn(cs.param_shape, gen, TensorOptions().grad()), b = randn(cs.param_shape, gen, TensorOptions().grad());
    Tensor g = randn({N, C, H, W}, gen);
    auto fused = autograd::grad({cs.f(x, w, b)}, {x, w, b}, {g}, false, /*create_graph=*/false);
    auto composed = autograd::grad({cs.f(x, w, b)}, {x, w, b}, {g}, false, /*create_graph=*/true);
    for (int i = 0; i < 3; ++i) check_close(fused[i].to_vector<double>(), composed[i].to_vector<double>(), 1e-4, 1e-4, cs.name);
  }
}

TEST_CASE("gradcheck in float64 for each norm") {
  Generator gen(8);
  const int64_t N = 3, C = 2, H = 3, W = 2;
  Tensor x = randn({N, C, H, W}, gen, f64().grad());
  Tensor w = randn({C}, gen, f64().grad()), b = randn({C}, gen, f64().grad());
  Tensor rm = randn({C}, gen, f64()), rv = rand({C}, gen, f64(), 0.5, 1.5);
  Tensor lw = randn({H, W}, gen, f64().grad()), lb = randn({H, W}, gen, f64().grad());
  SUBCASE("batch_norm training") {
    auto r = autograd::gradcheck([](const std::vector<Tensor>& v) {
      return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3); }, {x, w, b});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("batch_norm eval") {
    auto r = autograd::gradcheck([rm, rv](const std::vector<Tensor>& v) {
      return batch_norm(v[0], v[1], v[2], rm, rv, false, 0.1, 1e-3); }, {x, w, b});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("instance_norm") {
    auto r = autograd::gradcheck([](const std::vector<Tensor>& v) { return instance_norm(v[0], v[1], v[2], 1e-3); },
                                 {x, w, b});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("layer_norm") {
    auto r = autograd::gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], {3, 2}, v[1], v[2], 1e-3); },
                                 {x, lw, lb});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("without affine parameters") {
    auto r = autograd::gradcheck([](const std::vector<Tensor>& v) {
      return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true) * 0.5 +
             layer_norm(v[0], {2, 3, 2}, Tensor(), Tensor()); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradgradcheck: batch_norm training, layer_norm and instance_norm") {
  Generator gen(13);
  Tensor x = randn({3, 2, 2, 2}, gen, f64().grad());
  Tensor w = randn({2}, gen, f64().grad()), b = randn({2}, gen, f64().grad());
  Tensor lw = randn({2, 2}, gen, f64().grad()), lb = randn({2, 2}, gen, f64().grad());
  auto r1 = autograd::gradgradcheck([](const std::vector<Tensor>& v) {
    return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-3); }, {x, w, b});
  CHECK_MESSAGE(r1.ok, r1.report);
  auto r2 = autograd::gradgradcheck([](const std::vector<Tensor>& v) {
    return layer_norm(v[0], {2, 2}, v[1], v[2], 1e-3); }, {x, lw, lb});
  CHECK_MESSAGE(r2.ok, r2.report);
  auto r3 = autograd::gradgradcheck([](const std::vector<Tensor>& v) { return instance_norm(v[0], v[1], v[2], 1e-3); },
                                    {x, w, b});
  CHECK_MESSAGE(r3.ok, r3.report);
}

TEST_CASE("bad input names the argument, expected and actual") {
  Tensor x = zeros({2, 3, 4, 4}), c3 = zeros({3}), c4 = zeros({4});
  CHECK_THROWS_WITH_AS(batch_norm(zeros({5}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: argument 'x' must be (N, C)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, c4, c3, Tensor(), Tensor(), true),
                       doctest::Contains("argument 'weight' must have shape (3,) to match the channels of input shape (2, 3, 4, 4), got (4,)"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, c3, c3, c4, c3, true),
                       doctest::Contains("argument 'running_mean' must have shape (3,)"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, c3, c3, c3, Tensor(), true), doctest::Contains("must be given together"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(zeros({1, 3, 1, 1}), c3, c3, c3, c3, true),
                       doctest::Contains("expected more than 1 value per channel"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, zeros({3}, DType::f64), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("different dtypes"), Error);
  CHECK_THROWS_WITH_AS(instance_norm(zeros({2, 3}), Tensor(), Tensor()),
                       doctest::Contains("instance_norm: argument 'x' must be (N, C, H, W)"), Error);
  CHECK_THROWS_WITH_AS(instance_norm(zeros({2, 3, 1, 1}), Tensor(), Tensor()),
                       doctest::Contains("more than 1 spatial element"), Error);
  CHECK_THROWS_WITH_AS(instance_norm(x, Tensor(), c4), doctest::Contains("argument 'bias' must have shape (3,)"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {5, 4}, Tensor(), Tensor()),
                       doctest::Contains("trailing dims of input shape (2, 3, 4, 4) must equal normalized_shape (5, 4)"),
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {4, 4}, zeros({16}), Tensor()),
                       doctest::Contains("argument 'weight' must have shape (4, 4)"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {}, Tensor(), Tensor()), doctest::Contains("at least one dim"), Error);
}
