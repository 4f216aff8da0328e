/*
 * gemm.cpp: the CPU GEMM of kernels/gemm.h: the handwritten cache-blocked
 * kernel, the OpenBLAS call, and the run-time choice between them.
 *
 * The handwritten kernel follows the GotoBLAS/BLIS loop structure:
 *
 *   for jc over N in steps of NC            columns of C and B
 *     for pc over K in steps of KC          the shared dimension
 *       pack B[pc:pc+KC, jc:jc+NC]          into slivers of NR columns (shared by all threads)
 *       for ic over M in steps of MC        rows of C and A    <- OpenMP splits this loop
 *         pack A[ic:ic+MC, pc:pc+KC]        into panels of MR rows (one buffer per thread)
 *         for jr over the NC columns in steps of NR
 *           for ir over the MC rows in steps of MR
 *             micro-kernel: C[ir:ir+MR, jr:jr+NR] += A panel * B sliver
 *
 * Why the blocking: the micro-kernel keeps an MR x NR tile of C in registers
 * and, per step of k, reads MR values of A and NR values of B for MR * NR
 * multiply-adds. Its B sliver (KC x NR) stays in L1 while the A block
 * (MC x KC) stays in L2 and the packed B panel (KC x NC) in L3. Packing copies
 * each block once into the exact order the micro-kernel reads it
 * (contiguous, zero-padded to whole tiles), which also makes the four
 * transpose cases one code path: only the packing routines look at trans_a,
 * trans_b and the leading dimensions.
 *
 * Why the micro-kernel vectorises: its inner loop runs over the NR columns of
 * one packed B row, contiguous and of compile-time length, so the compiler
 * turns it into NR / (vector width) fused multiply-adds, one broadcast of the
 * A value each, on accumulators it keeps in registers.
 *
 * Threads: when M alone has fewer row blocks than threads (a tall, thin
 * problem such as a convolution with few output channels), the column
 * slivers of each row block are split into groups, so that threads share the
 * work along N instead.
 */
#include "kernels/gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/common.h"
#include "tensor/error.h"

#ifdef GESSO_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace gesso::kernels {

namespace {

// Register tile (MR x NR) and cache blocks (MC, KC, NC) per type. NR is two
// 256-bit vectors of T; MR * NR / (vector width) accumulators plus the B
// vectors and the A broadcast fit in the 16 vector registers of AVX2.
template <class T> struct Blocking;
// (MC must stay a multiple of MR: row blocks are rounded up to whole panels.)
template <> struct Blocking<float> {
  static constexpr int MR = 6, NR = 16;
  static constexpr int64_t MC = 120, KC = 256, NC = 3072;
};
template <> struct Blocking<double> {
  static constexpr int MR = 6, NR = 8;
  static constexpr int64_t MC = 96, KC = 256, NC = 1536;
};

static_assert(Blocking<float>::MC % Blocking<float>::MR == 0 && Blocking<double>::MC % Blocking<double>::MR == 0,
              "row blocks are whole micro-panels");

// Below this many multiply-adds the OpenMP team costs more than it saves.
constexpr int64_t kGemmParallelMacs = 64 * 64 * 64;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Element (m, k) of op(A) and (k, n) of op(B).
template <class T>
inline T elem_a(const T* A, int64_t lda, bool trans_a, int64_t m, int64_t k) {
  return trans_a ? A[k * lda + m] : A[m * lda + k];
}

// Packs rows [i0, i0 + mc) x columns [p0, p0 + kc) of op(A) into panels of MR
// rows: panel q holds, for each k, the MR values of rows i0 + q*MR ... in a
// row, so the micro-kernel reads A with unit stride. Rows past mc are zero.
template <class T>
void pack_a(const T* A, int64_t lda, bool trans_a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t q = 0; q < ceil_div(mc, MR); ++q) {
    T* panel = out + q * kc * MR;
    const int64_t rows = std::min<int64_t>(MR, mc - q * MR);
    for (int64_t k = 0; k < kc; ++k) {
      for (int r = 0; r < rows; ++r) panel[k * MR + r] = elem_a(A, lda, trans_a, i0 + q * MR + r, p0 + k);
      for (int r = static_cast<int>(rows); r < MR; ++r) panel[k * MR + r] = T(0);
    }
  }
}

