// test_gemm.cpp: kernels::gemm_cpu on both backends against a naive product
// accumulated in double: odd sizes, sizes that cross the cache blocks, all
// four transpose cases, alpha and beta, padded leading dimensions; calls from
// inside a parallel region; backend selection and its errors.
#include <doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "tensor/tensor.h"

using namespace gesso;
using kernels::GemmBackend;

namespace {

struct Case {
  int64_t M, N, K;
};

// A stored matrix of rows x cols with leading dimension ld >= cols; the
// padding holds NaN so that reading it would show in the result.
template <class T>
std::vector<T> stored(int64_t rows, int64_t cols, int64_t ld, Generator& gen) {
  std::vector<double> v = rand({rows, cols}, gen, TensorOptions(DType::f64), -1.0, 1.0).to_vector<double>();
  std::vector<T> out(rows * ld, std::numeric_limits<T>::quiet_NaN());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * ld + c] = static_cast<T>(v[r * cols + c]);
  return out;
}

// Runs gemm_cpu on the current backend for one case and compares with the
// naive double product. Returns the number of mismatching elements.
template <class T>
int check_case(const Case& cs, bool ta, bool tb, double alpha, double beta, int64_t pad, uint64_t seed) {
  const int64_t M = cs.M, N = cs.N, K = cs.K;
  Generator gen(seed);
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  std::vector<T> A = stored<T>(a_rows, a_cols, lda, gen), B = stored<T>(b_rows, b_cols, ldb, gen);
  std::vector<T> C = stored<T>(M, N, ldc, gen);
  // beta == 0: C must not be read, so its initial values are NaN.
  if (beta == 0)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> C0 = C;
  kernels::gemm_cpu<T>(ta, tb, M, N, K, static_cast<T>(alpha), A.data(), lda, B.data(), ldb, static_cast<T>(beta),
                       C.data(), ldc);
  // Rounding of a K-term dot product grows with the sum of the terms'
  // magnitudes, not with |result| (cancellation), so the tolerance scales
  // with that sum: a few units of K * epsilon of T.
  const double rtol = std::is_same<T, float>::value ? 2e-6 * std::sqrt(double(K) + 1) * 8 : 1e-13 * (K + 1);
  int bad = 0;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        double a = ta ? A[k * lda + i] : A[i * lda + k];
        double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        dot += a * b;
        mag += std::abs(a * b);
      }
      double ref = alpha * dot, scale = std::abs(alpha) * mag;
      if (beta != 0) {
        ref += beta * C0[i * ldc + j];
        scale += std::abs(beta * C0[i * ldc + j]);
      }
      double got = C[i * ldc + j];
      if (!(std::abs(got - ref) <= 1e-30 + rtol * scale)) {
        if (bad++ < 3)
          MESSAGE("M=", M, " N=", N, " K=", K, " ta=", ta, " tb=", tb, " (", i, ", ", j, "): got ", got,
                  " expected ", ref);
      }
    }
  }
  // The padding of C is never written.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j) bad += std::isnan(C[i * ldc + j]) == std::isnan(C0[i * ldc + j]) ? 0 : 1;
  return bad;
}

template <class T>
void check_backend(GemmBackend backend) {
  kernels::set_gemm_backend(backend);
  // Odd sizes, then sizes crossing the float blocks (MC = 120, KC = 256, NC = 3072).
  const std::vector<Case> cases = {{1, 1, 1}, {7, 13, 5}, {65, 33, 129}, {130, 50, 300}, {7, 3080, 260}};
  uint64_t seed = 1;
  for (const Case& cs : cases) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      CHECK(check_case<T>(cs, ta, tb, 1.0, 0.0, 0, seed++) == 0);
      CHECK(check_case<T>(cs, ta, tb, -0.75, 1.5, 3, seed++) == 0);  // alpha, beta, lda > cols
    }
  }
}

struct BackendRestore {
  GemmBackend saved = kernels::gemm_backend();
  ~BackendRestore() { kernels::set_gemm_backend(saved); }
};

}  // namespace

TEST_CASE("handwritten gemm matches the naive product (float and double)") {
  BackendRestore restore;
  check_backend<float>(GemmBackend::handwritten);
  check_backend<double>(GemmBackend::handwritten);
}

TEST_CASE("openblas gemm matches the naive product, or is refused clearly when not built") {
  BackendRestore restore;
  if (kernels::gemm_openblas_available()) {
    check_backend<float>(GemmBackend::openblas);
    check_backend<double>(GemmBackend::openblas);
  } else {
    CHECK_THROWS_WITH_AS(kernels::set_gemm_backend(GemmBackend::openblas), doctest::Contains("no OpenBLAS"), Error);
  }
}

TEST_CASE("degenerate sizes: K = 0 and alpha = 0 scale C by beta; M = 0 touches nothing") {
  BackendRestore restore;
  for (GemmBackend b : {GemmBackend::handwritten, GemmBackend::openblas}) {
    if (b == GemmBackend::openblas && !kernels::gemm_openblas_available()) continue;
    kernels::set_gemm_backend(b);
    std::vector<float> A(6, 1.0f), B(6, 1.0f), C = {1, 2, 3, 4};
    kernels::gemm_cpu<float>(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 2.0f, C.data(), 2);
    CHECK(C == std::vector<float>{2, 4, 6, 8});
    C.assign(4, std::numeric_limits<float>::quiet_NaN());
    kernels::gemm_cpu<float>(false, false, 2, 2, 3, 0.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2);
    CHECK(C == std::vector<float>{0, 0, 0, 0});
    kernels::gemm_cpu<float>(false, false, 0, 2, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, nullptr, 2);
  }
}

