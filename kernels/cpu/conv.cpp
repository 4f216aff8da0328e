/*
 * conv.cpp: CPU twins of kernels/conv.h: im2col/col2im around gemm_cpu, and
 * reflection padding. The three convolution kernels share one plan (chunk
 * size, thread split) and one walk over the kernel window (`for_each_row`
 * below), so im2col and col2im are visibly each other's adjoint.
 */
#include "kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "kernels/gemm.h"

namespace gesso::kernels {

namespace {

// Elements of col per thread (default 16 MiB of float). Large images are
// convolved in chunks of output positions so that col never grows with the image.
std::atomic<int64_t> g_col_budget{int64_t(1) << 22};
constexpr int64_t kMinChunk = 16;

// Per-thread scratch that outlives the call (OpenMP keeps its threads), so
// repeated convolutions neither allocate nor fault pages in.
// Slot 0: col buffer; slot 1: a thread's partial weight gradient.
template <class T>
T* thread_buffer(int slot, int64_t n) {
  thread_local std::vector<T> buffers[2];
  if (static_cast<int64_t>(buffers[slot].size()) < n) buffers[slot].resize(static_cast<size_t>(n));
  return buffers[slot].data();
}

struct ConvPlan {
  int64_t rows = 0;       // C_in * kH * kW: rows of col, columns of the weight matrix
  int64_t positions = 0;  // OH * OW: columns of col
  int64_t chunk = 0;      // output positions per im2col chunk
  bool pointwise = false; // 1x1 kernel, stride 1, no padding: col is x_n itself
  bool by_image = false;  // threads take whole images
};

ConvPlan make_plan(const Conv2dGeometry& g) {
  (void)gemm_backend();  // reads GESSO_GEMM now: a bad value throws here, not inside a parallel region
  ConvPlan p;
  p.rows = g.C_in * g.kH * g.kW;
  p.positions = g.OH * g.OW;
  p.pointwise = g.kH == 1 && g.kW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
  p.chunk = p.pointwise ? p.positions
                        : std::min(p.positions,
                                   std::max<int64_t>(kMinChunk, g_col_budget.load() / std::max<int64_t>(1, p.rows)));
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  p.by_image = threads > 1 && g.N >= threads;
  return p;
}

// The output columns ow whose input column ow * stride + offset lies in [0, in).
struct Span {
  int64_t lo, hi;
};
Span valid_columns(int64_t offset, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
  return {lo, hi};
}

// Walks the part of col row r = (c, i, j) that covers output positions
// [p0, p0 + P), one output row at a time. For each stretch it calls
//   inside(q, ih, ow_begin, ow_end)  for positions q.. whose input pixel
//                                    (ih, ow * stride_w + j * dilation_w - pad_w) is in the image
//   outside(q, n)                    for n positions reading padding
// where q is the index of ow_begin within the chunk.
template <class Inside, class Outside>
void for_each_row(const Conv2dGeometry& g, int64_t i, int64_t j, int64_t p0, int64_t P, Inside inside,
                  Outside outside) {
  const int64_t off_h = i * g.dilation_h - g.pad_h, off_w = j * g.dilation_w - g.pad_w;
  const Span cols = valid_columns(off_w, g.stride_w, g.W, g.OW);
  for (int64_t q = 0; q < P;) {
    const int64_t p = p0 + q, oh = p / g.OW, ow0 = p % g.OW;
    const int64_t n = std::min(g.OW - ow0, P - q);  // positions left in this output row
    const int64_t ih = oh * g.stride_h + off_h;
    if (ih < 0 || ih >= g.H) {
      outside(q, n);
    } else {
      const int64_t lo = std::clamp(cols.lo, ow0, ow0 + n), hi = std::clamp(cols.hi, lo, ow0 + n);
      if (lo > ow0) outside(q, lo - ow0);
      if (hi > lo) inside(q + (lo - ow0), ih, lo, hi);
      if (ow0 + n > hi) outside(q + (hi - ow0), ow0 + n - hi);
    }
    q += n;
  }
}

// col (rows x P) = the input values under each kernel tap for output positions [p0, p0 + P).
template <class T>
void im2col(const T* xn, const Conv2dGeometry& g, int64_t rows, int64_t p0, int64_t P, T* col, bool parallel) {
  const int64_t taps = g.kH * g.kW;
#pragma omp parallel for if (parallel && rows * P > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / taps, i = (r % taps) / g.kW, j = r % g.kW;
    const T* xc = xn + c * g.H * g.W;
    const int64_t off_w = j * g.dilation_w - g.pad_w, sw = g.stride_w;
    T* dst = col + r * P;
    for_each_row(
        g, i, j, p0, P,
        [&](int64_t q, int64_t ih, int64_t ow_begin, int64_t ow_end) {
          const T* xrow = xc + ih * g.W;
          T* d = dst + q;
          const int64_t n = ow_end - ow_begin, iw0 = ow_begin * sw + off_w;
          if (sw == 1) {
#pragma omp simd
            for (int64_t t = 0; t < n; ++t) d[t] = xrow[iw0 + t];
          } else {
            for (int64_t t = 0; t < n; ++t) d[t] = xrow[iw0 + t * sw];
          }
        },
        [&](int64_t q, int64_t n) { std::fill(dst + q, dst + q + n, T(0)); });
  }
}

// The adjoint of im2col: gx_n += col folded back onto the pixels it was read
// from. Parallel over input channels: the rows of one channel all write to
// that channel only, so no two threads touch the same pixel.
template <class T>
void col2im_add(const T* col, const Conv2dGeometry& g, int64_t p0, int64_t P, T* gxn, bool parallel) {
  const int64_t taps = g.kH * g.kW;
#pragma omp parallel for if (parallel && g.C_in * taps * P > kParallelGrain)
  for (int64_t c = 0; c < g.C_in; ++c) {
    T* gc = gxn + c * g.H * g.W;
    for (int64_t i = 0; i < g.kH; ++i) {
      for (int64_t j = 0; j < g.kW; ++j) {
        const T* src = col + ((c * g.kH + i) * g.kW + j) * P;
        const int64_t off_w = j * g.dilation_w - g.pad_w, sw = g.stride_w;
        for_each_row(
            g, i, j, p0, P,
            [&](int64_t q, int64_t ih, int64_t ow_begin, int64_t ow_end) {
              T* grow = gc + ih * g.W;
              const T* s = src + q;
              const int64_t n = ow_end - ow_begin, iw0 = ow_begin * sw + off_w;
              if (sw == 1) {
#pragma omp simd
                for (int64_t t = 0; t < n; ++t) grow[iw0 + t] += s[t];
              } else {
                for (int64_t t = 0; t < n; ++t) grow[iw0 + t * sw] += s[t];
              }
            },
            [](int64_t, int64_t) {});  // padding: nothing to give back
      }
    }
  }
}

// Runs f(n, parallel_inside) for every image: split across threads when
// there are enough images, else one after another with threads inside.
template <class F>
void for_each_image(const ConvPlan& plan, int64_t N, F f) {
  if (plan.by_image) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) f(n, false);
  } else {
    for (int64_t n = 0; n < N; ++n) f(n, true);
  }
}