// Packs sliver s (columns j0 + s*NR ... of width NR) of rows [p0, p0 + kc) of
// op(B): for each k, NR consecutive values. Columns past nc are zero.
template <class T>
void pack_b_sliver(const T* B, int64_t ldb, bool trans_b, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   int64_t s, T* out) {
  constexpr int NR = Blocking<T>::NR;
  T* sliver = out + s * kc * NR;
  const int64_t c0 = j0 + s * NR;
  const int cols = static_cast<int>(std::min<int64_t>(NR, nc - s * NR));
  for (int64_t k = 0; k < kc; ++k) {
    T* dst = sliver + k * NR;
    if (!trans_b) {
      const T* src = B + (p0 + k) * ldb + c0;  // a row of B: contiguous
      for (int c = 0; c < cols; ++c) dst[c] = src[c];
    } else {
      const T* src = B + c0 * ldb + (p0 + k);  // a column of the stored N x K matrix
      for (int c = 0; c < cols; ++c) dst[c] = src[c * ldb];
    }
    for (int c = cols; c < NR; ++c) dst[c] = T(0);
  }
}

// acc (MR x NR, row-major) = sum over k of a[k] (MR values) outer b[k] (NR values).
// The loops over i and j have constant bounds: the compiler unrolls them and
// keeps `c` in vector registers for the whole k loop.
template <class T>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, T* __restrict acc) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  T c[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* bk = b + k * NR;
    const T* ak = a + k * MR;
    for (int i = 0; i < MR; ++i) {
      const T ai = ak[i];
#pragma omp simd
      for (int j = 0; j < NR; ++j) c[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i * NR + j] = c[i][j];
}

// C[0:rows, 0:cols] = alpha * acc + beta * C, reading C only when beta != 0.
template <class T>
inline void store_tile(const T* acc, int rows, int cols, T alpha, T beta, T* C, int64_t ldc) {
  constexpr int NR = Blocking<T>::NR;
  for (int i = 0; i < rows; ++i) {
    T* c = C + i * ldc;
    const T* a = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < cols; ++j) c[j] = alpha * a[j];
    } else {
      for (int j = 0; j < cols; ++j) c[j] = alpha * a[j] + beta * c[j];
    }
  }
}

// C = beta * C: the whole product when K == 0 or alpha == 0.
template <class T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Packing buffers live as long as their thread (OpenMP keeps its threads), so
// repeated GEMMs neither allocate nor fault pages in; they are bounded by the
// block sizes, not by the matrices.
template <class T>
T* thread_buffer(int which, size_t n) {
  thread_local std::vector<T> buffers[2];
  if (buffers[which].size() < n) buffers[which].resize(n);
  return buffers[which].data();
}

}  // namespace

