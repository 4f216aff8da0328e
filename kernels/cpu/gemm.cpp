/*
 * gemm.cpp: the CPU GEMM of kernels/gemm.h: the handwritten cache-blocked
 * kernel, the OpenBLAS call, and the run-time choice between them.
 *
 * The handwritten kernel follows the GotoBLAS/BLIS loop structure. Each
 * thread owns a rectangle of C (see "Threads" below) and runs, on it:
 *
 *   for jc over N in steps of NC             columns of C and B
 *     for pc over K in steps of KC           the shared dimension
 *       pack B[pc:pc+KC, jc:jc+NC]           the B panel, in slivers of NR columns   -> L2
 *       for ir over M in steps of MR         rows of C and A
 *         pack A[ir:ir+MR, pc:pc+KC]         one A panel                             -> L1
 *         for jr over the NC columns in steps of NR
 *           micro-kernel: C[ir:ir+MR, jr:jr+NR] (=, +=) A panel . B sliver        -> registers
 *
 * Why the blocking: the micro-kernel keeps an MR x NR tile of C in registers
 * and, per step of k, reads MR values of A and NR values of B for MR * NR
 * multiply-adds. Its A panel (MR x KC: 6 or 12 KiB) stays in L1 while the B
 * slivers (KC x NR each) stream past it from the B panel, which stays in L2
 * (NC is chosen from L2's size). C is read and written once per K block.
 * Packing copies each block into the exact order the micro-kernel reads it
 * (contiguous, zero-padded to whole tiles), which also makes the four
 * transpose cases one code path: only the packing looks at trans_a, trans_b
 * and the leading dimensions, and it knows just two layouts (a copy, or a
 * transpose done eight by eight in registers). When C is narrow (a few
 * slivers), each A value is used too few times to repay its packing, and
 * whole A panels are read where they lie instead.
 * (The textbook order keeps the B sliver in L1 and a block of A panels in
 * L2. On Emerald Rapids this one was about 5 % faster at n = 2048: the
 * AVX-512 kernel's 32 KiB B sliver left too little of a 48 KiB L1 for the
 * A values streaming past it.)
 *
 * Micro-kernels, one per ISA (kernels/cpu_isa.h picks one at run time):
 *   avx2    6 x 16 floats: the C tile is 6 rows of 2 ymm = 12 of the 16 ymm
 *           registers; 2 more hold the B row and 1 the broadcast A value.
 *   avx512  12 x 32 floats: 12 rows of 2 zmm = 24 of the 32 zmm registers,
 *           2 for the B row, 1 for the A value. 14 x 32 (28 + 3 registers)
 *           fits too; it measured no faster on large squares and slower
 *           where M is a power of two (128 rows = 10.7 panels of 12, with
 *           less zero padding than 9.1 panels of 14).
 * The bigger the tile, the more multiply-adds per value loaded: 12 x 32
 * does 24 vector FMAs per 2 vector loads and 12 broadcasts, 6 x 16 does 12
 * per 2 + 6; and both keep enough independent sums (12, 24) to hide the
 * FMA latency on two FMA units (4 cycles x 2 units = 8 in flight). Both are
 * written with intrinsics, so that the tile provably stays in registers, and
 * C is read and written once per K block straight from them (alpha and beta
 * applied there). Tiles cut by the edge of C run a half-height or half-width
 * variant when they fit in one, skipping the zero half; AVX-512 masks their
 * loads and stores, AVX2 passes them through a small buffer.
 * double (and any CPU that is not x86-64) uses a portable C++ kernel of
 * 6 x 8 (6 x 16 for float) that the compiler vectorises.
 *
 * Threads: the team splits C into a grid of rectangles, one per thread,
 * along M or N, whichever leaves the busiest thread the least work
 * (multiply-adds plus packing); each thread packs what it needs itself. No
 * thread waits for another until the end, which matters because the team
 * sleeps instead of spinning (OMP_WAIT_POLICY=passive): every wait costs a
 * wake-up. Products too small to repay waking a thread run on one.
 */
#include "kernels/gemm.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>
#include <type_traits>

#include "kernels/common.h"
#include "kernels/cpu/thread_scratch.h"
#include "kernels/cpu_isa.h"
#include "tensor/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define GESSO_GEMM_X86 1
#define GESSO_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define GESSO_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#endif

#ifdef GESSO_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace gesso::kernels {