template <class T>
void fill_zero(T* p, int64_t n, bool parallel) {
#pragma omp parallel for simd if (parallel && n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) p[i] = T(0);
}

}  // namespace

void set_conv_col_budget(int64_t elements) { g_col_budget.store(std::max<int64_t>(1, elements)); }
int64_t conv_col_budget() { return g_col_budget.load(); }

template <class T>
void conv2d_forward_cpu(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  const ConvPlan plan = make_plan(g);
  const int64_t P_all = plan.positions, rows = plan.rows;
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all;
  for_each_image(plan, g.N, [&](int64_t n, bool inner) {
    const T* xn = x + n * x_image;
    T* yn = y + n * y_image;
    T* col = plan.pointwise ? nullptr : thread_buffer<T>(0, rows * plan.chunk);
    for (int64_t p0 = 0; p0 < P_all; p0 += plan.chunk) {
      const int64_t P = std::min(plan.chunk, P_all - p0);
      const T* b = plan.pointwise ? xn + p0 : col;
      const int64_t ldb = plan.pointwise ? P_all : P;
      if (!plan.pointwise) im2col(xn, g, rows, p0, P, col, inner);
      // y_n[:, p0:p0+P] (C_out x P) = w (C_out x rows) . col (rows x P)
      gemm_cpu<T>(false, false, g.C_out, P, rows, T(1), w, std::max<int64_t>(1, rows), b, std::max<int64_t>(1, ldb),
                  T(0), yn + p0, std::max<int64_t>(1, P_all));
    }
    if (bias != nullptr) {
#pragma omp parallel for if (inner && y_image > kParallelGrain)
      for (int64_t co = 0; co < g.C_out; ++co) {
        T* row = yn + co * P_all;
        const T bc = bias[co];
#pragma omp simd
        for (int64_t p = 0; p < P_all; ++p) row[p] += bc;
      }
    }
  });
}

template <class T>
void conv2d_backward_input_cpu(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const ConvPlan plan = make_plan(g);
  const int64_t P_all = plan.positions, rows = plan.rows;
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all;
  for_each_image(plan, g.N, [&](int64_t n, bool inner) {
    const T* gyn = gy + n * y_image;
    T* gxn = gx + n * x_image;
    if (plan.pointwise) {
      // gx_n (C_in x HW) = w^T (C_in x C_out) . gy_n (C_out x HW): col2im is the identity.
      gemm_cpu<T>(true, false, rows, P_all, g.C_out, T(1), w, std::max<int64_t>(1, rows), gyn,
                  std::max<int64_t>(1, P_all), T(0), gxn, std::max<int64_t>(1, P_all));
      return;
    }
    T* col = thread_buffer<T>(0, rows * plan.chunk);
    fill_zero(gxn, x_image, inner);
    for (int64_t p0 = 0; p0 < P_all; p0 += plan.chunk) {
      const int64_t P = std::min(plan.chunk, P_all - p0);
      // col (rows x P) = w^T (rows x C_out) . gy_n[:, p0:p0+P] (C_out x P)
      gemm_cpu<T>(true, false, rows, P, g.C_out, T(1), w, std::max<int64_t>(1, rows), gyn + p0,
                  std::max<int64_t>(1, P_all), T(0), col, std::max<int64_t>(1, P));
      col2im_add(col, g, p0, P, gxn, inner);
    }
  });
}