template <class T>
void gemm_blocked_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                      int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  using Blk = Blocking<T>;
  constexpr int MR = Blk::MR, NR = Blk::NR;
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }

  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (M * N * K < kGemmParallelMacs) threads = 1;
  // Row blocks: at most MC rows (MC is a multiple of MR), and a multiple of
  // `threads` of them, so that every thread gets the same share of rows.
  const int64_t rounds = ceil_div(M, threads * Blk::MC);
  const int64_t mc = round_up(ceil_div(M, threads * rounds), MR);
  const int64_t m_blocks = ceil_div(M, mc);
  const int64_t kc_max = std::min<int64_t>(Blk::KC, K);
  const int64_t nc_max = std::min<int64_t>(Blk::NC, round_up(N, NR));
  T* packed_b = thread_buffer<T>(0, static_cast<size_t>(kc_max * nc_max));

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    T* packed_a = thread_buffer<T>(1, static_cast<size_t>(round_up(mc, MR) * kc_max));
    alignas(64) T acc[MR * NR];
    for (int64_t jc = 0; jc < N; jc += Blk::NC) {
      const int64_t nc = std::min<int64_t>(Blk::NC, N - jc);
      const int64_t slivers = ceil_div(nc, NR);
      // Column groups: split each row block's slivers when rows alone cannot feed the threads.
      const int64_t groups = std::min<int64_t>(slivers, std::max<int64_t>(1, ceil_div(threads, m_blocks)));
      const int64_t per_group = ceil_div(slivers, groups);
      for (int64_t pc = 0; pc < K; pc += Blk::KC) {
        const int64_t kc = std::min<int64_t>(Blk::KC, K - pc);
        const T beta_here = pc == 0 ? beta : T(1);  // later K blocks add to what the first wrote

#pragma omp for schedule(static)
        for (int64_t s = 0; s < slivers; ++s) pack_b_sliver(B, ldb, trans_b, pc, kc, jc, nc, s, packed_b);
        // (implicit barrier: the whole B panel is packed before anyone reads it)

        int64_t packed_block = -1;  // the row block now in packed_a
#pragma omp for schedule(static)
        for (int64_t task = 0; task < m_blocks * groups; ++task) {
          const int64_t ib = task / groups, group = task % groups;
          const int64_t i0 = ib * mc, rows = std::min<int64_t>(mc, M - i0);
          if (ib != packed_block) {
            pack_a(A, lda, trans_a, i0, rows, pc, kc, packed_a);
            packed_block = ib;
          }
          const int64_t s_end = std::min<int64_t>(slivers, (group + 1) * per_group);
          for (int64_t s = group * per_group; s < s_end; ++s) {
            const int cols = static_cast<int>(std::min<int64_t>(NR, nc - s * NR));
            for (int64_t q = 0; q < ceil_div(rows, MR); ++q) {
              micro_kernel<T>(kc, packed_a + q * kc * MR, packed_b + s * kc * NR, acc);
              const int tile_rows = static_cast<int>(std::min<int64_t>(MR, rows - q * MR));
              store_tile(acc, tile_rows, cols, alpha, beta_here, C + (i0 + q * MR) * ldc + jc + s * NR, ldc);
            }
          }
        }
        // (implicit barrier: nobody repacks B while another thread still reads it)
      }
    }
  }
}

// ---- OpenBLAS

