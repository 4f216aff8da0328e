/*
 * norm.cpp: CPU twins of kernels/norm.h (batch, instance and layer norm).
 *
 * Work split: batch norm runs one channel per iteration of the parallel loop
 * (a channel's N * HW values are read twice, statistics then output, and
 * usually still sit in L2 the second time); instance and layer norm run one
 * row (one (n, c) plane, one sample) per iteration. Statistics are summed in
 * double about a shift; inner loops are `omp simd` reductions so that they
 * vectorise without -ffast-math. Parameter gradients are reduced through
 * per-row or per-thread partials in a fixed order, so results do not depend
 * on scheduling (for a given thread count).
 */
#include "kernels/norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace gesso::kernels {

namespace {

struct Moments {
  double mean = 0, var = 0;  // var is biased (divided by the count)
};

// Lanes of independent partial sums in the statistics loops: one vector
// accumulator would make each add wait for the previous one (a 4-cycle
// latency chain); kLanes / 8 independent AVX-512 chains hide it.
constexpr int kLanes = 32;

// Adds the shifted sums of row[0, len) into lane accumulators s and ss.
template <class T>
void accumulate_moments(const T* row, int64_t len, double shift, double* s, double* ss) {
  int64_t i = 0;
  for (; i + kLanes <= len; i += kLanes) {
#pragma omp simd
    for (int j = 0; j < kLanes; ++j) {
      double d = static_cast<double>(row[i + j]) - shift;
      s[j] += d;
      ss[j] += d * d;
    }
  }
  for (; i < len; ++i) {
    double d = static_cast<double>(row[i]) - shift;
    s[0] += d;
    ss[0] += d * d;
  }
}

// Mean and biased variance of `segments` runs of `len` values, run s starting
// at base + s * stride. Summed about base[0] to keep cancellation small.
template <class T>
Moments moments(const T* base, int64_t segments, int64_t stride, int64_t len) {
  const double shift = static_cast<double>(base[0]);
  double s_lanes[kLanes] = {}, ss_lanes[kLanes] = {};
  for (int64_t seg = 0; seg < segments; ++seg) accumulate_moments(base + seg * stride, len, shift, s_lanes, ss_lanes);
  double s = 0, ss = 0;
  for (int j = 0; j < kLanes; ++j) {
    s += s_lanes[j];
    ss += ss_lanes[j];
  }
  const double count = static_cast<double>(segments * len);
  const double m = s / count;
  Moments r;
  r.mean = shift + m;
  r.var = std::max(ss / count - m * m, 0.0);
  return r;
}

// y = (x - center) * scale + offset over `segments` runs of `len` (same
// geometry as moments). Centring first keeps float precision when the mean
// is large against the spread.
template <class T>
void scale_shift(const T* x, T* y, int64_t segments, int64_t stride, int64_t len, double center, double scale,
                 double offset) {
  const T m = static_cast<T>(center), a = static_cast<T>(scale), b = static_cast<T>(offset);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const T* xr = x + seg * stride;
    T* yr = y + seg * stride;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) yr[i] = (xr[i] - m) * a + b;
  }
}

// sum(g) and sum(g * (x - mean)) over the same geometry.
template <class T>
void grad_sums(const T* x, const T* g, int64_t segments, int64_t stride, int64_t len, double mean, double& sum_g,
               double& sum_gx) {
  double s = 0, sx = 0;
  for (int64_t seg = 0; seg < segments; ++seg) {
    const T* xr = x + seg * stride;
    const T* gr = g + seg * stride;
#pragma omp simd reduction(+ : s, sx)
    for (int64_t i = 0; i < len; ++i) {
      double gi = static_cast<double>(gr[i]);
      s += gi;
      sx += gi * (static_cast<double>(xr[i]) - mean);
    }
  }
  sum_g = s;
  sum_gx = sx;
}

// Coefficients of the batch-statistics input gradient of one group,
//   dx = w*invstd*(g - sum_g/n) - w*invstd^3*(x - mean)*sum_gx/n
//      = a * g - k * (x - mean) + c,
// so that the inner loop is two multiply-adds.
struct InputGradCoeffs {
  double a, k, c, mean;
};
inline InputGradCoeffs batch_stats_coeffs(double w, double invstd, double mean, double sum_g, double sum_gx,
                                          double count) {
  InputGradCoeffs r;
  r.a = w * invstd;
  r.k = w * invstd * invstd * invstd * sum_gx / count;
  r.c = -r.a * sum_g / count;
  r.mean = mean;
  return r;
}

template <class T>
void input_grad(const T* x, const T* g, T* dx, int64_t segments, int64_t stride, int64_t len,
                const InputGradCoeffs& co) {
  const T ta = static_cast<T>(co.a), tk = static_cast<T>(co.k), tc = static_cast<T>(co.c),
          tm = static_cast<T>(co.mean);
  for (int64_t seg = 0; seg < segments; ++seg) {
    const T* xr = x + seg * stride;
    const T* gr = g + seg * stride;
    T* dr = dx + seg * stride;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) dr[i] = ta * gr[i] - tk * (xr[i] - tm) + tc;
  }
}