template <class T>
void conv2d_backward_weight_cpu(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
  const ConvPlan plan = make_plan(g);
  const int64_t P_all = plan.positions, rows = plan.rows;
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all, w_size = g.C_out * rows;
  // Accumulates image n's contribution into acc (C_out x rows).
  auto add_image = [&](int64_t n, bool inner, T* acc) {
    const T* xn = x + n * x_image;
    const T* gyn = gy + n * y_image;
    T* col = plan.pointwise ? nullptr : thread_buffer<T>(0, rows * plan.chunk);
    for (int64_t p0 = 0; p0 < P_all; p0 += plan.chunk) {
      const int64_t P = std::min(plan.chunk, P_all - p0);
      const T* b = plan.pointwise ? xn + p0 : col;
      const int64_t ldb = plan.pointwise ? P_all : P;
      if (!plan.pointwise) im2col(xn, g, rows, p0, P, col, inner);
      // acc (C_out x rows) += gy_n[:, p0:p0+P] (C_out x P) . col^T (P x rows)
      gemm_cpu<T>(false, true, g.C_out, rows, P, T(1), gyn + p0, std::max<int64_t>(1, P_all), b,
                  std::max<int64_t>(1, ldb), T(1), acc, std::max<int64_t>(1, rows));
    }
  };
  if (!plan.by_image) {
    for (int64_t n = 0; n < g.N; ++n) add_image(n, true, gw);
    return;
  }
  // Each thread sums its images into a private gradient; the partials are
  // then added to gw element by element (a fixed order: deterministic).
  std::vector<T*> partial(omp_get_max_threads(), nullptr);
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    T* mine = thread_buffer<T>(1, w_size);
    std::fill(mine, mine + w_size, T(0));
    partial[t] = mine;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n) add_image(n, false, mine);
    // (implicit barrier: every partial is complete)
#pragma omp for schedule(static)
    for (int64_t e = 0; e < w_size; ++e) {
      T s = T(0);
      for (int k = 0; k < team; ++k) s += partial[k][e];
      gw[e] += s;
    }
  }
}

// ---- reflection padding

namespace {
// Mirrors k into [0, n) without repeating the edge: -1 -> 1, n -> n - 2.
inline int64_t reflect(int64_t k, int64_t n) {
  if (k < 0) k = -k;
  if (k >= n) k = 2 * (n - 1) - k;
  return k;
}
}  // namespace

template <class T>
void reflection_pad2d_forward_cpu(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                  int64_t pad_w) {
  const int64_t OH = H + 2 * pad_h, OW = W + 2 * pad_w;
#pragma omp parallel for if (planes * OH * OW > kParallelGrain)
  for (int64_t r = 0; r < planes * OH; ++r) {
    const int64_t plane = r / OH, oi = r % OH;
    const T* src = x + (plane * H + reflect(oi - pad_h, H)) * W;
    T* dst = y + r * OW;
    for (int64_t oj = 0; oj < pad_w; ++oj) dst[oj] = src[pad_w - oj];
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) dst[pad_w + j] = src[j];
    for (int64_t oj = pad_w + W; oj < OW; ++oj) dst[oj] = src[2 * (W - 1) - (oj - pad_w)];
  }
}

template <class T>
void reflection_pad2d_backward_cpu(const T* gy, T* gx, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                   int64_t pad_w) {
  const int64_t OH = H + 2 * pad_h, OW = W + 2 * pad_w;
  // One plane per thread: a plane's pixels receive only from its own padded plane.
#pragma omp parallel for if (planes * OH * OW > kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* gp = gx + plane * H * W;
    std::fill(gp, gp + H * W, T(0));
    for (int64_t oi = 0; oi < OH; ++oi) {
      T* grow = gp + reflect(oi - pad_h, H) * W;
      const T* src = gy + (plane * OH + oi) * OW;
      for (int64_t oj = 0; oj < OW; ++oj) grow[reflect(oj - pad_w, W)] += src[oj];
    }
  }
}

#define GESSO_INSTANTIATE(T)                                                                              \
  template void conv2d_forward_cpu<T>(const T*, const T*, const T*, T*, const Conv2dGeometry&);           \
  template void conv2d_backward_input_cpu<T>(const T*, const T*, T*, const Conv2dGeometry&);              \
  template void conv2d_backward_weight_cpu<T>(const T*, const T*, T*, const Conv2dGeometry&);             \
  template void reflection_pad2d_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void reflection_pad2d_backward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE

}  // namespace gesso::kernels