namespace {

// Waking a sleeping helper thread and waiting for it at the end cost about
// as much time as this many multiply-adds (5-20 us with
// OMP_WAIT_POLICY=passive; measured: 160^3 was slower on 2 threads than on
// 1, 192^3 faster). choose_grid charges it to every split.
constexpr int64_t kWakeMacs = int64_t(3) << 20;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// ---- packing
//
// A panel of width W holds, for each k in [0, kc), W consecutive values:
//   panel[k * W + r] = X(r, k)   for r < width, and 0 for width <= r < W,
// where the source is stored one of two ways:
//   k-major  X(r, k) = src[k * ld + r]: the W values of one k are contiguous (a copy)
//   r-major  X(r, k) = src[r * ld + k]: the kc values of one r are contiguous (a transpose)
// An A panel is W = MR rows of op(A): k-major when A is transposed, r-major
// when not. A B sliver is W = NR columns of op(B): k-major when B is not
// transposed, r-major when it is.
template <class T>
using PackFn = void (*)(const T* src, int64_t ld, bool k_major, int width, int64_t kc, T* out);

template <class T, int W>
void pack_panel_portable(const T* src, int64_t ld, bool k_major, int width, int64_t kc, T* out) {
  for (int64_t k = 0; k < kc; ++k) {
    T* dst = out + k * W;
    if (k_major) {
      for (int r = 0; r < width; ++r) dst[r] = src[k * ld + r];
    } else {
      for (int r = 0; r < width; ++r) dst[r] = src[r * ld + k];
    }
    for (int r = width; r < W; ++r) dst[r] = T(0);
  }
}

#ifdef GESSO_GEMM_X86
// Transposes the 8 x 8 block held in v[0..7] (v[i] = row i) so that v[j]
// holds column j: three rounds of shuffles, pairs of values, then pairs of
// pairs, then 128-bit halves.
GESSO_TARGET_AVX2 inline void transpose8x8(__m256 v[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Stores the first n (a compile-time constant after inlining: 2, 4, 6 or 8) floats of v.
GESSO_TARGET_AVX2 inline void store_first(float* p, __m256 v, int n) {
  if (n == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 half = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, half);
    half = _mm256_extractf128_ps(v, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), half);
    half = _mm_movehl_ps(half, half);
    p += 2;
    n -= 2;
  }
  if (n == 1) _mm_store_ss(p, half);
}

// pack_panel for float. The copy (k-major) is left to the compiler: a
// fixed-size row copy it turns into vector moves. The transpose (r-major)
// would otherwise read W rows one float at a time: here it loads 8 floats
// from each of 8 rows, transposes the 8 x 8 block in registers and stores 8
// rows of the panel, W / 8 groups of rows at a time.
template <int W>
GESSO_TARGET_AVX2 void pack_panel_f32(const float* src, int64_t ld, bool k_major, int width, int64_t kc,
                                      float* out) {
  // Edge panels (width < W) are rare; the portable loop handles them.
  if (width < W) return pack_panel_portable<float, W>(src, ld, k_major, width, kc, out);
  if (k_major) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * ld;
      float* d = out + k * W;
#pragma GCC unroll 32
      for (int r = 0; r < W; ++r) d[r] = s[r];
    }
    return;
  }
  const int64_t k8 = kc / 8 * 8;
#pragma GCC unroll 4
  for (int g = 0; g < W; g += 8) {
    const int rows = std::min(8, W - g);
    const float* s = src + g * ld;
    float* d = out + g;
    for (int64_t k = 0; k < k8; k += 8) {
      __m256 v[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) v[i] = i < rows ? _mm256_loadu_ps(s + i * ld + k) : _mm256_setzero_ps();
      transpose8x8(v);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) store_first(d + (k + i) * W, v[i], rows);
    }
  }
  for (int64_t k = k8; k < kc; ++k)
    for (int r = 0; r < W; ++r) out[k * W + r] = src[r * ld + k];
}
#endif

// ---- micro-kernels
//
// A tile function computes one tile of C from an A panel (MR x kc) and a B
// sliver (kc x NR):
//   C[0:rows, 0:cols] = alpha * (sum over k of a[:, k] outer b[k, :]) + beta * C
// reading C only when beta != 0 (rows <= MR, cols <= NR).
//
// The A panel's element (i, k) is at data[i * row_stride + k * k_stride]:
//   packed                      row_stride = 1,   k_stride = MR
//   in place, A transposed      row_stride = 1,   k_stride = lda
//   in place, A not transposed  row_stride = lda, k_stride = 1
// (in place: only whole panels, rows == MR, are read where they lie; see gemm_rectangle).
template <class T>
struct APanel {
  const T* data;
  int64_t row_stride, k_stride;
};

