/*
 * loss.cpp: CPU twins of kernels/loss.h. The scalar losses are one OpenMP
 * reduction in double over the elements (so the result can differ in the
 * last float bit between thread counts, never by more); log_softmax is
 * parallel over the outer index with the inner index innermost, as in
 * kernels/cpu/reduce.cpp.
 */
#include "kernels/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace gesso::kernels {

template <class T>
void mse_loss_forward_cpu(const T* pred, const T* target, T* out, int64_t n) {
  double acc = 0.0;
#pragma omp parallel for simd reduction(+ : acc) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    acc += d * d;
  }
  out[0] = static_cast<T>(acc / static_cast<double>(n));
}

template <class T>
void l1_loss_forward_cpu(const T* pred, const T* target, T* out, int64_t n) {
  double acc = 0.0;
#pragma omp parallel for simd reduction(+ : acc) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(pred[i]) - static_cast<double>(target[i]));
  out[0] = static_cast<T>(acc / static_cast<double>(n));
}

template <class T>
void bce_with_logits_forward_cpu(const T* x, const T* t, T* out, int64_t n) {
  double acc = 0.0;
  // Each term in double: at x = +-100 the three parts cancel to O(1) and the
  // log1p term (e^-100) must not be lost next to them.
#pragma omp parallel for reduction(+ : acc) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i], ti = t[i];
    acc += std::max(v, 0.0) - v * ti + std::log1p(std::exp(-std::abs(v)));
  }
  out[0] = static_cast<T>(acc / static_cast<double>(n));
}

template <class T>
void total_variation_forward_cpu(const T* x, T* out, int64_t planes, int64_t H, int64_t W) {
  double horizontal = 0.0, vertical = 0.0;
#pragma omp parallel for reduction(+ : horizontal, vertical) if (planes * H * W > kParallelGrain)
  for (int64_t p = 0; p < planes; ++p) {
    const T* plane = x + p * H * W;
    for (int64_t h = 0; h < H; ++h) {
      const T* row = plane + h * W;
      double rh = 0.0;
#pragma omp simd reduction(+ : rh)
      for (int64_t w = 0; w < W - 1; ++w) {
        double d = static_cast<double>(row[w + 1]) - static_cast<double>(row[w]);
        rh += d * d;
      }
      horizontal += rh;
      if (h + 1 < H) {
        const T* below = row + W;
        double rv = 0.0;
#pragma omp simd reduction(+ : rv)
        for (int64_t w = 0; w < W; ++w) {
          double d = static_cast<double>(below[w]) - static_cast<double>(row[w]);
          rv += d * d;
        }
        vertical += rv;
      }
    }
  }
  double pairs_h = static_cast<double>(planes * H * (W - 1)), pairs_v = static_cast<double>(planes * (H - 1) * W);
  double tv = (pairs_h > 0 ? horizontal / pairs_h : 0.0) + (pairs_v > 0 ? vertical / pairs_v : 0.0);
  out[0] = static_cast<T>(tv);
}

template <class T>
void log_softmax_forward_cpu(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t total = outer * n * inner;
#pragma omp parallel for if (total > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    T* yo = y + o * n * inner;
    std::vector<double> top(inner, -std::numeric_limits<double>::infinity()), sum(inner, 0.0);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t i = 0; i < inner; ++i) top[i] = std::max(top[i], static_cast<double>(xo[k * inner + i]));
    for (int64_t k = 0; k < n; ++k)
      for (int64_t i = 0; i < inner; ++i) sum[i] += std::exp(static_cast<double>(xo[k * inner + i]) - top[i]);
    // Reuse `top` as the log-normaliser m + log(sum).
    for (int64_t i = 0; i < inner; ++i) top[i] += std::log(sum[i]);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t i = 0; i < inner; ++i) yo[k * inner + i] = static_cast<T>(xo[k * inner + i] - top[i]);
  }
}

#define GESSO_INSTANTIATE(T)                                                       \
  template void mse_loss_forward_cpu<T>(const T*, const T*, T*, int64_t);          \
  template void l1_loss_forward_cpu<T>(const T*, const T*, T*, int64_t);           \
  template void bce_with_logits_forward_cpu<T>(const T*, const T*, T*, int64_t);   \
  template void total_variation_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t); \
  template void log_softmax_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE

}  // namespace gesso::kernels
