/*
 * winograd.cpp: Winograd F(4x4, 3x3) convolution, float, CPU (winograd.h).
 *
 * The idea, in one dimension. Four outputs of a 3-tap filter g over six
 * inputs d, y_i = sum_j g_j d_{i+j} (i = 0..3), cost 12 multiplications done
 * directly. Winograd's minimal filtering computes them with 6:
 *
 *   y = A^T [ (G g) * (B^T d) ]        (* is elementwise, 6 products)
 *
 * where B^T (6x6), G (6x3) and A^T (4x6) come from evaluating polynomials at
 * the points 0, 1, -1, 2, -2 and infinity (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015):
 *
 *   B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |   A^T = | 1  1  1  1  1  0 |
 *         | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
 *         | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |         | 0  1  1  4  4  0 |
 *         | 0 -2 -1  2  1  0 |       |  1/24  1/12  1/6  |         | 0  1 -1  8 -8  1 |
 *         | 0  2 -1 -2  1  0 |       |  1/24 -1/12  1/6  |
 *         | 0  4  0 -5  0  1 |       |  0     0     1    |
 *
 * Nested in two dimensions, a 4x4 output tile Y of a 3x3 filter g over a 6x6
 * input tile d is Y = A^T [ (G g G^T) * (B^T d B) ] A: 36 multiplications
 * instead of 144. A convolution layer sums over input channels, and the sum
 * commutes with A^T . A, so for every one of the 36 points k of the 6x6 grid
 *
 *   M[k](co, tile) = sum_ci U[k](co, ci) * V[k](ci, tile)
 *
 * is a matrix product (C_out x C_in) . (C_in x tiles). The convolution becomes
 *
 *   1. weights:  U[k] = (G g G^T)[k] per (co, ci)       layout (36, C_out, C_in)
 *   2. input:    V[k] = (B^T d B)[k] per (ci, tile)     layout (36, C_in, T)
 *   3. products: M[k] = U[k] . V[k], 36 GEMMs            layout (36, C_out, T)
 *   4. output:   y tile = A^T M A + bias per (co, tile)  (4x4, clipped at the edges)
 *
 * with 4x fewer multiply-adds in the GEMMs than im2col's (C_out x 9 C_in) .
 * (9 C_in x pixels). The transforms cost O(C (C_in + C_out)) per tile, small
 * beside the GEMMs' O(C_in C_out) once both channel counts reach a few dozen;
 * below that, and for tiny images, im2col wins (winograd_profitable).
 *
 * Why 4x4 tiles and not 2x2: F(2x2, 3x3) does 16 products per 4 outputs,
 * 2.25x fewer than direct (4x here), and its V and M hold 4 values per output
 * pixel instead of 2.25, so both its GEMMs and its tile transforms cost ~1.8x
 * more per pixel; only its U is smaller (16 values per filter instead of 36).
 * With this file's phase profile (GEMMs and tile transforms dominate from 64
 * px up; U dominates only the deep, tile-poor layers, where F(2x2) would at
 * best break even) that makes F(4x4) the better choice everywhere measured.
 * Larger tiles (F(6x6, 3x3)) save more but use points like +-1/2 and +-3
 * whose rounding error grows fast in float; F(4x4)'s error is about 10x a
 * direct sum's (tests/test_winograd.cpp).
 *
 * Memory and cache: the tiles (over all images, row by row) are cut into
 * blocks of T <= 256 tiles, T chosen so that V and M fit in
 * conv_col_budget() elements and blocks are even. One OpenMP parallel region
 * runs phase 1 (threads over output channels), then per block: phase 2
 * (threads over input channels, each sweeping all the block's tiles, so
 * that it reads its input rows and writes its rows of V sequentially), phase
 * 3 (the 36 GEMMs spread over the threads, each GEMM on one thread: gemm_cpu
 * runs single-threaded inside a parallel region), phase 4 (threads over
 * output channels), with the loops' barriers between phases. U is four times
 * the weight (38 MB for 512 x 512 channels): writing it and reading it back
 * is what makes Winograd lose on small images (winograd_profitable).
 *
 * Vectorisation: every transform works on 8 tiles (or 8 input channels for
 * the weights) at once, stored lane-minor (d[row][col][lane]), so each line
 * of the factored formulas below is one 8-wide AVX2 operation; the compiler
 * vectorises the lane loops (`omp simd`). Moving 8 tiles between the image
 * and that layout is a stride-4 (de)interleave: split_row and merge_row do
 * it with AVX2 shuffles when 8 tiles lie side by side in a row (the common
 * case), a plain loop per tile does it otherwise (rows of fewer than 8 tiles,
 * groups straddling two rows). Transformed tiles go to V with whole 8-float
 * stores, since 8 consecutive tiles are 8 consecutive columns of V[k].
 *
 * The backward-input pass (gradient of x) is itself a 3x3 stride-1
 * convolution: gx = conv(gy, w'), w'[ci][co] = w[co][ci] flipped in both
 * axes, padding 2 - pad. Step 1 reads w in that order, so w' is never built.
 */
