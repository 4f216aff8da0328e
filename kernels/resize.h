/*
 * resize.h: resampling whole images to a new size (loading datasets, style
 * and content pictures). Not differentiable: the network-side upsampling
 * layer is upsample2d in autograd/ops.h.
 *
 * Layouts: x is (C, H, W) contiguous, y is (C, out_h, out_w) contiguous;
 * fold a batch into C. y is overwritten (=).
 *
 * Both filters are separable and are applied one axis at a time, each axis
 * with its own filter, so an image can shrink along one axis and grow along
 * the other. Sums accumulate in double, the pass between the two axes included.
 *
 *   bilinear  for upsampling. Half-pixel centres (PyTorch's align_corners =
 *             false): output o samples input coordinate (o + 0.5) * in / out - 0.5,
 *             clamped to the edge pixels.
 *   area      for downsampling. The exact box filter: output o averages the
 *             input interval [o * in / out, (o + 1) * in / out), each input
 *             pixel weighted by the fraction of it that the interval covers
 *             (weights are ratios of integers, so halving gives exact 2x2 means).
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

enum class ResizeFilter { bilinear, area };

template <class T>
void resize_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w,
                ResizeFilter filter_h, ResizeFilter filter_w);

// The same filter along both axes.
template <class T>
void resize_bilinear_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w);
template <class T>
void resize_area_cpu(const T* x, T* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w);

}  // namespace gesso::kernels

// ---- CUDA twins (kernels/cuda/resize.cu): the same arguments in float, plus
// a stream; x and y are device memory. One thread per output pixel applies
// both axes' filters at once (the 2-d tensor product of the two tap tables),
// summing in double like the CPU twin, so no intermediate buffer is needed.
namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(
    void resize_cuda(const float* x, float* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w,
                     ResizeFilter filter_h, ResizeFilter filter_w, cudaStream_t stream);)
}  // namespace gesso::kernels
