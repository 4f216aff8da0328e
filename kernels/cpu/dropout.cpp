// dropout.cpp: CPU twin of kernels/dropout.h (one Philox draw per element).
#include "kernels/dropout.h"

#include "kernels/random.h"

namespace gesso::kernels {

template <class T>
void dropout_forward_cpu(const T* x, T* y, T* keep, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const T inv_keep = static_cast<T>(1.0 / (1.0 - p));
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    T k = philox_uniform_at(seed, offset, i) >= p ? T(1) : T(0);
    keep[i] = k;
    y[i] = x[i] * k * inv_keep;
  }
}

template void dropout_forward_cpu<float>(const float*, float*, float*, int64_t, double, uint64_t, uint64_t);
template void dropout_forward_cpu<double>(const double*, double*, double*, int64_t, double, uint64_t, uint64_t);

}  // namespace gesso::kernels
