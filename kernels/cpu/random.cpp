// random.cpp: CPU twins of the Philox draws (see kernels/random.h).
#include "kernels/random.h"

namespace gesso::kernels {

template <class T>
void philox_uniform_cpu(uint64_t seed, uint64_t offset, T* out, int64_t n, double lo, double hi) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(lo + (hi - lo) * philox_uniform_at(seed, offset, i));
}

template <class T>
void philox_normal_cpu(uint64_t seed, uint64_t offset, T* out, int64_t n, double mean, double std) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(mean + std * philox_normal_at(seed, offset, i));
}

template void philox_uniform_cpu<float>(uint64_t, uint64_t, float*, int64_t, double, double);
template void philox_uniform_cpu<double>(uint64_t, uint64_t, double*, int64_t, double, double);
template void philox_normal_cpu<float>(uint64_t, uint64_t, float*, int64_t, double, double);
template void philox_normal_cpu<double>(uint64_t, uint64_t, double*, int64_t, double, double);

}  // namespace gesso::kernels
