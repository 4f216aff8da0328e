// test_gemm.cpp: kernels::gemm_cpu on both backends, and the handwritten
// kernel with each micro-kernel this CPU runs (avx2, avx512: kernels/cpu_isa.h),
// against a naive product accumulated in double: odd sizes, edges smaller than
// a tile, narrow products (A read in place), sizes that cross the cache blocks,
// all four transpose cases, alpha and beta, padded leading dimensions; the
// same results on one thread and on two; calls from inside a parallel region;
// backend and ISA selection and their errors.
#include <doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/gemm.h"
#include "tensor/tensor.h"

using namespace gesso;
using kernels::CpuIsa;
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
  // Tiles are 6 x 16 (avx2), 12 x 32 (avx512), 6 x 8 (double); K blocks of
  // at most 256; B panels 256 to 1024 columns wide (from the L2 size). So:
  // odd sizes; a product smaller than one tile; one row and one column more
  // than a tile; narrow products (at most 4 slivers), whose A panels are read
  // in place, with a partial last panel; 100 columns (in place for avx512
  // only); sizes crossing K blocks (300 = 152 + 148) and B panels (3080);
  // and matrix-vector products (one row or one column: no tiles), one with
  // more than one 2048-column chunk.
  const std::vector<Case> cases = {{1, 1, 1},     {7, 13, 5},     {5, 3, 300},    {13, 33, 17},
                                   {65, 33, 129}, {37, 40, 300},  {29, 100, 64},  {130, 50, 300},
                                   {7, 3080, 260}, {1, 77, 300},  {301, 1, 90},   {1, 4100, 3}};
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

// The ISAs this CPU runs: the handwritten kernel is tested with each.
std::vector<CpuIsa> isas() {
  std::vector<CpuIsa> v = {CpuIsa::avx2};
  if (kernels::cpu_isa_supported(CpuIsa::avx512)) v.push_back(CpuIsa::avx512);
  return v;
}

}  // namespace

TEST_CASE("handwritten gemm matches the naive product (float with each micro-kernel, and double)") {
  BackendRestore restore;
  for (CpuIsa isa : isas()) {
    INFO("isa = ", kernels::cpu_isa_name(isa));
    kernels::ScopedCpuIsa scoped(isa);
    check_backend<float>(GemmBackend::handwritten);
  }
  check_backend<double>(GemmBackend::handwritten);
}

TEST_CASE("handwritten gemm: two threads give the same bits as one") {
  // Large enough that the team splits C: along M for the tall products,
  // along N for the wide one (with either ISA). Each element is still summed
  // in the same order. The last two are matrix-vector products large enough
  // for both threads.
  const std::vector<Case> cases = {{300, 200, 200}, {100, 600, 200}, {1000, 24, 300}, {1, 4100, 300},
                                   {4000, 1, 300}};
  const int saved_threads = omp_get_max_threads();
  for (CpuIsa isa : isas()) {
    kernels::ScopedCpuIsa scoped(isa);
    for (const Case& cs : cases) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        INFO("isa = ", kernels::cpu_isa_name(isa), " M=", cs.M, " N=", cs.N, " K=", cs.K, " ta=", ta, " tb=", tb);
        Generator gen(11);
        std::vector<float> A = rand({cs.M * cs.K}, gen).to_vector<float>();
        std::vector<float> B = rand({cs.K * cs.N}, gen).to_vector<float>();
        std::vector<float> one(cs.M * cs.N), two(cs.M * cs.N);
        const int64_t lda = ta ? cs.M : cs.K, ldb = tb ? cs.K : cs.N;
        omp_set_num_threads(1);
        kernels::gemm_blocked_cpu<float>(ta, tb, cs.M, cs.N, cs.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f,
                                         one.data(), cs.N);
        omp_set_num_threads(2);
        kernels::gemm_blocked_cpu<float>(ta, tb, cs.M, cs.N, cs.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f,
                                         two.data(), cs.N);
        CHECK(one == two);
      }
    }
  }
  omp_set_num_threads(saved_threads);
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
    // 200^3 multiply-adds: enough for the serial calls to use two threads.
    const int64_t n = 200, batches = 4;
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
    // of a 200-term sum of products of values in [0, 1).
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
  // The handwritten kernel is the default (kernels/cpu/gemm.cpp's default_backend).
  const GemmBackend fallback = GemmBackend::handwritten;

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

TEST_CASE("cpu ISA selection: default, GESSO_CPU_ISA, set_cpu_isa, ScopedCpuIsa and their errors") {
  const bool has_avx512 = kernels::cpu_isa_supported(CpuIsa::avx512);
  const CpuIsa best = has_avx512 ? CpuIsa::avx512 : CpuIsa::avx2;
  CHECK(kernels::cpu_isa_supported(CpuIsa::avx2));
  CHECK(std::string(kernels::cpu_isa_name(CpuIsa::avx2)) == "avx2");
  CHECK(std::string(kernels::cpu_isa_name(CpuIsa::avx512)) == "avx512");

  const char* saved_env = std::getenv("GESSO_CPU_ISA");
  const std::string saved = saved_env ? saved_env : "";
  unsetenv("GESSO_CPU_ISA");
  CHECK(kernels::cpu_isa_from_env() == best);
  setenv("GESSO_CPU_ISA", "", 1);
  CHECK(kernels::cpu_isa_from_env() == best);
  setenv("GESSO_CPU_ISA", "avx2", 1);
  CHECK(kernels::cpu_isa_from_env() == CpuIsa::avx2);
  setenv("GESSO_CPU_ISA", "avx512", 1);
  if (has_avx512)
    CHECK(kernels::cpu_isa_from_env() == CpuIsa::avx512);
  else
    CHECK_THROWS_WITH_AS(kernels::cpu_isa_from_env(),
                         doctest::Contains("GESSO_CPU_ISA=avx512, but this CPU lacks AVX-512"), Error);
  setenv("GESSO_CPU_ISA", "sse2", 1);
  CHECK_THROWS_WITH_AS(kernels::cpu_isa_from_env(),
                       doctest::Contains("GESSO_CPU_ISA: expected 'avx2' or 'avx512' (or unset), got 'sse2'"), Error);
  if (saved_env) setenv("GESSO_CPU_ISA", saved.c_str(), 1);
  else unsetenv("GESSO_CPU_ISA");

  const CpuIsa before = kernels::cpu_isa();
  {
    kernels::ScopedCpuIsa scoped(CpuIsa::avx2);
    CHECK(kernels::cpu_isa() == CpuIsa::avx2);
  }
  CHECK(kernels::cpu_isa() == before);
  if (has_avx512) {
    kernels::ScopedCpuIsa scoped(CpuIsa::avx512);
    CHECK(kernels::cpu_isa() == CpuIsa::avx512);
  } else {
    CHECK_THROWS_WITH_AS(kernels::set_cpu_isa(CpuIsa::avx512), doctest::Contains("set_cpu_isa: this CPU lacks avx512"),
                         Error);
  }
  CHECK(kernels::cpu_isa() == before);
}
