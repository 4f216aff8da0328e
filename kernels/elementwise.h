/*
 * elementwise.h: raw-pointer elementwise kernels (CPU twins in
 * kernels/cpu/elementwise.cpp; CUDA twins share these signatures plus a stream).
 *
 *   binary   out = a (op) b with NumPy broadcasting, described by a
 *            BinaryLayout (out contiguous, a and b strided, stride 0 = broadcast)
 *   unary    y = f(x; alpha, beta), x and y contiguous with n elements
 *   where    out = cond != 0 ? a : b, all contiguous with n elements
 *   copy     dst (contiguous) = src read through a StridedLayout, with dtype conversion
 *
 * Comparisons write 1 or 0 in the output's floating type.
 *
 * CUDA twins (kernels/cuda/elementwise.cu, float32 only, same arguments plus
 * a stream) are declared at the bottom: binary_forward_cuda, ...,
 * copy_rows_cuda. strided_copy_cuda copies float to float (device tensors
 * are float32, so there is no conversion to do on a device).
 * Activations' gradients are not kernels here: autograd writes them as
 * tensor ops so that second derivatives exist.
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

enum class BinaryOp { add, sub, mul, div, pow, eq, ne, lt, le, gt, ge };

enum class UnaryOp {
  neg, exp, log, sqrt, abs,
  relu, tanh, sigmoid, softplus,
  leaky_relu,   // alpha = negative slope
  clamp,        // alpha = lo, beta = hi
  pow_scalar,   // alpha = exponent
  affine,       // alpha * x + beta (scalar add and mul)
  step,         // x > alpha ? 1 : 0 (masks for relu-like backwards)
};

template <class T>
void binary_forward_cpu(BinaryOp op, const T* a, const T* b, T* out, const BinaryLayout& layout);

template <class T>
void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, double alpha, double beta);

template <class T>
void where_forward_cpu(const T* cond, const T* a, const T* b, T* out, int64_t n);

template <class Src, class Dst>
void strided_copy_cpu(const Src* src, const StridedLayout& layout, Dst* dst);

template <class T>
void fill_cpu(T* out, int64_t n, double value);

}  // namespace gesso::kernels

namespace gesso::kernels {

// Copies `rows` rows of `cols` elements: dst[r * dst_stride + c] = src[r * src_stride + c].
// The building block of concat and of its backward.
template <class T>
void copy_rows_cpu(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t rows, int64_t cols);

}  // namespace gesso::kernels

namespace gesso::kernels {
// The CUDA twins, float32; any block size from kernels::block_threads(256) works.
GESSO_DECLARE_CUDA_TWINS(
    void binary_forward_cuda(BinaryOp op, const float* a, const float* b, float* out, const BinaryLayout& layout,
                             cudaStream_t stream);
    void unary_forward_cuda(UnaryOp op, const float* x, float* y, int64_t n, double alpha, double beta,
                            cudaStream_t stream);
    void where_forward_cuda(const float* cond, const float* a, const float* b, float* out, int64_t n,
                            cudaStream_t stream);
    void strided_copy_cuda(const float* src, const StridedLayout& layout, float* dst, cudaStream_t stream);
    void fill_cuda(float* out, int64_t n, double value, cudaStream_t stream);
    void copy_rows_cuda(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows,
                        int64_t cols, cudaStream_t stream);)
}  // namespace gesso::kernels