#include "kernels/winograd.h"

#include <omp.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/thread_scratch.h"
#include "kernels/gemm.h"
#include "tensor/error.h"

namespace gesso::kernels {

namespace {

constexpr int kOut = 4;      // output tile side (m)
constexpr int kIn = 6;       // input tile side (m + 3 - 1)
constexpr int kPoints = 36;  // kIn * kIn: one GEMM per point
constexpr int kLanes = 8;    // tiles (or channels) transformed together: one AVX2 vector of float

// Tiles per block: at most this many (the GEMMs' N: large enough that each
// GEMM's packing of U[k] is amortised; 64 to 512 measured the same), and a
// multiple of 16 (the GEMM's micro-tile width).
constexpr int64_t kMaxBlockTiles = 256;
constexpr int64_t kBlockQuantum = 16;

// ---- the 1-D transforms on kLanes lanes. Element e of the 1-D signal is at
// in[e * IS * kLanes + lane]; outputs likewise with stride OS.

// out = B^T in (6 -> 6): with t1..t4 shared between rows 1-2 and 3-4.
template <int IS, int OS>
inline void input_1d(const float* __restrict in, float* __restrict out) {
#pragma omp simd
  for (int l = 0; l < kLanes; ++l) {
    const float d0 = in[0 * IS * kLanes + l], d1 = in[1 * IS * kLanes + l], d2 = in[2 * IS * kLanes + l];
    const float d3 = in[3 * IS * kLanes + l], d4 = in[4 * IS * kLanes + l], d5 = in[5 * IS * kLanes + l];
    const float t1 = d4 - 4.0f * d2, t2 = d3 - 4.0f * d1;
    const float t3 = d4 - d2, t4 = 2.0f * (d3 - d1);
    out[0 * OS * kLanes + l] = 4.0f * d0 - 5.0f * d2 + d4;
    out[1 * OS * kLanes + l] = t1 + t2;
    out[2 * OS * kLanes + l] = t1 - t2;
    out[3 * OS * kLanes + l] = t3 + t4;
    out[4 * OS * kLanes + l] = t3 - t4;
    out[5 * OS * kLanes + l] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

// out = G in (3 -> 6).
template <int IS, int OS>
inline void weight_1d(const float* __restrict in, float* __restrict out) {
#pragma omp simd
  for (int l = 0; l < kLanes; ++l) {
    const float g0 = in[0 * IS * kLanes + l], g1 = in[1 * IS * kLanes + l], g2 = in[2 * IS * kLanes + l];
    const float s = g0 + g2, a = g0 * (1.0f / 24) + g2 * (1.0f / 6), b = g1 * (1.0f / 12);
    out[0 * OS * kLanes + l] = g0 * 0.25f;
    out[1 * OS * kLanes + l] = -(s + g1) * (1.0f / 6);
    out[2 * OS * kLanes + l] = -(s - g1) * (1.0f / 6);
    out[3 * OS * kLanes + l] = a + b;
    out[4 * OS * kLanes + l] = a - b;
    out[5 * OS * kLanes + l] = g2;
  }
}

// out = A^T in (6 -> 4).
template <int IS, int OS>
inline void output_1d(const float* __restrict in, float* __restrict out) {
#pragma omp simd
  for (int l = 0; l < kLanes; ++l) {
    const float m0 = in[0 * IS * kLanes + l], m1 = in[1 * IS * kLanes + l], m2 = in[2 * IS * kLanes + l];
    const float m3 = in[3 * IS * kLanes + l], m4 = in[4 * IS * kLanes + l], m5 = in[5 * IS * kLanes + l];
    const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
    out[0 * OS * kLanes + l] = m0 + a + c;
    out[1 * OS * kLanes + l] = b + 2.0f * d;
    out[2 * OS * kLanes + l] = a + 4.0f * c;
    out[3 * OS * kLanes + l] = b + 8.0f * d + m5;
  }
}

// ---- the 2-D transforms: a 1-D pass down the columns, then one along the rows.
// Arrays are [row][col][lane].

// v (6x6) = B^T d B for d (6x6).
inline void input_tile(const float* d, float* v) {
  alignas(32) float t[kIn * kIn * kLanes];
  for (int c = 0; c < kIn; ++c) input_1d<kIn, kIn>(d + c * kLanes, t + c * kLanes);
  for (int r = 0; r < kIn; ++r) input_1d<1, 1>(t + r * kIn * kLanes, v + r * kIn * kLanes);
}

// u (6x6) = G g G^T for g (3x3).
inline void weight_tile(const float* g, float* u) {
  alignas(32) float t[kIn * 3 * kLanes];
  for (int c = 0; c < 3; ++c) weight_1d<3, 3>(g + c * kLanes, t + c * kLanes);
  for (int r = 0; r < kIn; ++r) weight_1d<1, 1>(t + r * 3 * kLanes, u + r * kIn * kLanes);
}

// o (4x4) = A^T m A for m (6x6).
inline void output_tile(const float* m, float* o) {
  alignas(32) float t[kOut * kIn * kLanes];
  for (int c = 0; c < kIn; ++c) output_1d<kIn, kIn>(m + c * kLanes, t + c * kLanes);
  for (int r = 0; r < kOut; ++r) output_1d<1, 1>(t + r * kIn * kLanes, o + r * kOut * kLanes);
}

// ---- 8 consecutive tiles of one tile row: their columns interleave in memory
// (tile l's column c is at 4 l + c), so moving a row between the image and
// the lane-minor arrays is a stride-4 (de)interleave. The loops are the
// definition; the AVX2 versions do the same with in-register shuffles (a 4x4
// transpose within each 128-bit half), where the compiler would otherwise
// move one float at a time.

// d[c][l] = s[4 l + c] for c = 0..5 and the 8 lanes l: s holds 34 floats.
inline void split_row(const float* s, float* d) {
#if defined(__AVX2__)
  const __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
  const __m256 c = _mm256_loadu_ps(s + 16), e = _mm256_loadu_ps(s + 24);
  // x, y, z, w: tiles 0, 1, 2, 3 in the low halves and 4, 5, 6, 7 in the high halves, 4 columns each.
  const __m256 x = _mm256_permute2f128_ps(a, c, 0x20), y = _mm256_permute2f128_ps(a, c, 0x31);
  const __m256 z = _mm256_permute2f128_ps(b, e, 0x20), w = _mm256_permute2f128_ps(b, e, 0x31);
  const __m256 t0 = _mm256_unpacklo_ps(x, y), t1 = _mm256_unpackhi_ps(x, y);
  const __m256 t2 = _mm256_unpacklo_ps(z, w), t3 = _mm256_unpackhi_ps(z, w);
  const __m256 c0 = _mm256_shuffle_ps(t0, t2, 0x44), c1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 c2 = _mm256_shuffle_ps(t1, t3, 0x44), c3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  // Columns 4 and 5 are columns 0 and 1 of the next tile: shift a lane, bring in s[32], s[33].
  const __m256i next = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
  const __m256 c4 = _mm256_blend_ps(_mm256_permutevar8x32_ps(c0, next), _mm256_broadcast_ss(s + 32), 0x80);
  const __m256 c5 = _mm256_blend_ps(_mm256_permutevar8x32_ps(c1, next), _mm256_broadcast_ss(s + 33), 0x80);
  _mm256_store_ps(d + 0 * kLanes, c0);
  _mm256_store_ps(d + 1 * kLanes, c1);
  _mm256_store_ps(d + 2 * kLanes, c2);
  _mm256_store_ps(d + 3 * kLanes, c3);
  _mm256_store_ps(d + 4 * kLanes, c4);
  _mm256_store_ps(d + 5 * kLanes, c5);
#else
  for (int c = 0; c < kIn; ++c)
    for (int l = 0; l < kLanes; ++l) d[c * kLanes + l] = s[kOut * l + c];
#endif
}

// s[4 l + c] = o[c][l] for c = 0..3 and the 8 lanes l: 32 floats.
inline void merge_row(const float* o, float* s) {
#if defined(__AVX2__)
  const __m256 o0 = _mm256_load_ps(o), o1 = _mm256_load_ps(o + kLanes);
  const __m256 o2 = _mm256_load_ps(o + 2 * kLanes), o3 = _mm256_load_ps(o + 3 * kLanes);
  const __m256 t0 = _mm256_unpacklo_ps(o0, o1), t1 = _mm256_unpackhi_ps(o0, o1);
  const __m256 t2 = _mm256_unpacklo_ps(o2, o3), t3 = _mm256_unpackhi_ps(o2, o3);
  // x, y, z, w: the 4 columns of tiles 0, 1, 2, 3 (low halves) and 4, 5, 6, 7 (high halves).
  const __m256 x = _mm256_shuffle_ps(t0, t2, 0x44), y = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 z = _mm256_shuffle_ps(t1, t3, 0x44), w = _mm256_shuffle_ps(t1, t3, 0xEE);
  _mm256_storeu_ps(s, _mm256_permute2f128_ps(x, y, 0x20));
  _mm256_storeu_ps(s + 8, _mm256_permute2f128_ps(z, w, 0x20));
  _mm256_storeu_ps(s + 16, _mm256_permute2f128_ps(x, y, 0x31));
  _mm256_storeu_ps(s + 24, _mm256_permute2f128_ps(z, w, 0x31));
#else
  for (int c = 0; c < kOut; ++c)
    for (int l = 0; l < kLanes; ++l) s[kOut * l + c] = o[c * kLanes + l];
#endif
}

// ---- one convolution, forward or backward-input, in forward terms.

struct Problem {
  const float* x = nullptr;  // (N, C_in, H, W)
  float* y = nullptr;        // (N, C_out, OH, OW)
  const float* bias = nullptr;
  // The 3x3 filter from input channel ci to output channel co starts at
  // w + co * w_stride_out + ci * w_stride_in, taps row-major, reversed when flip.
  const float* w = nullptr;
  int64_t w_stride_out = 0, w_stride_in = 0;
  bool flip = false;
  int64_t N = 0, C_in = 0, C_out = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t pad_h = 0, pad_w = 0;  // may be negative (a crop) in backward-input
};

// Where one tile lives: its image and its output corner.
struct TileSpot {
  int64_t n, oh, ow;
};

struct TileGrid {
  int64_t rows, cols, per_image, total;
  TileSpot spot(int64_t t) const {
    const int64_t n = t / per_image, r = t % per_image;
    return {n, (r / cols) * kOut, (r % cols) * kOut};
  }
  // True when tiles [t0, t0 + 8) exist and lie side by side in one tile row.
  bool is_run(int64_t t0) const { return t0 + kLanes <= total && (t0 % per_image) % cols + kLanes <= cols; }
};

// Scratch kept between calls (kernels/cpu/thread_scratch.h). scratch(): U,
// V and M, owned by the calling thread (the OpenMP threads share pointers to
// them); own_scratch(): each thread's own.
struct WinogradShared;
struct WinogradOwn;
float* scratch(int slot, int64_t n) { return thread_scratch<float, WinogradShared, 3>(slot, n); }
float* own_scratch(int slot, int64_t n) { return thread_scratch<float, WinogradOwn, 2>(slot, n); }

// Phase 1, for output channel co, whose filters from input channel ci are at
// filters + ci * stride (9 taps row-major, reversed when flip):
// U[k][co][ci] = (G w G^T)[k] for every ci. Transformed 8 input channels at
// a time into `stage`, as they come out (36 x 8 per group of 8, which stays
// in L1), then copied out to U as 36 rows, each written front to back.
// Lanes past C_in repeat the last channel and are not copied out.
void transform_weights(const Problem& p, const float* filters, int64_t stride, int64_t co, float* stage, float* U) {
  int tap_at[9];
  for (int tap = 0; tap < 9; ++tap) tap_at[tap] = p.flip ? 8 - tap : tap;
  alignas(32) float g[9 * kLanes];
#if defined(__AVX2__)
  // The 8 lanes' filters lie `stride` apart: one gather per tap.
  const bool gather = 7 * stride <= INT32_MAX;
  const __m256i lane_at = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(gather ? stride : 0)));
#endif
  for (int64_t ci0 = 0; ci0 < p.C_in; ci0 += kLanes) {
#if defined(__AVX2__)
    if (gather && ci0 + kLanes <= p.C_in) {
      const float* f = filters + ci0 * stride;
      for (int tap = 0; tap < 9; ++tap)
        _mm256_store_ps(g + tap * kLanes, _mm256_i32gather_ps(f + tap_at[tap], lane_at, sizeof(float)));
    } else
#endif
    {
      for (int l = 0; l < kLanes; ++l) {
        const float* f = filters + std::min<int64_t>(ci0 + l, p.C_in - 1) * stride;
        for (int tap = 0; tap < 9; ++tap) g[tap * kLanes + l] = f[tap_at[tap]];
      }
    }
    weight_tile(g, stage + ci0 * kPoints);  // group ci0 / 8 at (ci0 / 8) * 36 * 8
  }
  for (int k = 0; k < kPoints; ++k) {
    float* dst = U + (k * p.C_out + co) * p.C_in;
    for (int64_t ci0 = 0; ci0 < p.C_in; ci0 += kLanes) {
      const float* src = stage + ci0 * kPoints + k * kLanes;
      const int64_t n = std::min<int64_t>(kLanes, p.C_in - ci0);
      for (int64_t l = 0; l < n; ++l) dst[ci0 + l] = src[l];
    }
  }
}

// Phase 1 for output channels [co0, co0 + 8). Forward, a channel's filters
// are contiguous in w. Backward-input (w_stride_in large: w is read
// transposed), the 8 channels' filters are first copied into `local` as
// (8, C_in, 9): one pass down w reading 8 neighbouring filters per row,
// instead of gathers that touch a new page of w for every filter.
void transform_weight_block(const Problem& p, int64_t co0, float* local, float* stage, float* U) {
  const int64_t co1 = std::min<int64_t>(p.C_out, co0 + kLanes);
  if (p.w_stride_in == 9) {
    for (int64_t co = co0; co < co1; ++co) transform_weights(p, p.w + co * p.w_stride_out, 9, co, stage, U);
    return;
  }
  for (int64_t ci = 0; ci < p.C_in; ++ci) {
    const float* src = p.w + ci * p.w_stride_in + co0 * p.w_stride_out;
    for (int64_t co = co0; co < co1; ++co)
      std::memcpy(local + ((co - co0) * p.C_in + ci) * 9, src + (co - co0) * p.w_stride_out, sizeof(float) * 9);
  }
  for (int64_t co = co0; co < co1; ++co) transform_weights(p, local + (co - co0) * p.C_in * 9, 9, co, stage, U);
}

// The groups of 8 tiles of one block, located once per block: group j holds
// tiles [block0 + 8 j, block0 + 8 j + 8); `run` when they lie side by side in
// one tile row (then `at` is the first one's place), else each lane is
// located on its own.
struct BlockGroups {
  int64_t block0 = 0, count = 0;
  bool run[kMaxBlockTiles / kLanes];
  TileSpot at[kMaxBlockTiles / kLanes];
  BlockGroups(const TileGrid& grid, int64_t first, int64_t tiles)
      : block0(first), count((tiles + kLanes - 1) / kLanes) {
    for (int64_t j = 0; j < count; ++j) {
      run[j] = grid.is_run(block0 + j * kLanes);
      at[j] = grid.spot(block0 + j * kLanes);
    }
  }
};

// Phase 2, for input channel ci and every group of the block:
// V[k][ci][tile - block0] = (B^T d B)[k] with d the 6x6 input patch under
// the tile (zeros outside the image and for tiles past the end).
void transform_input(const Problem& p, const TileGrid& grid, const BlockGroups& groups, int64_t ci, int64_t ldv,
                     float* V) {
  constexpr int64_t kSpan = kOut * kLanes + 2;  // columns under 8 tiles side by side
  alignas(32) float d[kPoints * kLanes], v[kPoints * kLanes], strip[kSpan + 6];
  const int64_t plane = p.H * p.W;
  for (int64_t j = 0; j < groups.count; ++j) {
    const int64_t t0 = groups.block0 + j * kLanes;
    if (groups.run[j]) {
      // The 8 patches cover a strip of 6 rows x 34 columns, read row by row;
      // the columns [lo, hi) of the strip lie inside the image, the rest read 0.
      const TileSpot& s = groups.at[j];
      const int64_t ih0 = s.oh - p.pad_h, iw0 = s.ow - p.pad_w;
      const int64_t lo = std::clamp<int64_t>(-iw0, 0, kSpan), hi = std::clamp<int64_t>(p.W - iw0, lo, kSpan);
      const float* xc = p.x + (s.n * p.C_in + ci) * plane;
      if (lo > 0 || hi < kSpan) std::fill(strip, strip + kSpan, 0.0f);
      for (int r = 0; r < kIn; ++r) {
        float* dr = d + r * kIn * kLanes;
        const int64_t ih = ih0 + r;
        if (ih < 0 || ih >= p.H) {
          std::fill(dr, dr + kIn * kLanes, 0.0f);
        } else if (lo == 0 && hi == kSpan) {
          split_row(xc + ih * p.W + iw0, dr);
        } else {
          std::copy(xc + (ih * p.W + iw0 + lo), xc + (ih * p.W + iw0 + hi), strip + lo);
          split_row(strip, dr);
        }
      }
    } else {
      // Lane by lane: tiles in two rows (or images), or past the last tile.
      for (int l = 0; l < kLanes; ++l) {
        const bool valid = t0 + l < grid.total;
        const TileSpot s = grid.spot(valid ? t0 + l : 0);
        const int64_t ih0 = s.oh - p.pad_h, iw0 = s.ow - p.pad_w;
        const float* xc = p.x + (s.n * p.C_in + ci) * plane;
        for (int r = 0; r < kIn; ++r) {
          const bool row_in = valid && ih0 + r >= 0 && ih0 + r < p.H;
          for (int c = 0; c < kIn; ++c) {
            const bool in = row_in && iw0 + c >= 0 && iw0 + c < p.W;
            d[(r * kIn + c) * kLanes + l] = in ? xc[(ih0 + r) * p.W + iw0 + c] : 0.0f;
          }
        }
      }
    }
    input_tile(d, v);
    for (int k = 0; k < kPoints; ++k)
      std::memcpy(V + (k * p.C_in + ci) * ldv + j * kLanes, v + k * kLanes, sizeof(float) * kLanes);
  }
}

// Phase 4, for output channel co and every group of the block: the tiles of
// y = A^T M A + bias, clipped at the image's right and bottom edges.
void transform_output(const Problem& p, const TileGrid& grid, const BlockGroups& groups, int64_t co, int64_t ldm,
                      const float* M, float* y) {
  alignas(32) float m[kPoints * kLanes], o[kOut * kOut * kLanes], strip[kOut * kLanes];
  const int64_t plane = p.OH * p.OW;
  const float b = p.bias != nullptr ? p.bias[co] : 0.0f;
  for (int64_t j = 0; j < groups.count; ++j) {
    const int64_t t0 = groups.block0 + j * kLanes;
    for (int k = 0; k < kPoints; ++k)
      std::memcpy(m + k * kLanes, M + (k * p.C_out + co) * ldm + j * kLanes, sizeof(float) * kLanes);
    output_tile(m, o);
#pragma omp simd
    for (int i = 0; i < kOut * kOut * kLanes; ++i) o[i] += b;
    if (groups.run[j]) {
      // The 8 tiles cover 4 rows x 32 columns of y, of which rows x cols lie inside.
      const TileSpot& s = groups.at[j];
      const int64_t rows = std::min<int64_t>(kOut, p.OH - s.oh), cols = std::min<int64_t>(kOut * kLanes, p.OW - s.ow);
      float* yc = y + (s.n * p.C_out + co) * plane + s.oh * p.OW + s.ow;
      for (int64_t r = 0; r < rows; ++r) {
        if (cols == kOut * kLanes) {
          merge_row(o + r * kOut * kLanes, yc + r * p.OW);
        } else {
          merge_row(o + r * kOut * kLanes, strip);
          std::copy(strip, strip + cols, yc + r * p.OW);
        }
      }
    } else {
      const int lanes = static_cast<int>(std::min<int64_t>(kLanes, grid.total - t0));
      for (int l = 0; l < lanes; ++l) {
        const TileSpot s = grid.spot(t0 + l);
        const int64_t rows = std::min<int64_t>(kOut, p.OH - s.oh), cols = std::min<int64_t>(kOut, p.OW - s.ow);
        float* yc = y + (s.n * p.C_out + co) * plane + s.oh * p.OW + s.ow;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) yc[r * p.OW + c] = o[(r * kOut + c) * kLanes + l];
      }
    }
  }
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

void run(const Problem& p) {
  (void)gemm_backend();  // reads GESSO_GEMM now: a bad value throws here, not inside the parallel region
  TileGrid grid;
  grid.rows = ceil_div(p.OH, kOut);
  grid.cols = ceil_div(p.OW, kOut);
  grid.per_image = grid.rows * grid.cols;
  grid.total = p.N * grid.per_image;

  // Blocks: as many tiles as the budget allows for V and M, at most
  // kMaxBlockTiles, then evened out so that the last block is not a sliver.
  const int64_t per_tile = kPoints * (p.C_in + p.C_out);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t cap = std::clamp<int64_t>(conv_col_budget() / per_tile / kBlockQuantum * kBlockQuantum, kBlockQuantum,
                                          kMaxBlockTiles);
  const int64_t blocks = ceil_div(grid.total, cap);
  const int64_t block_tiles = round_up(ceil_div(grid.total, blocks), kBlockQuantum);  // <= cap

  float* U = scratch(0, kPoints * p.C_out * p.C_in);
  float* V = scratch(1, kPoints * p.C_in * block_tiles);
  float* M = scratch(2, kPoints * p.C_out * block_tiles);

  // GEMM tasks: the 36 points, each split into `parts` row ranges of U[k]
  // when 36 alone would leave threads idle (more than 10% of the time).
  int64_t parts = 1;
  while (parts * 16 < p.C_out &&
         kPoints * parts < int64_t(0.9 * double(threads * ceil_div(kPoints * parts, threads))))
    ++parts;
  const int64_t part_rows = ceil_div(p.C_out, parts);

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* stage = own_scratch(0, kPoints * round_up(p.C_in, kLanes));
    float* local = p.w_stride_in == 9 ? nullptr : own_scratch(1, kLanes * p.C_in * 9);
#pragma omp for schedule(static)
    for (int64_t co0 = 0; co0 < p.C_out; co0 += kLanes) transform_weight_block(p, co0, local, stage, U);
    for (int64_t block0 = 0; block0 < grid.total; block0 += block_tiles) {
      const BlockGroups groups(grid, block0, std::min(block_tiles, grid.total - block0));
#pragma omp for schedule(static)
      for (int64_t ci = 0; ci < p.C_in; ++ci) transform_input(p, grid, groups, ci, block_tiles, V);
      // M[k] (C_out x tiles) = U[k] (C_out x C_in) . V[k] (C_in x tiles), on whole lane groups
      // (the lanes past the last tile hold zeros).
#pragma omp for schedule(static)
      for (int64_t task = 0; task < kPoints * parts; ++task) {
        const int64_t k = task / parts, r0 = (task % parts) * part_rows;
        const int64_t r1 = std::min(p.C_out, r0 + part_rows);
        if (r1 > r0)
          gemm_cpu<float>(false, false, r1 - r0, groups.count * kLanes, p.C_in, 1.0f, U + (k * p.C_out + r0) * p.C_in,
                          p.C_in, V + k * p.C_in * block_tiles, block_tiles, 0.0f,
                          M + (k * p.C_out + r0) * block_tiles, block_tiles);
      }
#pragma omp for schedule(static)
      for (int64_t co = 0; co < p.C_out; ++co) transform_output(p, grid, groups, co, block_tiles, M, p.y);
    }
  }
}

void check_applicable(const Conv2dGeometry& g, const char* fn) {
  GESSO_CHECK(winograd_applicable(g), fn,
              ": geometry must be a 3x3 kernel, stride 1, dilation 1, with no empty dimension, got kernel ", g.kH,
              " x ", g.kW, ", stride (", g.stride_h, ", ", g.stride_w, "), dilation (", g.dilation_h, ", ",
              g.dilation_w, "), N ", g.N, ", C_in ", g.C_in, ", C_out ", g.C_out, ", output ", g.OH, " x ", g.OW);
  GESSO_CHECK(g.OH == g.H + 2 * g.pad_h - 2 && g.OW == g.W + 2 * g.pad_w - 2, fn, ": output size ", g.OH, " x ",
              g.OW, " does not match input ", g.H, " x ", g.W, " with pad (", g.pad_h, ", ", g.pad_w, ")");
}

// -1: not chosen yet (GESSO_CONV is read at the first use).
std::atomic<int> g_algorithm{-1};

}  // namespace