template <class T>
using TileFn = void (*)(int64_t kc, APanel<T> a, const T* b, T* C, int64_t ldc, int rows, int cols, T alpha, T beta);

// The portable kernel, the reference for the others: the loops over i and j
// have constant bounds, so the compiler unrolls them and keeps `c` in vector
// registers for the whole k loop. Every tile then goes through memory once
// more (c to C), which the intrinsics kernels avoid.
template <class T, int MR, int NR>
void tile_portable(int64_t kc, APanel<T> a, const T* __restrict b, T* C, int64_t ldc, int rows, int cols, T alpha,
                   T beta) {
  T c[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const T* bk = b + k * NR;
    const T* ak = a.data + k * a.k_stride;
    for (int i = 0; i < MR; ++i) {
      const T ai = ak[i * a.row_stride];
#pragma omp simd
      for (int j = 0; j < NR; ++j) c[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < rows; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0)) {
      for (int j = 0; j < cols; ++j) row[j] = alpha * c[i][j];
    } else {
      for (int j = 0; j < cols; ++j) row[j] = alpha * c[i][j] + beta * row[j];
    }
  }
}

#ifdef GESSO_GEMM_X86
// One step of k for the AVX2 tile: c += a[:, k] outer b[k, :], with the A
// values at p[i * rs] (rs = 1: a packed or transposed panel).
template <int MR, int NV>
GESSO_TARGET_AVX2 __attribute__((always_inline)) inline void step_avx2(__m256 (&c)[MR][NV], const float* p,
                                                                       int64_t rs, const float* b) {
  __m256 bk[NV];
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) bk[j] = _mm256_loadu_ps(b + 8 * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const __m256 ai = _mm256_broadcast_ss(p + i * rs);
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) c[i][j] = _mm256_fmadd_ps(ai, bk[j], c[i][j]);
  }
}

// AVX2 + FMA, MR rows (6), NV ymm vectors of 8 floats per row (NV = 2: the
// 6 x 16 tile). The halves (MR = 3 for panels of at most 3 rows, NV = 1 for
// slivers at most 8 wide) skip the zero half of an edge tile.
// Over the portable kernel: the tile is pinned in 12 registers, the A value
// is one broadcast load, and full tiles go straight from the registers to C.
// Edge tiles go through a small buffer, since AVX2 has no cheap masked store.
template <int MR, int NV>
GESSO_TARGET_AVX2 void tile_avx2(int64_t kc, APanel<float> a, const float* __restrict b, float* C, int64_t ldc,
                                 int rows, int cols, float alpha, float beta) {
  constexpr int NR = 16;
  __m256 c[MR][NV];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) c[i][j] = _mm256_setzero_ps();
  for (int i = 0; i < rows; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 8 * NV - 1), _MM_HINT_T0);
  }
  const float* p = a.data;
  if (a.row_stride == 1) {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, p += a.k_stride, b += NR) step_avx2(c, p, 1, b);
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, ++p, b += NR) step_avx2(c, p, a.row_stride, b);
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (rows == MR && cols == 8 * NV) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* row = C + i * ldc;
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) {
        __m256 v = _mm256_mul_ps(c[i][j], va);
        if (beta != 0.0f) v = _mm256_fmadd_ps(_mm256_loadu_ps(row + 8 * j), vb, v);
        _mm256_storeu_ps(row + 8 * j, v);
      }
    }
    return;
  }
  // (Unrolled like the loops above: indexing c with a run-time i would make
  // the compiler keep the whole tile in memory, in the k loop too.)
  alignas(32) float acc[MR][8 * NV];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) _mm256_store_ps(&acc[i][8 * j], c[i][j]);
  for (int i = 0; i < rows; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < cols; ++j) row[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < cols; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
    }
  }
}

// The same step for the AVX-512 tile.
template <int MR, int NV>
GESSO_TARGET_AVX512 __attribute__((always_inline)) inline void step_avx512(__m512 (&c)[MR][NV], const float* p,
                                                                           int64_t rs, const float* b) {
  __m512 bk[NV];
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) bk[j] = _mm512_loadu_ps(b + 16 * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const __m512 ai = _mm512_set1_ps(p[i * rs]);
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) c[i][j] = _mm512_fmadd_ps(ai, bk[j], c[i][j]);
  }
}

