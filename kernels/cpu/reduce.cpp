/*
 * reduce.cpp: CPU twin of kernels/reduce.h. Parallel over the outer index
 * when there is enough of it, otherwise the inner loops carry the work; the
 * loop over `inner` is innermost so that the reads are contiguous and vectorise.
 */
#include "kernels/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

namespace gesso::kernels {

template <class T>
void reduce_cpu(ReduceOp op, const T* x, T* out, int64_t outer, int64_t n, int64_t inner, int ddof) {
  const int64_t total = outer * n * inner;
#pragma omp parallel for if (total > kParallelGrain && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    T* po = out + o * inner;
    std::vector<double> acc(inner);
    switch (op) {
      case ReduceOp::sum:
        for (int64_t i = 0; i < inner; ++i) acc[i] = 0.0;
        for (int64_t k = 0; k < n; ++k) {
          const T* row = xo + k * inner;
#pragma omp simd
          for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < inner; ++i) po[i] = static_cast<T>(acc[i]);
        break;
      case ReduceOp::max:
        for (int64_t i = 0; i < inner; ++i) acc[i] = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < n; ++k) {
          const T* row = xo + k * inner;
          for (int64_t i = 0; i < inner; ++i)
            // NaN wins and stays: !(NaN <= a) takes it, and nothing replaces
            // a NaN accumulator (acc != acc only for NaN).
            if (!(row[i] <= acc[i]) && acc[i] == acc[i]) acc[i] = row[i];
        }
        for (int64_t i = 0; i < inner; ++i) po[i] = static_cast<T>(acc[i]);
        break;
      case ReduceOp::argmax:
        for (int64_t i = 0; i < inner; ++i) {
          double best = -std::numeric_limits<double>::infinity();
          int64_t arg = 0;
          for (int64_t k = 0; k < n; ++k)
            if (xo[k * inner + i] > best) { best = xo[k * inner + i]; arg = k; }
          po[i] = static_cast<T>(arg);
        }
        break;
      case ReduceOp::var: {
        std::vector<double> mean(inner, 0.0);
        for (int64_t k = 0; k < n; ++k)
          for (int64_t i = 0; i < inner; ++i) mean[i] += xo[k * inner + i];
        for (int64_t i = 0; i < inner; ++i) { mean[i] /= static_cast<double>(n); acc[i] = 0.0; }
        for (int64_t k = 0; k < n; ++k)
          for (int64_t i = 0; i < inner; ++i) {
            double d = xo[k * inner + i] - mean[i];
            acc[i] += d * d;
          }
        double denom = static_cast<double>(n - ddof);
        for (int64_t i = 0; i < inner; ++i)
          po[i] = static_cast<T>(denom > 0 ? acc[i] / denom : std::numeric_limits<double>::quiet_NaN());
        break;
      }
    }
  }
}

template void reduce_cpu<float>(ReduceOp, const float*, float*, int64_t, int64_t, int64_t, int);
template void reduce_cpu<double>(ReduceOp, const double*, double*, int64_t, int64_t, int64_t, int);

}  // namespace gesso::kernels