// ---- choosing

const char* conv_algorithm_name(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::im2col: return "im2col";
    case ConvAlgorithm::winograd: return "winograd";
    default: return "auto";
  }
}

ConvAlgorithm conv_algorithm_from_env() {
  const char* v = std::getenv("GESSO_CONV");
  if (v == nullptr || *v == '\0') return ConvAlgorithm::automatic;
  const std::string s(v);
  if (s == "auto") return ConvAlgorithm::automatic;
  if (s == "im2col") return ConvAlgorithm::im2col;
  if (s == "winograd") return ConvAlgorithm::winograd;
  fail("GESSO_CONV: expected 'auto', 'im2col' or 'winograd' (or unset), got '", s, "'");
}

ConvAlgorithm conv_algorithm() {
  int a = g_algorithm.load();
  if (a < 0) {
    a = static_cast<int>(conv_algorithm_from_env());  // throws on a bad value, and stays unchosen
    g_algorithm.store(a);
  }
  return static_cast<ConvAlgorithm>(a);
}

void set_conv_algorithm(ConvAlgorithm a) { g_algorithm.store(static_cast<int>(a)); }

bool winograd_applicable(const Conv2dGeometry& g) {
  return g.kH == 3 && g.kW == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 &&
         g.N > 0 && g.C_in > 0 && g.C_out > 0 && g.H > 0 && g.W > 0 && g.OH > 0 && g.OW > 0;
}

