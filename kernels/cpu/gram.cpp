/*
 * gram.cpp: CPU twin of kernels/gram.h, G = scale * F F^T with F (C, HW).
 *
 * Loop nest (one version; bench/bench_gram.cpp times it beside a naive
 * triple loop):
 *   parallel over blocks of 4 rows of G (OpenMP, dynamic: the triangle makes
 *     the first blocks the longest)
 *     over chunks of 1024 along HW (the block's 4 rows, 16 KB in float, stay in L1)
 *       over blocks of 4 columns j >= i (upper triangle only)
 *         a 4x4 tile of dot products: 16 accumulators of one vector register
 *         each, the lane loop being what the compiler vectorises
 *   then the lower triangle is mirrored from the upper one.
 * Rows past C in the last block read a valid row (row 0) and their results
 * are dropped, so the one tile kernel serves every shape.
 */
#include "kernels/gram.h"

#include <algorithm>
#include <vector>

namespace gesso::kernels {

namespace {

constexpr int kTile = 4;          // rows and columns of G per tile
constexpr int64_t kChunk = 1024;   // elements of HW per pass over a row block

// Lanes of one 256-bit register: 8 floats or 4 doubles.
template <class T>
constexpr int kLanes = static_cast<int>(32 / sizeof(T));

// acc[m][n] += sum_{k < len} a_m[k] * b_n[k] for a 4x4 tile of rows.
template <class T>
inline void dot_tile(const T* a0, const T* a1, const T* a2, const T* a3, const T* const* b, int64_t len,
                     double acc[kTile][kTile]) {
  constexpr int V = kLanes<T>;
  const T* a[kTile] = {a0, a1, a2, a3};
  const T* b0 = b[0];
  const T* b1 = b[1];
  const T* b2 = b[2];
  const T* b3 = b[3];
  // part[m][n][lane]: each (m, n) is one vector register of partial sums.
  T part[kTile][kTile][V] = {};
  int64_t k = 0;
  for (; k + V <= len; k += V) {
#pragma GCC unroll 4
    for (int m = 0; m < kTile; ++m) {
      const T* am = a[m] + k;
#pragma omp simd
      for (int v = 0; v < V; ++v) {
        part[m][0][v] += am[v] * b0[k + v];
        part[m][1][v] += am[v] * b1[k + v];
        part[m][2][v] += am[v] * b2[k + v];
        part[m][3][v] += am[v] * b3[k + v];
      }
    }
  }
  const T* bs[kTile] = {b0, b1, b2, b3};
  for (int m = 0; m < kTile; ++m)
    for (int n = 0; n < kTile; ++n) {
      T s = T(0);
      for (int v = 0; v < V; ++v) s += part[m][n][v];
      for (int64_t r = k; r < len; ++r) s += a[m][r] * bs[n][r];
      acc[m][n] += static_cast<double>(s);
    }
}

}  // namespace

template <class T>
void gram_forward_cpu(const T* x, T* g, int C, int HW, T scale) {
  if (C <= 0) return;
  const int blocks = (C + kTile - 1) / kTile;
  const int64_t work = static_cast<int64_t>(C) * C * HW / 2;
  auto row = [&](int i) { return x + static_cast<int64_t>(i < C ? i : 0) * HW; };

#pragma omp parallel if (work > kParallelGrain)
  {
    // This block's row of tiles, in double: 4 rows of G, C columns.
    std::vector<double> panel(static_cast<size_t>(kTile) * C);
#pragma omp for schedule(dynamic, 1)
    for (int bi = 0; bi < blocks; ++bi) {
      const int i0 = bi * kTile;
      std::fill(panel.begin(), panel.end(), 0.0);
      for (int64_t k0 = 0; k0 < HW; k0 += kChunk) {
        const int64_t len = std::min<int64_t>(kChunk, HW - k0);
        const T* a0 = row(i0) + k0;
        const T* a1 = row(i0 + 1) + k0;
        const T* a2 = row(i0 + 2) + k0;
        const T* a3 = row(i0 + 3) + k0;
        for (int j0 = i0; j0 < C; j0 += kTile) {
          const T* b[kTile] = {row(j0) + k0, row(j0 + 1) + k0, row(j0 + 2) + k0, row(j0 + 3) + k0};
          double acc[kTile][kTile] = {};
          dot_tile(a0, a1, a2, a3, b, len, acc);
          const int cols = std::min(kTile, C - j0);  // columns past C are dropped
          for (int m = 0; m < kTile; ++m)
            for (int n = 0; n < cols; ++n) panel[static_cast<size_t>(m) * C + j0 + n] += acc[m][n];
        }
      }
      // Write the upper triangle of these rows (the diagonal tile included).
      for (int m = 0; m < kTile && i0 + m < C; ++m) {
        const int i = i0 + m;
        T* gi = g + static_cast<int64_t>(i) * C;
        for (int j = i; j < C; ++j) gi[j] = static_cast<T>(scale * panel[static_cast<size_t>(m) * C + j]);
      }
    }
    // The implicit barrier of `omp for` has passed: every upper entry is written.
#pragma omp for
    for (int i = 1; i < C; ++i)
      for (int j = 0; j < i; ++j) g[static_cast<int64_t>(i) * C + j] = g[static_cast<int64_t>(j) * C + i];
  }
}

template void gram_forward_cpu<float>(const float*, float*, int, int, float);
template void gram_forward_cpu<double>(const double*, double*, int, int, double);

}  // namespace gesso::kernels