// AVX-512, MR rows (12), NV zmm vectors of 16 floats per row (NV = 2: the
// 12 x 32 tile; halves as for AVX2: MR = 6, NV = 1). Over the AVX2 kernel:
// twice the width and twice the registers, so 24 accumulators of 16 floats
// instead of 12 of 8 (four times the multiply-adds per tile, twice per value
// loaded), and masked loads and stores, so that edge tiles too go straight
// from the registers to C.
template <int MR, int NV>
GESSO_TARGET_AVX512 void tile_avx512(int64_t kc, APanel<float> a, const float* __restrict b, float* C, int64_t ldc,
                                     int rows, int cols, float alpha, float beta) {
  constexpr int NR = 32;
  __m512 c[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) c[i][j] = _mm512_setzero_ps();
  // C is first needed after the k loop: ask for it now, so that it is in
  // L1 by then (a prefetch never faults, even past the matrix).
  for (int i = 0; i < rows; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 16 * NV - 1), _MM_HINT_T0);
  }
  const float* p = a.data;
  if (a.row_stride == 1) {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, p += a.k_stride, b += NR) step_avx512(c, p, 1, b);
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, ++p, b += NR) step_avx512(c, p, a.row_stride, b);
  }
  // Columns past `cols` are masked off: neither read nor written.
  __mmask16 mask[NV];
  for (int j = 0; j < NV; ++j) {
    const int left = cols - 16 * j;
    mask[j] = left >= 16 ? __mmask16(0xFFFF) : left > 0 ? __mmask16((1u << left) - 1) : __mmask16(0);
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= rows) break;
    float* row = C + i * ldc;
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      __m512 v = _mm512_mul_ps(c[i][j], va);
      if (beta != 0.0f) v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask[j], row + 16 * j), vb, v);
      _mm512_mask_storeu_ps(row + 16 * j, mask[j], v);
    }
  }
}
#endif

// ---- kernel table

// One micro-kernel with everything the blocked loops need to drive it.
template <class T>
struct MicroKernel {
  int MR, NR;            // the register tile
  int64_t KC;            // K block: an A panel (MR x KC) stays in L1
  // tile[short][narrow]: the full MR x NR kernel, and variants for tiles cut
  // by the matrix edge to at most MR / 2 rows (short) or NR / 2 columns
  // (narrow), which skip the multiply-adds of the empty half.
  TileFn<T> tile[2][2];
  PackFn<T> pack_a;      // panels of MR rows
  PackFn<T> pack_b;      // slivers of NR columns
};

// KC = 256: an A panel is 6 x 256 floats = 6 KiB (AVX2) or 12 x 256 = 12 KiB
// (AVX-512), which stays in a 32-48 KiB L1 while B slivers (256 x 16 or
// 256 x 32 floats, 16 or 32 KiB) stream past it from L2. A larger KC would
// read and write C less often but crowd L1; on Emerald Rapids 256, 320 and
// 384 measured within noise of each other, 512 and 192 a few % slower.
// NC, the B panel's width, follows from L2's size (see b_panel_columns).
template <class T>
const MicroKernel<T>& portable_kernel() {
  constexpr int MR = 6, NR = std::is_same<T, float>::value ? 16 : 8;
  static const MicroKernel<T> k = {MR,
                                   NR,
                                   256,
                                   {{tile_portable<T, MR, NR>, tile_portable<T, MR, NR>},
                                    {tile_portable<T, MR, NR>, tile_portable<T, MR, NR>}},
                                   pack_panel_portable<T, MR>,
                                   pack_panel_portable<T, NR>};
  return k;
}

const MicroKernel<float>& float_kernel(CpuIsa isa) {
#ifdef GESSO_GEMM_X86
  static const MicroKernel<float> avx2 = {6,
                                          16,
                                          256,
                                          {{tile_avx2<6, 2>, tile_avx2<6, 1>}, {tile_avx2<3, 2>, tile_avx2<3, 1>}},
                                          pack_panel_f32<6>,
                                          pack_panel_f32<16>};
  static const MicroKernel<float> avx512 = {12,
                                            32,
                                            256,
                                            {{tile_avx512<12, 2>, tile_avx512<12, 1>},
                                             {tile_avx512<6, 2>, tile_avx512<6, 1>}},
                                            pack_panel_f32<12>,
                                            pack_panel_f32<32>};
  return isa == CpuIsa::avx512 ? avx512 : avx2;
#else
  (void)isa;
  return portable_kernel<float>();
#endif
}