bool winograd_profitable(const Conv2dGeometry& g) {
  // Winograd's fixed costs are the weight transform (36 C_out C_in values
  // written and read back, whatever the image size) and a per-channel
  // transform of every tile; they pay off with enough tiles to share the
  // weights and enough channels to share the tiles. Measured crossover
  // (bench_winograd, 1 thread, forward / backward-input speedups over im2col):
  // at 64 tiles (32 x 32 px) 1.0 / 0.85 at 16 channels, 1.1 at 32, 1.5-1.6 at
  // 64, 1.9-2.0 at 512; at 256 tiles (64 x 64 px) 0.85 at 4 channels, 1.0-1.2
  // at 8, 1.3-2.0 from 16 to 64; at 16 tiles (16 x 16 px) it loses even at 512
  // channels (0.8), the weight transform dominating, and 25-36 tiles are a
  // toss-up (0.9-1.2). VGG's first layer, 3 -> 64 channels at 256 px, is
  // faster on im2col (0.3-0.6x): its K = 3 products are too thin.
  const int64_t tiles = g.N * ((g.OH + 3) / 4) * ((g.OW + 3) / 4);
  const int64_t narrow = std::min(g.C_in, g.C_out);
  return (narrow >= 32 && tiles >= 64) || (narrow >= 8 && tiles >= 256);
}

