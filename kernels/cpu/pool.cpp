/*
 * pool.cpp: CPU twins of kernels/pool.h. Forwards are parallel over output
 * rows; backwards (scatter-adds) over planes, so that no two threads add to
 * the same pixel. Resampling precomputes, per output row and column, the
 * source indices and weights once, shared by every plane. Max pooling has a
 * branch-free (vectorised) version for 2x2 windows with stride 2 and no
 * padding, beside the general loop.
 */
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace gesso::kernels {

namespace {

// The window of output index o along one axis, clipped to [0, in).
struct Window {
  int64_t begin, end;
};
inline Window window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + kernel, in)};
}

// The avg_pool divisor: the window's size clipped to the padded input (not
// to the image), as PyTorch's count_include_pad.
inline int64_t padded_window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad;
  return std::min(start + kernel, in + pad) - start;
}

}  // namespace

namespace {
// The plane index of the window's maximum: the first on ties; a NaN wins at once
// (as in PyTorch, NaN propagates through max pooling).
template <class T>
int64_t window_argmax(const T* xp, int64_t W, Window wh, Window ww) {
  int64_t best_at = wh.begin * W + ww.begin;
  T best = -std::numeric_limits<T>::infinity();
  for (int64_t ih = wh.begin; ih < wh.end; ++ih)
    for (int64_t iw = ww.begin; iw < ww.end; ++iw) {
      const T v = xp[ih * W + iw];
      if (std::isnan(v)) return ih * W + iw;
      if (v > best) {
        best = v;
        best_at = ih * W + iw;
      }
    }
  return best_at;
}
}  // namespace

namespace {
// One output row of a 2 x 2 pool with stride 2 and no padding (VGG's, and
// most CNNs'): no window is clipped, and window_argmax's rule (the first
// maximum; the first NaN wins) is written without branches so that the loops
// vectorise (3-4x faster than the general loop below on these shapes).
// r0 and r1 are the windows' two input rows; `at0` is r0's index in its plane.
template <class T>
void max_pool2x2_row(const T* r0, const T* r1, int64_t W, int64_t at0, int64_t OW, T* y, int64_t* argmax) {
  if (y)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = a;
      m = b > m ? b : m;
      m = c > m ? c : m;
      m = d > m ? d : m;
      const bool nan = (a != a) || (b != b) || (c != c) || (d != d);
      y[ow] = nan ? std::numeric_limits<T>::quiet_NaN() : m;
    }
  if (argmax)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = a;
      int64_t at = 0;
      if (b > m) { m = b; at = 1; }
      if (c > m) { m = c; at = W; }
      if (d > m) { m = d; at = W + 1; }
      const bool na = a != a, nb = b != b, nc = c != c, nd = d != d;
      const int64_t first_nan = na ? 0 : nb ? 1 : nc ? W : W + 1;
      argmax[ow] = at0 + 2 * ow + ((na || nb || nc || nd) ? first_nan : at);
    }
}
}  // namespace

template <class T>
void max_pool2d_forward_cpu(const T* x, T* y, int64_t* argmax, const Pool2dGeometry& g) {
  const int64_t rows = g.planes * g.OH;
  const bool two_by_two = g.kernel == 2 && g.stride == 2 && g.pad == 0;
#pragma omp parallel for if (rows * g.OW * g.kernel * g.kernel > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t plane = r / g.OH, oh = r % g.OH;
    const T* xp = x + plane * g.H * g.W;
    if (two_by_two) {
      const int64_t at0 = 2 * oh * g.W;
      max_pool2x2_row(xp + at0, xp + at0 + g.W, g.W, at0, g.OW, y ? y + r * g.OW : nullptr,
                      argmax ? argmax + r * g.OW : nullptr);
      continue;
    }
    const Window wh = window(oh, g.stride, g.pad, g.kernel, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t at = window_argmax(xp, g.W, wh, window(ow, g.stride, g.pad, g.kernel, g.W));
      if (y) y[r * g.OW + ow] = xp[at];
      if (argmax) argmax[r * g.OW + ow] = at;
    }
  }
}

template <class T>
void avg_pool2d_forward_cpu(const T* x, T* y, const Pool2dGeometry& g) {
  const int64_t rows = g.planes * g.OH;
#pragma omp parallel for if (rows * g.OW * g.kernel * g.kernel > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t plane = r / g.OH, oh = r % g.OH;
    const T* xp = x + plane * g.H * g.W;
    const Window wh = window(oh, g.stride, g.pad, g.kernel, g.H);
    const int64_t size_h = padded_window(oh, g.stride, g.pad, g.kernel, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const Window ww = window(ow, g.stride, g.pad, g.kernel, g.W);
      T s = T(0);
      for (int64_t ih = wh.begin; ih < wh.end; ++ih)
        for (int64_t iw = ww.begin; iw < ww.end; ++iw) s += xp[ih * g.W + iw];
      y[r * g.OW + ow] = s / static_cast<T>(size_h * padded_window(ow, g.stride, g.pad, g.kernel, g.W));
    }
  }
}

template <class T>
void avg_pool2d_backward_cpu(const T* gy, T* gx, const Pool2dGeometry& g) {
#pragma omp parallel for if (g.planes * g.OH * g.OW * g.kernel * g.kernel > kParallelGrain)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    T* gp = gx + plane * g.H * g.W;
    std::fill(gp, gp + g.H * g.W, T(0));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const Window wh = window(oh, g.stride, g.pad, g.kernel, g.H);
      const int64_t size_h = padded_window(oh, g.stride, g.pad, g.kernel, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const Window ww = window(ow, g.stride, g.pad, g.kernel, g.W);
        const T share = gy[(plane * g.OH + oh) * g.OW + ow] /
                        static_cast<T>(size_h * padded_window(ow, g.stride, g.pad, g.kernel, g.W));
        for (int64_t ih = wh.begin; ih < wh.end; ++ih)
          for (int64_t iw = ww.begin; iw < ww.end; ++iw) gp[ih * g.W + iw] += share;
      }
    }
  }
}

