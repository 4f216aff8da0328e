/*
 * reduce.h: reductions along one axis. The input is contiguous and viewed as
 * (outer, n, inner); the output is (outer, inner), reducing the middle axis.
 * A whole-tensor reduction is outer = inner = 1. Sums accumulate in double
 * so that float results do not depend on the summation order's rounding
 * (in both twins: the CUDA one sums each thread's share and the block tree
 * in double too).
 *
 *   sum   out = sum_k x[o, k, i]
 *   max   out = max_k x[o, k, i]        (NaN propagates)
 *   var   out = sum_k (x - mean)^2 / (n - ddof), two passes for accuracy
 *   argmax out = first k reaching the max, as a float (NaN never wins; 0
 *          when no element is above -inf)
 *
 * The CUDA twin reduce_cuda (kernels/cuda/reduce.cu, float32) takes the same
 * arguments plus a stream; its file comment explains how the work is split.
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

enum class ReduceOp { sum, max, argmax, var };

// ddof is used by var only (0 biased, 1 unbiased).
template <class T>
void reduce_cpu(ReduceOp op, const T* x, T* out, int64_t outer, int64_t n, int64_t inner, int ddof);

}  // namespace gesso::kernels

namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(void reduce_cuda(ReduceOp op, const float* x, float* out, int64_t outer, int64_t n,
                                          int64_t inner, int ddof, cudaStream_t stream);)
}  // namespace gesso::kernels