inline double inv_std(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

}  // namespace

// ---- batch norm

template <class T>
void batch_norm_forward_train_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                                  int64_t N, int64_t C, int64_t HW, double eps) {
#pragma omp parallel for if (N * C * HW > kParallelGrain && C > 1)
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * HW;
    Moments m = moments(xc, N, C * HW, HW);
    save_mean[c] = static_cast<T>(m.mean);
    save_var[c] = static_cast<T>(m.var);
    double scale = inv_std(m.var, eps) * (weight ? static_cast<double>(weight[c]) : 1.0);
    double offset = bias ? static_cast<double>(bias[c]) : 0.0;
    scale_shift(xc, y + c * HW, N, C * HW, HW, m.mean, scale, offset);
  }
}

template <class T>
void batch_norm_forward_eval_cpu(const T* x, const T* mean, const T* var, const T* weight, const T* bias, T* y,
                                 int64_t N, int64_t C, int64_t HW, double eps) {
#pragma omp parallel for if (N * C * HW > kParallelGrain && C > 1)
  for (int64_t c = 0; c < C; ++c) {
    double scale = inv_std(static_cast<double>(var[c]), eps) * (weight ? static_cast<double>(weight[c]) : 1.0);
    double offset = bias ? static_cast<double>(bias[c]) : 0.0;
    scale_shift(x + c * HW, y + c * HW, N, C * HW, HW, static_cast<double>(mean[c]), scale, offset);
  }
}

template <class T>
void batch_norm_update_running_cpu(T* running_mean, T* running_var, const T* batch_mean, const T* batch_var,
                                   int64_t C, int64_t count, double momentum) {
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  for (int64_t c = 0; c < C; ++c) {
    running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * batch_mean[c]);
    running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] + momentum * batch_var[c] * unbias);
  }
}

template <class T>
void batch_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                             T* dweight, T* dbias, int64_t N, int64_t C, int64_t HW, double eps, bool batch_stats) {
  const double count = static_cast<double>(N * HW);
#pragma omp parallel for if (N * C * HW > kParallelGrain && C > 1)
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = x + c * HW;
    const T* gc = g + c * HW;
    const double mu = static_cast<double>(mean[c]);
    const double invstd = inv_std(static_cast<double>(var[c]), eps);
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    double sum_g = 0, sum_gx = 0;
    if (batch_stats || dweight || dbias) grad_sums(xc, gc, N, C * HW, HW, mu, sum_g, sum_gx);
    if (dbias) dbias[c] += static_cast<T>(sum_g);
    if (dweight) dweight[c] += static_cast<T>(sum_gx * invstd);
    if (!dx) continue;
    if (batch_stats) {
      input_grad(xc, gc, dx + c * HW, N, C * HW, HW, batch_stats_coeffs(w, invstd, mu, sum_g, sum_gx, count));
    } else {
      scale_shift(gc, dx + c * HW, N, C * HW, HW, 0.0, w * invstd, 0.0);
    }
  }
}

// ---- instance norm

template <class T>
void instance_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                               int64_t N, int64_t C, int64_t HW, double eps) {
  const int64_t rows = N * C;
#pragma omp parallel for if (rows * HW > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % C;
    Moments m = moments(x + r * HW, 1, HW, HW);
    save_mean[r] = static_cast<T>(m.mean);
    save_var[r] = static_cast<T>(m.var);
    double scale = inv_std(m.var, eps) * (weight ? static_cast<double>(weight[c]) : 1.0);
    double offset = bias ? static_cast<double>(bias[c]) : 0.0;
    scale_shift(x + r * HW, y + r * HW, 1, HW, HW, m.mean, scale, offset);
  }
}

template <class T>
void instance_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                                T* dweight, T* dbias, int64_t N, int64_t C, int64_t HW, double eps) {
  const int64_t rows = N * C;
  // Per-row sums, reduced over n afterwards in a fixed order.
  std::vector<double> row_g(rows), row_gxhat(rows);
#pragma omp parallel for if (rows * HW > kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % C;
    const double mu = static_cast<double>(mean[r]);
    const double invstd = inv_std(static_cast<double>(var[r]), eps);
    double sum_g, sum_gx;
    grad_sums(x + r * HW, g + r * HW, 1, HW, HW, mu, sum_g, sum_gx);
    row_g[r] = sum_g;
    row_gxhat[r] = sum_gx * invstd;
    if (dx) {
      const double w = weight ? static_cast<double>(weight[c]) : 1.0;
      input_grad(x + r * HW, g + r * HW, dx + r * HW, 1, HW, HW,
                 batch_stats_coeffs(w, invstd, mu, sum_g, sum_gx, static_cast<double>(HW)));
    }
  }
  for (int64_t c = 0; c < C && (dweight || dbias); ++c) {
    double sw = 0, sb = 0;
    for (int64_t n = 0; n < N; ++n) {
      sw += row_gxhat[n * C + c];
      sb += row_g[n * C + c];
    }
    if (dweight) dweight[c] += static_cast<T>(sw);
    if (dbias) dbias[c] += static_cast<T>(sb);
  }
}

