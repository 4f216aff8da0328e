/*
 * resize.cpp: CPU twin of kernels/resize.h (version 1: separable, two passes).
 *
 * Each axis is described by a tap table: output index o reads `taps`
 * consecutive input pixels starting at first[o], with weights weight[o][k]
 * (zero-padded to the same count for every o, so the inner loops have a
 * fixed trip count). Pass 1 resamples along W into a double buffer
 * (C, H, out_w); pass 2 resamples along H, its inner loop running over a
 * whole contiguous output row so that it vectorises.
 */
#include "kernels/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace gesso::kernels {

namespace {

struct Taps {
  int64_t taps = 0;             // taps per output index
  std::vector<int64_t> first;   // (out)
  std::vector<double> weight;   // (out, taps)
};

Taps bilinear_taps(int64_t in, int64_t out) {
  Taps t;
  t.taps = 2;
  t.first.resize(out);
  t.weight.assign(out * 2, 0.0);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double src = std::max((o + 0.5) * scale - 0.5, 0.0);  // left of the first centre: edge pixel
    const int64_t i0 = static_cast<int64_t>(src);
    if (in == 1) {
      t.first[o] = 0;
      t.weight[o * 2] = 1.0;  // the second tap is never read (trip count is clamped to in)
    } else if (i0 >= in - 1) {
      t.first[o] = in - 2;    // right of the last centre: the edge pixel, kept as tap 1 so both taps stay inside
      t.weight[o * 2 + 1] = 1.0;
    } else {
      const double frac = src - static_cast<double>(i0);
      t.first[o] = i0;
      t.weight[o * 2] = 1.0 - frac;
      t.weight[o * 2 + 1] = frac;
    }
  }
  return t;
}

Taps area_taps(int64_t in, int64_t out) {
  // Coordinates scaled by in*out stay integers: input pixel i covers
  // [i*out, (i+1)*out) and output o covers [o*in, (o+1)*in).
  Taps t;
  t.taps = (in + out - 1) / out + 1;  // a box of in/out pixels touches at most this many
  t.first.resize(out);
  t.weight.assign(out * t.taps, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    const int64_t lo = o * in, hi = (o + 1) * in;
    const int64_t i_first = lo / out;
    t.first[o] = std::min(i_first, std::max<int64_t>(in - t.taps, 0));
    for (int64_t i = i_first; i < in && i * out < hi; ++i) {
      const int64_t overlap = std::min(hi, (i + 1) * out) - std::max(lo, i * out);
      t.weight[o * t.taps + (i - t.first[o])] = static_cast<double>(overlap) / static_cast<double>(in);
    }
  }
  return t;
}

Taps make_taps(ResizeFilter f, int64_t in, int64_t out) {
  return f == ResizeFilter::bilinear ? bilinear_taps(in, out) : area_taps(in, out);
}

}  // namespace

template <class T>
void resize_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w,
                ResizeFilter filter_h, ResizeFilter filter_w) {
  const Taps tw = make_taps(filter_w, W, out_w);
  const Taps th = make_taps(filter_h, H, out_h);
  // A tap table may be wider than its axis (tiny images): clamp the trip count.
  const int64_t kw = std::min(tw.taps, W), kh = std::min(th.taps, H);

  // Pass 1: along W, one input row -> one row of the buffer.
  std::vector<double> buf(static_cast<size_t>(C * H * out_w));
  const int64_t rows = C * H;
#pragma omp parallel for if (rows * out_w * kw > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * W;
    double* br = buf.data() + r * out_w;
    for (int64_t o = 0; o < out_w; ++o) {
      const T* src = xr + tw.first[o];
      const double* w = tw.weight.data() + o * tw.taps;
      double acc = 0.0;
      for (int64_t k = 0; k < kw; ++k) acc += w[k] * static_cast<double>(src[k]);
      br[o] = acc;
    }
  }

  // Pass 2: along H, weighted sums of whole buffer rows.
  const int64_t out_rows = C * out_h;
#pragma omp parallel for if (out_rows * out_w * kh > kParallelGrain)
  for (int64_t r = 0; r < out_rows; ++r) {
    const int64_t c = r / out_h, o = r % out_h;
    const double* w = th.weight.data() + o * th.taps;
    const double* src = buf.data() + (c * H + th.first[o]) * out_w;
    std::vector<double> acc(static_cast<size_t>(out_w), 0.0);
    for (int64_t k = 0; k < kh; ++k) {
      const double wk = w[k];
      const double* row = src + k * out_w;
#pragma omp simd
      for (int64_t j = 0; j < out_w; ++j) acc[j] += wk * row[j];
    }
    T* yr = y + r * out_w;
    for (int64_t j = 0; j < out_w; ++j) yr[j] = static_cast<T>(acc[j]);
  }
}

template <class T>
void resize_bilinear_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w) {
  resize_cpu(x, y, C, H, W, out_h, out_w, ResizeFilter::bilinear, ResizeFilter::bilinear);
}

template <class T>
void resize_area_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w) {
  resize_cpu(x, y, C, H, W, out_h, out_w, ResizeFilter::area, ResizeFilter::area);
}

#define GESSO_INSTANTIATE_RESIZE(T)                                                                    \
  template void resize_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t, ResizeFilter,  \
                              ResizeFilter);                                                           \
  template void resize_bilinear_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t);     \
  template void resize_area_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t);
GESSO_INSTANTIATE_RESIZE(float)
GESSO_INSTANTIATE_RESIZE(double)
#undef GESSO_INSTANTIATE_RESIZE

}  // namespace gesso::kernels