TEST_CASE("gemm called from inside an OpenMP parallel region gives the same results") {
  BackendRestore restore;
  for (GemmBackend b : {GemmBackend::handwritten, GemmBackend::openblas}) {
    if (b == GemmBackend::openblas && !kernels::gemm_openblas_available()) continue;
    kernels::set_gemm_backend(b);
    const int64_t n = 70, batches = 4;
    Generator gen(5);
    std::vector<float> A = rand({batches, n, n}, gen).to_vector<float>();
    std::vector<float> B = rand({n, n}, gen).to_vector<float>();
    std::vector<float> serial(batches * n * n), parallel(batches * n * n);
    for (int64_t i = 0; i < batches; ++i)
      kernels::gemm_cpu<float>(false, true, n, n, n, 1.0f, A.data() + i * n * n, n, B.data(), n, 0.0f,
                               serial.data() + i * n * n, n);
#pragma omp parallel for num_threads(2)
    for (int64_t i = 0; i < batches; ++i)
      kernels::gemm_cpu<float>(false, true, n, n, n, 1.0f, A.data() + i * n * n, n, B.data(), n, 0.0f,
                               parallel.data() + i * n * n, n);
    // The handwritten kernel sums each element in the same order however the
    // threads split the work, so its results are identical. OpenBLAS may pick
    // other kernels for one thread than for two: equal within float rounding
    // of a 70-term sum of products of values in [0, 1).
    if (b == GemmBackend::handwritten) {
      CHECK(serial == parallel);
    } else {
      for (size_t i = 0; i < serial.size(); ++i) REQUIRE(std::abs(serial[i] - parallel[i]) <= 1e-5f * n);
    }
  }
}

TEST_CASE("backend selection: default, set/get, GESSO_GEMM and its errors") {
  BackendRestore restore;
  const char* saved_env = std::getenv("GESSO_GEMM");
  const std::string saved = saved_env ? saved_env : "";
  // OpenBLAS is the default only when it runs kernels for this CPU, not its
  // generic SSE3 fallback (see kernels/cpu/gemm.cpp's default_backend).
  const GemmBackend fallback = kernels::gemm_openblas_available() && !kernels::gemm_openblas_generic_core()
                                   ? GemmBackend::openblas
                                   : GemmBackend::handwritten;

  unsetenv("GESSO_GEMM");
  CHECK(kernels::gemm_backend_from_env() == fallback);
  setenv("GESSO_GEMM", "handwritten", 1);
  CHECK(kernels::gemm_backend_from_env() == GemmBackend::handwritten);
  setenv("GESSO_GEMM", "openblas", 1);
  if (kernels::gemm_openblas_available())
    CHECK(kernels::gemm_backend_from_env() == GemmBackend::openblas);
  else
    CHECK_THROWS_WITH_AS(kernels::gemm_backend_from_env(), doctest::Contains("GESSO_GEMM=openblas"), Error);
  setenv("GESSO_GEMM", "fastest", 1);
  CHECK_THROWS_WITH_AS(kernels::gemm_backend_from_env(),
                       doctest::Contains("GESSO_GEMM: expected 'handwritten' or 'openblas' (or unset), got 'fastest'"),
                       Error);
  if (saved_env) setenv("GESSO_GEMM", saved.c_str(), 1);
  else unsetenv("GESSO_GEMM");

  kernels::set_gemm_backend(GemmBackend::handwritten);
  CHECK(kernels::gemm_backend() == GemmBackend::handwritten);
  CHECK(std::string(kernels::gemm_backend_name(kernels::gemm_backend())) == "handwritten");
}

TEST_CASE("gemm rejects bad sizes and leading dimensions, naming them") {
  std::vector<float> A(100), B(100), C(100);
  CHECK_THROWS_WITH_AS(kernels::gemm_cpu<float>(false, false, -1, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f,
                                                C.data(), 2),
                       doctest::Contains("sizes must be >= 0, got M=-1"), Error);
  CHECK_THROWS_WITH_AS(kernels::gemm_cpu<float>(false, false, 4, 5, 6, 1.0f, A.data(), 5, B.data(), 5, 0.0f,
                                                C.data(), 5),
                       doctest::Contains("lda must be >= 6 (the stored A is 4 x 6), got 5"), Error);
  CHECK_THROWS_WITH_AS(kernels::gemm_cpu<float>(false, true, 4, 5, 6, 1.0f, A.data(), 6, B.data(), 5, 0.0f,
                                                C.data(), 5),
                       doctest::Contains("ldb must be >= 6 (the stored B is 5 x 6), got 5"), Error);
  CHECK_THROWS_WITH_AS(kernels::gemm_cpu<float>(false, false, 4, 5, 6, 1.0f, A.data(), 6, B.data(), 5, 0.0f,
                                                C.data(), 4),
                       doctest::Contains("ldc must be >= 5"), Error);
}