#ifdef GESSO_HAVE_OPENBLAS
namespace {

// Debian's OpenMP flavour of OpenBLAS runs on gesso's OpenMP pool (and on one
// thread inside a parallel region). The pthread flavour has its own pool,
// whose spinning threads fight OpenMP's: pin it to one thread, once.
void openblas_share_threads_once() {
  static const bool done = [] {
    if (openblas_get_parallel() == OPENBLAS_THREAD) openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

inline CBLAS_TRANSPOSE cblas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

void openblas_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                   int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void openblas_gemm(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                   const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace
#endif

// ---- backend selection

namespace {
std::atomic<int> g_backend{-1};  // -1: not chosen yet (GESSO_GEMM is read at the first use)

// OpenBLAS when it runs kernels written for this CPU. On a CPU newer than
// the library it falls back to its generic SSE3 kernels ("Prescott"), which
// were measured about 3x slower than the handwritten GEMM (Emerald Rapids
// with OpenBLAS 0.3.21); the handwritten one is then the better default.
GemmBackend default_backend() {
  if (!gemm_openblas_available()) return GemmBackend::handwritten;
  return gemm_openblas_generic_core() ? GemmBackend::handwritten : GemmBackend::openblas;
}
}  // namespace

bool gemm_openblas_available() {
#ifdef GESSO_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

const char* gemm_openblas_core() {
#ifdef GESSO_HAVE_OPENBLAS
  return openblas_get_corename();
#else
  return "";
#endif
}

bool gemm_openblas_generic_core() {
  const std::string core = gemm_openblas_core();
  return core == "Prescott" || core == "Core2" || core == "Katmai" || core == "Banias";
}

const char* gemm_backend_name(GemmBackend b) {
  return b == GemmBackend::openblas ? "openblas" : "handwritten";
}

GemmBackend gemm_backend_from_env() {
  const char* v = std::getenv("GESSO_GEMM");
  if (v == nullptr || *v == '\0') return default_backend();
  const std::string s(v);
  if (s == "handwritten") return GemmBackend::handwritten;
  if (s == "openblas") {
    GESSO_CHECK(gemm_openblas_available(),
                "GESSO_GEMM=openblas, but this build has no OpenBLAS (configure with GESSO_WITH_OPENBLAS=ON and "
                "libopenblas installed); expected GESSO_GEMM=handwritten or unset");
    return GemmBackend::openblas;
  }
  fail("GESSO_GEMM: expected 'handwritten' or 'openblas' (or unset), got '", s, "'");
}

void set_gemm_backend(GemmBackend b) {
  GESSO_CHECK(b != GemmBackend::openblas || gemm_openblas_available(),
              "set_gemm_backend: backend 'openblas' requested, but this build has no OpenBLAS; "
              "expected 'handwritten'");
  g_backend.store(static_cast<int>(b));
}

GemmBackend gemm_backend() {
  int b = g_backend.load();
  if (b < 0) {
    b = static_cast<int>(gemm_backend_from_env());  // throws on a bad value, and stays unchosen
    g_backend.store(b);
  }
  return static_cast<GemmBackend>(b);
}

namespace {

void check_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda,
                     const void* B, int64_t ldb, const void* C, int64_t ldc) {
  GESSO_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: sizes must be >= 0, got M=", M, " N=", N, " K=", K);
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  GESSO_CHECK(lda >= std::max<int64_t>(1, a_cols), "gemm: lda must be >= ", std::max<int64_t>(1, a_cols),
              " (the stored A is ", trans_a ? K : M, " x ", a_cols, "), got ", lda);
  GESSO_CHECK(ldb >= std::max<int64_t>(1, b_cols), "gemm: ldb must be >= ", std::max<int64_t>(1, b_cols),
              " (the stored B is ", trans_b ? N : K, " x ", b_cols, "), got ", ldb);
  GESSO_CHECK(ldc >= std::max<int64_t>(1, N), "gemm: ldc must be >= ", std::max<int64_t>(1, N),
              " (C is ", M, " x ", N, "), got ", ldc);
  GESSO_CHECK(M == 0 || N == 0 || (C != nullptr && (K == 0 || (A != nullptr && B != nullptr))),
              "gemm: null matrix pointer for a ", M, " x ", N, " x ", K, " product");
}

// The product on a given backend, arguments already checked; throws nothing,
// so it may run inside a parallel region.
template <class T>
void gemm_on(GemmBackend backend, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
             int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
#ifdef GESSO_HAVE_OPENBLAS
  // CBLAS takes 32-bit ints; larger problems go to the handwritten kernel.
  const bool fits_int = std::max({M, N, K, lda, ldb, ldc}) <= INT_MAX;
  if (backend == GemmBackend::openblas && fits_int) {
    openblas_gemm(trans_a, trans_b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A,
                  static_cast<int>(lda), B, static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
    return;
  }
#endif
  gemm_blocked_cpu(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

GemmBackend prepared_backend() {
  GemmBackend b = gemm_backend();
#ifdef GESSO_HAVE_OPENBLAS
  if (b == GemmBackend::openblas) openblas_share_threads_once();
#endif
  return b;
}

}  // namespace

template <class T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  check_gemm_args(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  gemm_on(prepared_backend(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_batched_cpu(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                      const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta,
                      T* C, int64_t ldc, int64_t stride_c) {
  GESSO_CHECK(batch >= 0, "gemm_batched: batch must be >= 0, got ", batch);
  check_gemm_args(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  const GemmBackend backend = prepared_backend();
  // Small products gain nothing from threads inside one GEMM: give each thread whole products.
  const bool across = batch > 1 && M * N * K < 8 * kGemmParallelMacs && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (across)
  for (int64_t i = 0; i < batch; ++i)
    gemm_on(backend, trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
            C + i * stride_c, ldc);
}

#define GESSO_INSTANTIATE(T)                                                                                   \
  template void gemm_cpu<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                            T*, int64_t);                                                                      \
  template void gemm_blocked_cpu<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,     \
                                    int64_t, T, T*, int64_t);                                                  \
  template void gemm_batched_cpu<T>(int64_t, bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,      \
                                    int64_t, const T*, int64_t, int64_t, T, T*, int64_t, int64_t);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE

}  // namespace gesso::kernels