// ---- layer norm

template <class T>
void layer_norm_forward_cpu(const T* x, const T* weight, const T* bias, T* y, T* save_mean, T* save_var,
                            int64_t M, int64_t K, double eps) {
#pragma omp parallel for if (M * K > kParallelGrain && M > 1)
  for (int64_t m = 0; m < M; ++m) {
    const T* xr = x + m * K;
    T* yr = y + m * K;
    Moments mo = moments(xr, 1, K, K);
    save_mean[m] = static_cast<T>(mo.mean);
    save_var[m] = static_cast<T>(mo.var);
    const double invstd = inv_std(mo.var, eps);
    if (!weight && !bias) {
      scale_shift(xr, yr, 1, K, K, mo.mean, invstd, 0.0);
      continue;
    }
    const T a = static_cast<T>(invstd), mu = static_cast<T>(mo.mean);
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) {
      T xhat = (xr[k] - mu) * a;
      yr[k] = xhat * (weight ? weight[k] : T(1)) + (bias ? bias[k] : T(0));
    }
  }
}

template <class T>
void layer_norm_backward_cpu(const T* x, const T* g, const T* mean, const T* var, const T* weight, T* dx,
                             T* dweight, T* dbias, int64_t M, int64_t K, double eps) {
  const bool want_params = dweight || dbias;
  const bool parallel = M * K > kParallelGrain && M > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  // One row of (dweight, dbias) partials per thread, summed in thread order.
  std::vector<double> part_w(want_params ? threads * K : 0), part_b(want_params ? threads * K : 0);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int tid = omp_get_thread_num();
    double* pw = want_params ? part_w.data() + tid * K : nullptr;
    double* pb = want_params ? part_b.data() + tid * K : nullptr;
#pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
      const T* xr = x + m * K;
      const T* gr = g + m * K;
      const double mu = static_cast<double>(mean[m]);
      const double invstd = inv_std(static_cast<double>(var[m]), eps);
      if (want_params) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) {
          double gk = static_cast<double>(gr[k]);
          pw[k] += gk * (static_cast<double>(xr[k]) - mu) * invstd;
          pb[k] += gk;
        }
      }
      if (!dx) continue;
      // gw = g * weight; dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat))
      double s = 0, sx = 0;
#pragma omp simd reduction(+ : s, sx)
      for (int64_t k = 0; k < K; ++k) {
        double gw = static_cast<double>(gr[k]) * (weight ? static_cast<double>(weight[k]) : 1.0);
        s += gw;
        sx += gw * (static_cast<double>(xr[k]) - mu);
      }
      const double kk = static_cast<double>(K);
      const T a = static_cast<T>(invstd), b = static_cast<T>(invstd * invstd * invstd * sx / kk),
              c = static_cast<T>(-invstd * s / kk), tm = static_cast<T>(mu);
      T* dr = dx + m * K;
#pragma omp simd
      for (int64_t k = 0; k < K; ++k) dr[k] = a * gr[k] * (weight ? weight[k] : T(1)) - b * (xr[k] - tm) + c;
    }
  }
  if (!want_params) return;
  for (int64_t k = 0; k < K; ++k) {
    double sw = 0, sb = 0;
    for (int t = 0; t < threads; ++t) {
      sw += part_w[t * K + k];
      sb += part_b[t * K + k];
    }
    if (dweight) dweight[k] += static_cast<T>(sw);
    if (dbias) dbias[k] += static_cast<T>(sb);
  }
}

// ---- explicit instantiations

#define GESSO_NORM_INSTANTIATE(T)                                                                                 \
  template void batch_norm_forward_train_cpu<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t,      \
                                                int64_t, double);                                                 \
  template void batch_norm_forward_eval_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, int64_t,    \
                                               int64_t, int64_t, double);                                         \
  template void batch_norm_update_running_cpu<T>(T*, T*, const T*, const T*, int64_t, int64_t, double);          \
  template void batch_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, \
                                           int64_t, int64_t, double, bool);                                       \
  template void instance_norm_forward_cpu<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t, \
                                             double);                                                             \
  template void instance_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,      \
                                              int64_t, int64_t, int64_t, double);                                 \
  template void layer_norm_forward_cpu<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, double);   \
  template void layer_norm_backward_cpu<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, \
                                           int64_t, double);

GESSO_NORM_INSTANTIATE(float)
GESSO_NORM_INSTANTIATE(double)
#undef GESSO_NORM_INSTANTIATE

}  // namespace gesso::kernels
