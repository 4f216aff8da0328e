/*
 * winograd.h: Winograd F(4x4, 3x3) convolution for float on the CPU, the
 * fast path that conv2d_forward_cpu and conv2d_backward_input_cpu
 * (kernels/conv.h) take by themselves for 3x3, stride-1, undilated
 * convolutions that are large enough to gain (VGG-19's every layer).
 * Implementation and a walk through the algorithm: kernels/cpu/winograd.cpp.
 *
 * Layouts, all contiguous row-major, exactly those of conv.h:
 *   x  is (N, C_in, H, W), w is (C_out, C_in, 3, 3), bias is (C_out) or null,
 *   y  is (N, C_out, OH, OW) with OH = H + 2 pad_h - 2, OW = W + 2 pad_w - 2.
 * Scratch (inside the kernel, for learners):
 *   U  (36, C_out, C_in)   transformed weights G g G^T, one 6x6 per (co, ci)
 *   V  (36, C_in, T)       transformed input tiles B^T d B for a block of T tiles
 *   M  (36, C_out, T)      M[k] = U[k] . V[k]: 36 independent GEMMs
 * and y's 4x4 tiles are A^T M A (+ bias). U is four times the weight's size;
 * V and M together stay within conv_col_budget() elements (conv.h), so the
 * memory never grows with the image.
 *
 * Accumulation: y and gx are written (=), as in conv.h.
 *
 * Float only: double convolutions (the gradient checks) stay on im2col, whose
 * rounding is that of a direct sum; Winograd's transforms scale values by up
 * to ~100 and cancel them again, and its errors are ~10x a direct sum's
 * (fine for float training and style transfer, not for finite differences).
 *
 * Choosing the algorithm: the environment variable GESSO_CONV=auto|im2col|winograd
 * (read at the first float convolution; unset or empty is auto) or
 * set_conv_algorithm():
 *   auto      Winograd where winograd_applicable and winograd_profitable
 *   im2col    never Winograd
 *   winograd  Winograd wherever winograd_applicable, however small
 *             (im2col for the other geometries, which Winograd cannot do)
 */
#pragma once
#include <cstdint>

#include "kernels/conv.h"

namespace gesso::kernels {

enum class ConvAlgorithm { automatic, im2col, winograd };

// "auto", "im2col" or "winograd".
const char* conv_algorithm_name(ConvAlgorithm a);
// The algorithm GESSO_CONV asks for now (auto when unset or empty). Throws
// gesso::Error naming the variable, the allowed values and the bad one.
ConvAlgorithm conv_algorithm_from_env();
// The setting in use; the first call reads GESSO_CONV (a bad value throws,
// and the next call reads it again).
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm a);

// True when Winograd F(4x4, 3x3) can compute this convolution: a 3x3 kernel,
// stride 1, dilation 1, any zero padding, and no empty dimension. Its
// backward-input is then one as well (a 3x3 stride-1 convolution of gy).
bool winograd_applicable(const Conv2dGeometry& g);

// True when Winograd is measured faster than im2col + GEMM for this
// geometry, forward and backward-input alike (the test is symmetric in C_in
// and C_out). The crossover, measured on this project's machines, is in
// winograd.cpp beside the thresholds.
bool winograd_profitable(const Conv2dGeometry& g);

// The decision the float hooks in conv.cpp make: the setting above, then
// applicable (and profitable, for auto).
bool conv_uses_winograd(const Conv2dGeometry& g);

// y = conv(x, w) + bias, the contract of conv2d_forward_cpu. Throws
// gesso::Error when !winograd_applicable(g).
void conv2d_forward_winograd_cpu(const float* x, const float* w, const float* bias, float* y,
                                 const Conv2dGeometry& g);

// gx = conv^T(gy, w), the contract of conv2d_backward_input_cpu: a 3x3
// stride-1 convolution of gy with w flipped in both axes and its channel
// axes swapped, padded by 2 - pad (a negative pad crops). Throws
// gesso::Error when !winograd_applicable(g).
void conv2d_backward_input_winograd_cpu(const float* gy, const float* w, float* gx, const Conv2dGeometry& g);

// The one-line hooks at the top of conv2d_forward_cpu and
// conv2d_backward_input_cpu: run Winograd and return true when
// conv_uses_winograd(g), else return false (im2col goes on). The double
// overloads always return false.
inline bool try_winograd_forward(const float* x, const float* w, const float* bias, float* y,
                                 const Conv2dGeometry& g) {
  if (!conv_uses_winograd(g)) return false;
  conv2d_forward_winograd_cpu(x, w, bias, y, g);
  return true;
}
inline bool try_winograd_forward(const double*, const double*, const double*, double*, const Conv2dGeometry&) {
  return false;
}
inline bool try_winograd_backward_input(const float* gy, const float* w, float* gx, const Conv2dGeometry& g) {
  if (!conv_uses_winograd(g)) return false;
  conv2d_backward_input_winograd_cpu(gy, w, gx, g);
  return true;
}
inline bool try_winograd_backward_input(const double*, const double*, double*, const Conv2dGeometry&) {
  return false;
}

}  // namespace gesso::kernels
