/*
 * gram.h: the Gram matrix of feature maps, G = scale * F F^T (CPU twin in
 * kernels/cpu/gram.cpp; the CUDA twin gram_forward_cuda shares the
 * arguments plus a cudaStream_t).
 *
 *   x is (C, HW) row-major: one image's features F, a row per channel
 *   g is (C, C) row-major:  g[i][j] = scale * sum_k x[i][k] x[j][k]
 *
 * g is written (`=`), never accumulated into: like every activation's
 * output and gradient in gesso; only parameters' gradients use `+=`.
 * Accumulation: each dot product is summed in T over chunks of at most 1024
 * elements (spread over the vector lanes), and the chunks' sums are added
 * in double, so a float result is as good as the chunk sums, not degraded
 * by HW. G is symmetric: the kernel computes the upper triangle and mirrors
 * it, so g[i][j] and g[j][i] are bitwise equal.
 * A batch (N, C, HW) is N calls with x and g advanced by C*HW and C*C.
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

template <class T>
void gram_forward_cpu(const T* x, T* g, int C, int HW, T scale);

}  // namespace gesso::kernels

namespace gesso::kernels {
// x (C, HW), g (C, C), float only; block_threads(256) picks the tile: 256
// threads -> 16x16 tiles, 64 -> 8x8.
GESSO_DECLARE_CUDA_TWINS(void gram_forward_cuda(const float* x, float* g, int C, int HW, float scale,
                                                cudaStream_t stream);)
}  // namespace gesso::kernels