template <class T>
const MicroKernel<T>& kernel_for(CpuIsa isa);
template <>
const MicroKernel<float>& kernel_for<float>(CpuIsa isa) {
  return float_kernel(isa);
}
template <>
const MicroKernel<double>& kernel_for<double>(CpuIsa) {
  return portable_kernel<double>();
}

// ---- the blocked loops

// The width NC of a packed B panel (kc x NC values of T): as wide as fits in
// half of this core's L2 cache (the other half for the A panels and C),
// where it stays while every A panel streams past it. 1024 floats at
// KC = 256 with a 2 MiB L2; 256 with a 512 KiB L2.
int64_t b_panel_columns(int64_t kc, int64_t value_bytes, int NR) {
  static const int64_t l2_bytes = [] {
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return v > 0 ? int64_t(v) : int64_t(512) << 10;  // unknown: assume a small L2
  }();
  const int64_t columns = l2_bytes / 2 / (kc * value_bytes);
  return std::clamp<int64_t>(columns / NR * NR, 4 * NR, 4096);
}

// Packing buffers: per thread, kept between calls (kernels/cpu/thread_scratch.h).
struct GemmScratch;
template <class T>
T* thread_buffer(int which, int64_t n) {
  return thread_scratch<T, GemmScratch, 2>(which, n);
}

// Splits [0, n) into ceil(n / max_block) blocks of nearly equal size, each a
// multiple of `unit` (except the last): returns that block size. Equal blocks
// avoid a thin last block (a K block of 20 would spend as long loading and
// storing C as multiplying).
inline int64_t even_block(int64_t n, int64_t max_block, int64_t unit) {
  return std::min(round_up(ceil_div(n, ceil_div(n, max_block)), unit), round_up(n, unit));
}

// The product restricted to rows [m0, m1) and columns [n0, n1) of C, on the
// calling thread. All of K, so each element of C is summed in the same order
// however C was cut between threads.
template <class T>
void gemm_rectangle(const MicroKernel<T>& uk, bool trans_a, bool trans_b, int64_t m0, int64_t m1, int64_t n0,
                    int64_t n1, int64_t K, T alpha, const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                    int64_t ldc) {
  const int MR = uk.MR, NR = uk.NR;
  const int64_t kc_max = even_block(K, uk.KC, 8);
  const int64_t nc_max = even_block(n1 - n0, b_panel_columns(kc_max, sizeof(T), NR), NR);
  T* packed_b = thread_buffer<T>(0, kc_max * nc_max);
  T* packed_a = thread_buffer<T>(1, kc_max * MR);

  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, K - pc);
      const T beta_here = pc == 0 ? beta : T(1);  // later K blocks add to what the first wrote
      // The B panel (kc x nc), sliver by sliver: it stays in L2.
      for (int64_t s = 0; s * NR < nc; ++s) {
        const int64_t j = jc + s * NR;
        const int cols = static_cast<int>(std::min<int64_t>(NR, nc - s * NR));
        const T* src = trans_b ? B + j * ldb + pc : B + pc * ldb + j;
        uk.pack_b(src, ldb, /*k_major=*/!trans_b, cols, kc, packed_b + s * kc * NR);
      }
      for (int64_t i = m0; i < m1; i += MR) {
        // One A panel (MR x kc), packed just before its use: it stays in L1
        // while the B slivers stream past it, one tile of C each. When there
        // are at most four slivers, packing costs a good share of the
        // multiply-adds it feeds: whole panels are then read where they lie
        // (measured up to 30 % faster for N = 16 ... 128, same speed beyond).
        const int rows = static_cast<int>(std::min<int64_t>(MR, m1 - i));
        const T* src = trans_a ? A + pc * lda + i : A + i * lda + pc;
        APanel<T> a{packed_a, 1, MR};
        if (nc <= 4 * NR && rows == MR) {
          a = trans_a ? APanel<T>{src, 1, lda} : APanel<T>{src, lda, 1};
        } else {
          uk.pack_a(src, lda, /*k_major=*/trans_a, rows, kc, packed_a);
        }
        for (int64_t s = 0; s * NR < nc; ++s) {
          const int cols = static_cast<int>(std::min<int64_t>(NR, nc - s * NR));
          const TileFn<T> tile = uk.tile[2 * rows <= MR][2 * cols <= NR];
          tile(kc, a, packed_b + s * kc * NR, C + i * ldc + jc + s * NR, ldc, rows, cols, alpha, beta_here);
        }
      }
    }
  }
}