bool conv_uses_winograd(const Conv2dGeometry& g) {
  switch (conv_algorithm()) {
    case ConvAlgorithm::im2col: return false;
    case ConvAlgorithm::winograd: return winograd_applicable(g);
    default: return winograd_applicable(g) && winograd_profitable(g);
  }
}

// ---- the two entry points

void conv2d_forward_winograd_cpu(const float* x, const float* w, const float* bias, float* y,
                                 const Conv2dGeometry& g) {
  check_applicable(g, "conv2d_forward_winograd_cpu");
  Problem p;
  p.x = x;
  p.y = y;
  p.bias = bias;
  p.w = w;
  p.w_stride_out = g.C_in * 9;
  p.w_stride_in = 9;
  p.N = g.N;
  p.C_in = g.C_in;
  p.C_out = g.C_out;
  p.H = g.H;
  p.W = g.W;
  p.OH = g.OH;
  p.OW = g.OW;
  p.pad_h = g.pad_h;
  p.pad_w = g.pad_w;
  run(p);
}

void conv2d_backward_input_winograd_cpu(const float* gy, const float* w, float* gx, const Conv2dGeometry& g) {
  check_applicable(g, "conv2d_backward_input_winograd_cpu");
  // gx[n, ci] = sum_co conv(gy[n, co], w[co, ci] flipped) with padding 2 - pad:
  // a forward convolution from C_out channels of OH x OW to C_in channels of H x W.
  Problem p;
  p.x = gy;
  p.y = gx;
  p.w = w;
  p.w_stride_out = 9;         // the new output channel is w's input channel
  p.w_stride_in = g.C_in * 9;  // the new input channel is w's output channel
  p.flip = true;
  p.N = g.N;
  p.C_in = g.C_out;
  p.C_out = g.C_in;
  p.H = g.OH;
  p.W = g.OW;
  p.OH = g.H;
  p.OW = g.W;
  p.pad_h = 2 - g.pad_h;
  p.pad_w = 2 - g.pad_w;
  run(p);
}

}  // namespace gesso::kernels
