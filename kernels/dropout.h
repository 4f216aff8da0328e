/*
 * dropout.h: the dropout mask drawn from Philox (kernels/random.h), so the
 * same (seed, offset) drops the same elements on every device. CPU twin in
 * kernels/cpu/dropout.cpp; the CUDA twin shares the arguments plus a stream.
 *
 *   x, y, keep are contiguous with n elements
 *   keep[i] = U_i >= p ? 1 : 0, with U_i = philox_uniform_at(seed, offset, i)
 *   y[i]    = x[i] * keep[i] / (1 - p)
 *
 * y and keep are written (`=`). The backward is g * keep / (1 - p), a tensor
 * op in autograd (so it is differentiable again).
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

// 0 <= p < 1 (checked by the caller).
template <class T>
void dropout_forward_cpu(const T* x, T* y, T* keep, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace gesso::kernels

namespace gesso::kernels {
// CUDA twin (kernels/cuda/dropout.cu), float32: the same mask as the CPU twin.
GESSO_DECLARE_CUDA_TWINS(void dropout_forward_cuda(const float* x, float* y, float* keep, int64_t n, double p,
                                                   uint64_t seed, uint64_t offset, cudaStream_t stream);)
}  // namespace gesso::kernels