// How the team cuts C: tm row bands times tn column bands, one rectangle per
// thread.
struct Grid {
  int tm = 1, tn = 1;
};

// The grid (using up to `threads` threads) under which the busiest thread
// has the least to do: its multiply-adds, counting the zero padding of
// partial tiles, plus its packing (each thread packs its own columns of B
// once and its rows of A once per B panel; a packed value costs about as
// much as 16 multiply-adds), plus, when there are helpers, the cost of
// waking them.
template <class T>
Grid choose_grid(const MicroKernel<T>& uk, int64_t M, int64_t N, int64_t K, int threads) {
  const int64_t panels = ceil_div(M, uk.MR), slivers = ceil_div(N, uk.NR);
  const int64_t nc = b_panel_columns(even_block(K, uk.KC, 8), sizeof(T), uk.NR);
  const double pack_cost = 16, wake_cost = double(kWakeMacs);
  Grid best;
  double best_cost = -1;
  for (int t = 1; t <= threads; ++t) {
    for (int tm = 1; tm <= t; ++tm) {
      if (t % tm != 0) continue;
      const int tn = t / tm;
      if (tm > panels || tn > slivers) continue;
      const int64_t rows = ceil_div(panels, tm) * uk.MR, cols = ceil_div(slivers, tn) * uk.NR;
      const double macs = double(rows) * double(cols) * double(K);
      const double packed = double(K) * double(rows * ceil_div(cols, nc) + cols);
      const double cost = macs + pack_cost * packed + (t > 1 ? wake_cost : 0.0);
      if (best_cost < 0 || cost < best_cost) {
        best_cost = cost;
        best = {tm, tn};
      }
    }
  }
  return best;
}

template <class T>
void gemm_with(const MicroKernel<T>& uk, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
               const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const Grid grid = choose_grid(uk, M, N, K, threads);
  const int64_t panels = ceil_div(M, uk.MR), slivers = ceil_div(N, uk.NR);
  const int rectangles = grid.tm * grid.tn;
#pragma omp parallel num_threads(rectangles) if (rectangles > 1)
  {
    // One rectangle per thread (the loop only matters if OpenMP gave fewer threads than asked).
    for (int r = omp_get_thread_num(); r < rectangles; r += omp_get_num_threads()) {
      const int64_t bi = r / grid.tn, bj = r % grid.tn;
      // Band bi holds panels [bi * panels / tm, (bi + 1) * panels / tm): whole tiles, nearly equal shares.
      const int64_t m0 = bi * panels / grid.tm * uk.MR, m1 = std::min(M, (bi + 1) * panels / grid.tm * uk.MR);
      const int64_t n0 = bj * slivers / grid.tn * uk.NR, n1 = std::min(N, (bj + 1) * slivers / grid.tn * uk.NR);
      if (m0 < m1 && n0 < n1)
        gemm_rectangle(uk, trans_a, trans_b, m0, m1, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
  }
}

// C = beta * C: the whole product when K == 0 or alpha == 0.
template <class T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// ---- matrix-vector products
//
// A product with one column (N == 1) or one row (M == 1) uses each value of
// the matrix once: it is bound by reading the matrix, and the tile kernels,
// whose MR x NR tiles would be all but one row or column of zero padding,
// ran it at a tenth of that speed (DCGAN's 512 -> 1 layer: y = x . w^T with
// x 64 x 8192, 200 us, and slower on 2 threads than on 1). Two forms, by
// which side of the matrix is contiguous:
//   dot   out[i] = sum_k M[i][k] v[k], rows of M contiguous (one output at a time)
//   axpy  out[j] = sum_k v[k] M[k][j], rows of M contiguous (a row at a time into all outputs)
// Each output is summed in the same order however the outputs are split
// between threads, so 2 threads give the same bits as 1.

// The matrix-vector work below this many multiply-adds stays on one thread:
// waking a helper costs more than it saves (measured: 64 x 8192, 2 MiB of
// floats, 86 us on one thread, 90 on two, most of the difference in futex
// wake-ups; 1 x 4096 x 1024 halves on two).
constexpr int64_t kGemvParallelMacs = int64_t(1) << 20;

// out[i * ldo] = alpha * sum_k mat[i * ldm + k] * vec[k * incv] + beta * out[i * ldo], i < rows
template <class T>
void gemv_dot(int64_t rows, int64_t K, T alpha, const T* mat, int64_t ldm, const T* vec, int64_t incv, T beta,
              T* out, int64_t ldo) {
  std::vector<T> packed;  // the vector made contiguous, when it is not
  if (incv != 1) {
    packed.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) packed[k] = vec[k * incv];
    vec = packed.data();
  }
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && rows * K > kGemvParallelMacs)
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = mat + i * ldm;
    T sum = T(0);
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < K; ++k) sum += row[k] * vec[k];
    out[i * ldo] = beta == T(0) ? alpha * sum : alpha * sum + beta * out[i * ldo];
  }
}

