// test_matmul.cpp: matmul, bmm and linear: values against a naive product
// (on both GEMM backends, with transposed, sliced and broadcast operands),
// first and second derivatives, and the errors for bad shapes.
#include <doctest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "kernels/gemm.h"

using namespace gesso;
using kernels::GemmBackend;

namespace {

// Naive (B, M, K) @ (B, K, N) in double from any strided tensors (2-d: B = 1).
std::vector<double> naive_bmm(const Tensor& a, const Tensor& b) {
  Tensor a3 = a.dim() == 2 ? a.unsqueeze(0) : a, b3 = b.dim() == 2 ? b.unsqueeze(0) : b;
  const int64_t B = a3.size(0), M = a3.size(1), K = a3.size(2), N = b3.size(2);
  std::vector<double> av = a3.to_vector<double>(), bv = b3.to_vector<double>(), out(B * M * N, 0.0);
  for (int64_t z = 0; z < B; ++z)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += av[(z * M + i) * K + k] * bv[(z * K + k) * N + j];
        out[(z * M + i) * N + j] = s;
      }
  return out;
}

// float results of sums of up to ~20 products of values in (-3, 3): well
// within 1e-5 absolute plus 1e-5 relative.
void check_close(const Tensor& got, const std::vector<double>& ref) {
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == ref.size());
  for (size_t i = 0; i < g.size(); ++i) CHECK(std::abs(g[i] - ref[i]) <= 1e-5 + 1e-5 * std::abs(ref[i]));
}

std::vector<GemmBackend> backends() {
  std::vector<GemmBackend> b = {GemmBackend::handwritten};
  if (kernels::gemm_openblas_available()) b.push_back(GemmBackend::openblas);
  return b;
}

struct BackendRestore {
  GemmBackend saved = kernels::gemm_backend();
  ~BackendRestore() { kernels::set_gemm_backend(saved); }
};

TensorOptions f64g() { return TensorOptions(DType::f64).grad(); }

}  // namespace

TEST_CASE("matmul values: plain, transposed views, slices and broadcast operands") {
  BackendRestore restore;
  Generator gen(1);
  for (GemmBackend backend : backends()) {
    kernels::set_gemm_backend(backend);
    Tensor a = randn({5, 7}, gen), b = randn({7, 3}, gen);
    check_close(matmul(a, b), naive_bmm(a, b));
    Tensor at = randn({7, 5}, gen).transpose(0, 1), bt = randn({3, 7}, gen).transpose(0, 1);
    check_close(matmul(at, bt), naive_bmm(at, bt));
    // A column slice keeps row stride 9 for 7 columns: lda > cols.
    Tensor wide = randn({5, 9}, gen).narrow(1, 1, 7);
    check_close(matmul(wide, b), naive_bmm(wide, b));
    // A slice of a transpose is still a transposed layout, with ld > rows.
    Tensor sliced_t = randn({9, 7}, gen).narrow(1, 1, 5).transpose(0, 1);  // (5, 9), strides (1, 7)
    Tensor b9 = randn({9, 3}, gen);
    check_close(matmul(sliced_t, b9), naive_bmm(sliced_t, b9));
    // Broadcast operands (a stride 0) fit neither layout and are copied first.
    Tensor bcast_rows = randn({1, 3}, gen).expand({7, 3}), bcast_cols = randn({5, 1}, gen).expand({5, 7});
    check_close(matmul(a, bcast_rows), naive_bmm(a, bcast_rows));
    check_close(matmul(bcast_cols, b), naive_bmm(bcast_cols, b));
    // Vectors as 1 x K and K x 1 matrices, and an empty inner dimension.
    Tensor row = randn({1, 7}, gen), col = randn({7, 1}, gen);
    check_close(matmul(row, col), naive_bmm(row, col));
    check_close(matmul(col, row), naive_bmm(col, row));
    Tensor e = matmul(zeros({4, 0}), zeros({0, 2}));
    CHECK(e.shape() == Shape{4, 2});
    CHECK(e.to_vector<float>() == std::vector<float>(8, 0.0f));
  }
}