template <class T>
void index_gather_cpu(const T* src, const int64_t* index, T* out, int64_t planes, int64_t src_plane,
                      int64_t out_plane) {
  const int64_t n = planes * out_plane;
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = src[(i / out_plane) * src_plane + index[i]];
}

template <class T>
void index_scatter_add_cpu(const T* src, const int64_t* index, T* out, int64_t planes, int64_t src_plane,
                           int64_t out_plane) {
#pragma omp parallel for if (planes * (src_plane + out_plane) > kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* op = out + plane * out_plane;
    std::fill(op, op + out_plane, T(0));
    const T* sp = src + plane * src_plane;
    const int64_t* ip = index + plane * src_plane;
    for (int64_t i = 0; i < src_plane; ++i) op[ip[i]] += sp[i];
  }
}

// ---- resampling

namespace {

// For each output index along one axis: two source indices and their weights
// (nearest: both indices equal, weights 1 and 0).
template <class T>
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
};

template <class T>
Taps<T> make_taps(Resample mode, int64_t in, int64_t out, bool align_corners) {
  Taps<T> t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.w0.resize(out);
  t.w1.resize(out);
  if (mode == Resample::nearest) {
    // PyTorch's nearest: the scale in float, the same for float and double tensors.
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    for (int64_t o = 0; o < out; ++o) {
      int64_t src = o;
      if (out == 2 * in) src = o >> 1;
      else if (out != in) src = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
      t.i0[o] = t.i1[o] = src;
      t.w0[o] = T(1);
      t.w1[o] = T(0);
    }
    return t;
  }
  const T scale = align_corners ? (out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0))
                                : static_cast<T>(in) / static_cast<T>(out);
  for (int64_t o = 0; o < out; ++o) {
    T src = align_corners ? scale * static_cast<T>(o) : scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const int64_t lo = static_cast<int64_t>(src);
    const int64_t step = lo < in - 1 ? 1 : 0;
    const T frac = src - static_cast<T>(lo);
    t.i0[o] = lo;
    t.i1[o] = lo + step;
    t.w0[o] = T(1) - frac;
    t.w1[o] = frac;
  }
  return t;
}

}  // namespace

template <class T>
void upsample2d_forward_cpu(Resample mode, const T* x, T* y, const UpsampleGeometry& g) {
  const Taps<T> th = make_taps<T>(mode, g.H, g.OH, g.align_corners);
  const Taps<T> tw = make_taps<T>(mode, g.W, g.OW, g.align_corners);
  const int64_t rows = g.planes * g.OH;
#pragma omp parallel for if (rows * g.OW > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t plane = r / g.OH, oh = r % g.OH;
    const T* row0 = x + (plane * g.H + th.i0[oh]) * g.W;
    const T* row1 = x + (plane * g.H + th.i1[oh]) * g.W;
    const T a0 = th.w0[oh], a1 = th.w1[oh];
    T* out = y + r * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t c0 = tw.i0[ow], c1 = tw.i1[ow];
      out[ow] = a0 * (tw.w0[ow] * row0[c0] + tw.w1[ow] * row0[c1]) +
                a1 * (tw.w0[ow] * row1[c0] + tw.w1[ow] * row1[c1]);
    }
  }
}

template <class T>
void upsample2d_backward_cpu(Resample mode, const T* gy, T* gx, const UpsampleGeometry& g) {
  const Taps<T> th = make_taps<T>(mode, g.H, g.OH, g.align_corners);
  const Taps<T> tw = make_taps<T>(mode, g.W, g.OW, g.align_corners);
#pragma omp parallel for if (g.planes * g.OH * g.OW > kParallelGrain)
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    T* gp = gx + plane * g.H * g.W;
    std::fill(gp, gp + g.H * g.W, T(0));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      T* row0 = gp + th.i0[oh] * g.W;
      T* row1 = gp + th.i1[oh] * g.W;
      const T a0 = th.w0[oh], a1 = th.w1[oh];
      const T* src = gy + (plane * g.OH + oh) * g.OW;
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t c0 = tw.i0[ow], c1 = tw.i1[ow];
        const T v = src[ow];
        row0[c0] += a0 * tw.w0[ow] * v;
        row0[c1] += a0 * tw.w1[ow] * v;
        row1[c0] += a1 * tw.w0[ow] * v;
        row1[c1] += a1 * tw.w1[ow] * v;
      }
    }
  }
}

#define GESSO_INSTANTIATE(T)                                                                                  \
  template void max_pool2d_forward_cpu<T>(const T*, T*, int64_t*, const Pool2dGeometry&);                     \
  template void avg_pool2d_forward_cpu<T>(const T*, T*, const Pool2dGeometry&);                               \
  template void avg_pool2d_backward_cpu<T>(const T*, T*, const Pool2dGeometry&);                              \
  template void index_gather_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);                 \
  template void index_scatter_add_cpu<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t);            \
  template void upsample2d_forward_cpu<T>(Resample, const T*, T*, const UpsampleGeometry&);                   \
  template void upsample2d_backward_cpu<T>(Resample, const T*, T*, const UpsampleGeometry&);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE

}  // namespace gesso::kernels