// out[j * ldo] = alpha * sum_k vec[k * incv] * mat[k * ldm + j] + beta * out[j * ldo], j < cols
template <class T>
void gemv_axpy(int64_t cols, int64_t K, T alpha, const T* mat, int64_t ldm, const T* vec, int64_t incv, T beta,
               T* out, int64_t ldo) {
  const int threads = omp_in_parallel() || cols * K <= kGemvParallelMacs ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    // Each thread sums a block of columns (a multiple of 16: whole vectors) in a buffer that stays in cache.
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const int64_t blocks = ceil_div(cols, 16);
    const int64_t j0 = std::min(cols, blocks * t / team * 16), j1 = std::min(cols, blocks * (t + 1) / team * 16);
    constexpr int64_t kChunk = 2048;  // columns summed at a time: 8 KiB of floats
    T acc[kChunk];
    for (int64_t c0 = j0; c0 < j1; c0 += kChunk) {
      const int64_t n = std::min(kChunk, j1 - c0);
      std::fill(acc, acc + n, T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T v = vec[k * incv];
        const T* row = mat + k * ldm + c0;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) acc[j] += v * row[j];
      }
      for (int64_t j = 0; j < n; ++j)
        out[(c0 + j) * ldo] = beta == T(0) ? alpha * acc[j] : alpha * acc[j] + beta * out[(c0 + j) * ldo];
    }
  }
}

// True when the product was a matrix-vector one and has been computed.
template <class T>
bool try_gemv(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (N == 1 && M > 1) {
    // C's column (M outputs, ldc apart) = op(A) (M x K) . op(B)'s column (element k at B[k * ldb] or B[k]).
    const int64_t incb = trans_b ? 1 : ldb;
    if (trans_a)  // A stored K x M: rows of A are contiguous over the outputs
      gemv_axpy(M, K, alpha, A, lda, B, incb, beta, C, ldc);
    else
      gemv_dot(M, K, alpha, A, lda, B, incb, beta, C, ldc);
    return true;
  }
  if (M == 1 && N > 1) {
    // C's row (N outputs) = op(A)'s row (element k at A[k] or A[k * lda]) . op(B) (K x N).
    const int64_t inca = trans_a ? lda : 1;
    if (trans_b)  // B stored N x K: one contiguous row of B per output
      gemv_dot(N, K, alpha, B, ldb, A, inca, beta, C, 1);
    else
      gemv_axpy(N, K, alpha, B, ldb, A, inca, beta, C, 1);
    return true;
  }
  return false;
}

}  // namespace

template <class T>
void gemm_blocked_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                      int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (try_gemv(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
  gemm_with(kernel_for<T>(cpu_isa()), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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

// The handwritten kernel: with its AVX2 and AVX-512 micro-kernels it was
// measured at or above OpenBLAS 0.3.21 at its best core type (see
// bench/bench_gemm.cpp), and it needs no OPENBLAS_CORETYPE on CPUs newer than
// the library, where OpenBLAS falls back to generic SSE3 kernels.
GemmBackend default_backend() { return GemmBackend::handwritten; }
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
  // The handwritten kernel's ISA is settled here too, so that a bad
  // GESSO_CPU_ISA throws where gemm_backend() is asked (callers do so before
  // their parallel regions), never inside one.
  (void)cpu_isa();
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
  // Small products gain little from threads inside one GEMM: give each thread whole products.
  const bool across = batch > 1 && M * N * K < 4 * kWakeMacs && !omp_in_parallel();
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
