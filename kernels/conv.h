/*
 * conv.h: 2-d convolution (cross-correlation, as in every DL framework) and
 * reflection padding. CPU twins in kernels/cpu/conv.cpp.
 *
 * Layouts, all contiguous row-major:
 *   x  is (N, C_in, H, W)            the input
 *   w  is (C_out, C_in, kH, kW)      the weight
 *   y  is (N, C_out, OH, OW)         the output, OH = conv2d_out_size(H, kH, stride_h, pad_h, dilation_h)
 *   y[n, co, oh, ow] = bias[co] + sum_{ci, i, j} w[co, ci, i, j] *
 *                      x[n, ci, oh * stride_h - pad_h + i * dilation_h, ow * stride_w - pad_w + j * dilation_w]
 *   with x read as 0 outside the image (zero padding; reflection padding is
 *   a separate op, reflection_pad2d, followed by a convolution with pad 0).
 *
 * Three kernels, each made of GEMMs over `col`:
 *   forward          y (C_out, positions) = w (C_out, C_in*kH*kW) . col (C_in*kH*kW, positions)
 *   backward_input   col = w^T . gy, then col2im folds col back onto gx
 *   backward_weight  gw (C_out, C_in*kH*kW) += gy . col^T
 * where col = im2col(x) holds, for each output position, the C_in*kH*kW
 * input values its kernel window covers.
 *
 * Why im2col + GEMM: it turns every convolution (any stride, padding,
 * dilation) and both of its adjoints into one well-optimised primitive, so
 * gemm_cpu's speed (handwritten or OpenBLAS) carries over unchanged. The CPU
 * twins (kernels/cpu/conv.cpp explains each choice) make the GEMMs large by
 * giving one GEMM the positions of several whole images, build col a slice
 * of rows at a time so that it stays in cache, pick the GEMM's orientation
 * by the shapes, and skip col where it would be x itself (a kernel covering
 * the whole unpadded input, or 1x1 stride 1). col's memory is bounded by a
 * budget (below), never by the image. 3x3 stride-1 float convolutions go
 * to Winograd instead (kernels/winograd.h), and the float forward and
 * weight gradient of 4x4 stride-2 ones to Winograd F(2x2, 2x2) over the
 * input's phases (in kernels/cpu/conv.cpp).
 *
 * Threads: with at least as many images as threads, each thread convolves
 * a range of whole images (its own col; weight gradients summed at the
 * end); otherwise images go one by one with the threads inside im2col,
 * col2im and the GEMM.
 *
 * Accumulation: gw is a parameter gradient and is accumulated (+=); y and gx
 * are written (=).
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

struct Conv2dGeometry {
  int64_t N = 0, C_in = 0, H = 0, W = 0;  // x
  int64_t C_out = 0, kH = 0, kW = 0;       // w
  int64_t OH = 0, OW = 0;                  // y
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

// Output size along one axis; <= 0 when the dilated kernel is larger than the padded input.
GESSO_HD inline int64_t conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = dilation * (k - 1) + 1;
  const int64_t room = in + 2 * pad - span;
  return room < 0 ? 0 : room / stride + 1;
}

// The CPU kernels' scratch budget per thread, in elements (default 1 << 22,
// 16 MiB of float): a slice of col plus an output-sized matrix. Images are
// grouped into one GEMM only as far as it allows, and one image too large
// for it is processed in chunks of max(16, budget / slice rows) output
// positions: a smaller budget saves memory on large images at some speed.
// Tests lower it to exercise the grouping and the chunking.
void set_conv_col_budget(int64_t elements);
int64_t conv_col_budget();

// y = conv(x, w) + bias; bias (C_out) may be null.
template <class T>
void conv2d_forward_cpu(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g);

// gx = conv^T(gy, w): the gradient of the forward with respect to x.
template <class T>
void conv2d_backward_input_cpu(const T* gy, const T* w, T* gx, const Conv2dGeometry& g);

// gw += the gradient of the forward with respect to w, for x and gy.
template <class T>
void conv2d_backward_weight_cpu(const T* x, const T* gy, T* gw, const Conv2dGeometry& g);

// Reflection padding of `planes` planes (N * C) of H x W into
// (H + 2 pad_h) x (W + 2 pad_w): y[i, j] = x[r(i - pad_h, H), r(j - pad_w, W)]
// with r(k, n) = |k| mirrored at both edges (the edge itself is not repeated),
// so pad_h < H and pad_w < W. Forward writes y (=); backward folds gy back,
// writing gx (=).
template <class T>
void reflection_pad2d_forward_cpu(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                  int64_t pad_w);
template <class T>
void reflection_pad2d_backward_cpu(const T* gy, T* gx, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                   int64_t pad_w);

}  // namespace gesso::kernels

namespace gesso::kernels {
// The CUDA twins (kernels/cuda/conv.cu; im2col + the CUDA GEMM, see its
// header): the same contracts, float only, pointers into device memory (host
// memory on the simt device); arguments checked, throwing gesso::Error.
// Their scratch memory (col and friends) is bounded by a budget in elements
// per call (default 1 << 24, 64 MiB of float); tests lower it to exercise
// chunking, as with set_conv_col_budget on the CPU.
GESSO_DECLARE_CUDA_TWINS(
    void conv2d_forward_cuda(const float* x, const float* w, const float* bias, float* y, const Conv2dGeometry& g,
                             cudaStream_t stream);
    void conv2d_backward_input_cuda(const float* gy, const float* w, float* gx, const Conv2dGeometry& g,
                                    cudaStream_t stream);
    void conv2d_backward_weight_cuda(const float* x, const float* gy, float* gw, const Conv2dGeometry& g,
                                     cudaStream_t stream);
    void reflection_pad2d_forward_cuda(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                       int64_t pad_w, cudaStream_t stream);
    void reflection_pad2d_backward_cuda(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W,
                                        int64_t pad_h, int64_t pad_w, cudaStream_t stream);
    void set_conv_col_budget_cuda(int64_t elements);
    int64_t conv_col_budget_cuda();)
}  // namespace gesso::kernels