TEST_CASE("bmm values, with a batch-broadcast operand and transposed batches") {
  BackendRestore restore;
  Generator gen(2);
  for (GemmBackend backend : backends()) {
    kernels::set_gemm_backend(backend);
    Tensor a = randn({3, 4, 6}, gen), b = randn({3, 6, 5}, gen);
    check_close(bmm(a, b), naive_bmm(a, b));
    Tensor shared = randn({1, 6, 5}, gen).expand({3, 6, 5});
    check_close(bmm(a, shared), naive_bmm(a, shared));
    Tensor bt = randn({3, 5, 6}, gen).transpose(1, 2);
    check_close(bmm(a, bt), naive_bmm(a, bt));
    // Many small products (run one per thread).
    Tensor many_a = randn({33, 3, 2}, gen), many_b = randn({33, 2, 4}, gen);
    check_close(bmm(many_a, many_b), naive_bmm(many_a, many_b));
  }
}

TEST_CASE("linear values: 1-d, 2-d and 3-d inputs, with and without bias") {
  Generator gen(3);
  Tensor w = randn({4, 6}, gen), bias = randn({4}, gen);
  std::vector<double> bv = bias.to_vector<double>();
  for (Shape xs : {Shape{6}, Shape{5, 6}, Shape{2, 3, 6}}) {
    Tensor x = randn(xs, gen);
    Tensor y = linear(x, w, bias), y0 = linear(x, w);
    Shape expect = xs;
    expect.back() = 4;
    CHECK(y.shape() == expect);
    std::vector<double> ref = naive_bmm(x.reshape({-1, 6}), w.transpose(0, 1));
    check_close(y0, ref);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += bv[i % 4];
    check_close(y, ref);
  }
}

TEST_CASE("matmul, bmm and linear: gradcheck and gradgradcheck") {
  Generator gen(4);
  Tensor a = randn({3, 5}, gen, f64g()), b = randn({5, 4}, gen, f64g());
  auto f_mm = [](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); };
  auto r = autograd::gradcheck(f_mm, {a, b});
  CHECK_MESSAGE(r.ok, r.report);
  r = autograd::gradgradcheck(f_mm, {a, b});
  CHECK_MESSAGE(r.ok, r.report);
  // A transposed operand and a product of the input with itself.
  auto f_sq = [](const std::vector<Tensor>& v) { return matmul(v[0].transpose(0, 1), v[0]); };
  r = autograd::gradgradcheck(f_sq, {a});
  CHECK_MESSAGE(r.ok, r.report);

  Tensor ba = randn({2, 3, 4}, gen, f64g()), bb = randn({2, 4, 3}, gen, f64g());
  auto f_bmm = [](const std::vector<Tensor>& v) { return bmm(v[0], v[1]); };
  r = autograd::gradcheck(f_bmm, {ba, bb});
  CHECK_MESSAGE(r.ok, r.report);
  r = autograd::gradgradcheck(f_bmm, {ba, bb});
  CHECK_MESSAGE(r.ok, r.report);

  Tensor x = randn({2, 3, 5}, gen, f64g()), w = randn({4, 5}, gen, f64g()), bias = randn({4}, gen, f64g());
  auto f_lin = [](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); };
  r = autograd::gradcheck(f_lin, {x, w, bias});
  CHECK_MESSAGE(r.ok, r.report);
  // Squared so that the second derivative involves every input.
  auto f_lin2 = [](const std::vector<Tensor>& v) {
    Tensor y = linear(v[0], v[1], v[2]);
    return y * y;
  };
  r = autograd::gradgradcheck(f_lin2, {x, w, bias});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("matmul, bmm and linear reject bad shapes, naming both") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({4, 5})),
                       doctest::Contains("matmul: inner dimensions differ: a has shape (2, 3) and b has shape (4, 5)"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3, 4}), zeros({4, 5})),
                       doctest::Contains("matmul: argument 'a' must be 2-d (M, K), got shape (2, 3, 4)"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({3, 5}, DType::f64)), doctest::Contains("different dtypes"),
                       Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 3, 4}), zeros({2, 5, 6})),
                       doctest::Contains("bmm: inner dimensions differ: a has shape (2, 3, 4) and b has shape (2, 5, 6)"),
                       Error);
  CHECK_THROWS_WITH_AS(bmm(zeros({2, 3, 4}), zeros({3, 4, 6})),
                       doctest::Contains("bmm: batch sizes differ: a has shape (2, 3, 4) and b has shape (3, 4, 6)"),
                       Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 3}), zeros({4, 5})),
                       doctest::Contains("linear: inner dimensions differ: x has shape (2, 3) and weight has shape (4, 5)"),
                       Error);
  CHECK_THROWS_WITH_AS(linear(zeros({2, 5}), zeros({4, 5}), zeros({5})),
                       doctest::Contains("linear: argument 'bias' must have shape (4,)"), Error);
}
