/*
 * pool.h: pooling and resampling of images, plane by plane. CPU twins in
 * kernels/cpu/pool.cpp.
 *
 * Layouts: x is (N, C, H, W) contiguous, seen as planes = N * C planes of
 * H x W; outputs are planes of OH x OW. Semantics follow PyTorch's defaults:
 *
 *   max_pool2d   OH = (H + 2 pad - kernel) / stride + 1; padding never wins
 *                (windows are clipped to the image); NaN propagates; argmax
 *                records, per output, the index ih * W + iw of the winner
 *                within its plane (the first one on ties). Either y or argmax
 *                may be null: the op's forward writes y alone, its backward
 *                recomputes the argmax table alone.
 *   avg_pool2d   same windows; the sum over the clipped window divided by the
 *                window's size including padding (count_include_pad).
 *   upsample2d   nearest: src = min(floor(dst * (float)in / out), in - 1), as
 *                PyTorch's "nearest"; bilinear: PyTorch's source coordinates,
 *                align_corners true (corners map to corners) or false (pixel
 *                centres map to centres, clamped at 0).
 *
 * Backward kernels are the adjoints of the forwards and write (=) the
 * activation gradient gx: they scatter-add, so each thread owns whole planes.
 * index_gather / index_scatter_add are the pair behind max_pool2d's backward
 * (and its backward's backward): the same index table, read in both directions.
 */
#pragma once
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

struct Pool2dGeometry {
  int64_t planes = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t kernel = 1, stride = 1, pad = 0;
};

template <class T>
void max_pool2d_forward_cpu(const T* x, T* y, int64_t* argmax, const Pool2dGeometry& g);

template <class T>
void avg_pool2d_forward_cpu(const T* x, T* y, const Pool2dGeometry& g);
template <class T>
void avg_pool2d_backward_cpu(const T* gy, T* gx, const Pool2dGeometry& g);

// out[p, i] = src[p, index[p, i]] for `planes` planes of out_plane outputs
// read from planes of src_plane values.
template <class T>
void index_gather_cpu(const T* src, const int64_t* index, T* out, int64_t planes, int64_t src_plane,
                      int64_t out_plane);
// out (planes of out_plane values) = 0, then out[p, index[p, i]] += src[p, i]
// for the src_plane values of each plane: the adjoint of index_gather_cpu.
template <class T>
void index_scatter_add_cpu(const T* src, const int64_t* index, T* out, int64_t planes, int64_t src_plane,
                           int64_t out_plane);

enum class Resample { nearest, bilinear };

struct UpsampleGeometry {
  int64_t planes = 0, H = 0, W = 0, OH = 0, OW = 0;
  bool align_corners = false;  // bilinear only
};

template <class T>
void upsample2d_forward_cpu(Resample mode, const T* x, T* y, const UpsampleGeometry& g);
template <class T>
void upsample2d_backward_cpu(Resample mode, const T* gy, T* gx, const UpsampleGeometry& g);

}  // namespace gesso::kernels

// ---- CUDA twins (kernels/cuda/pool.cu): the same arguments in float, plus a
// stream. argmax, index, x, y and the gradients are device pointers. On the
// GPU the backward scatters are gathers (each thread owns one input pixel and
// sums what reaches it), except index_scatter_add, whose table is arbitrary:
// it adds with atomics, so its float sums may differ in order from run to run.
namespace gesso::kernels {
GESSO_DECLARE_CUDA_TWINS(
    void max_pool2d_forward_cuda(const float* x, float* y, int64_t* argmax, const Pool2dGeometry& g,
                                 cudaStream_t stream);
    void avg_pool2d_forward_cuda(const float* x, float* y, const Pool2dGeometry& g, cudaStream_t stream);
    void avg_pool2d_backward_cuda(const float* gy, float* gx, const Pool2dGeometry& g, cudaStream_t stream);
    void index_gather_cuda(const float* src, const int64_t* index, float* out, int64_t planes, int64_t src_plane,
                           int64_t out_plane, cudaStream_t stream);
    void index_scatter_add_cuda(const float* src, const int64_t* index, float* out, int64_t planes,
                                int64_t src_plane, int64_t out_plane, cudaStream_t stream);
    void upsample2d_forward_cuda(Resample mode, const float* x, float* y, const UpsampleGeometry& g,
                                 cudaStream_t stream);
    void upsample2d_backward_cuda(Resample mode, const float* gy, float* gx, const UpsampleGeometry& g,
                                  cudaStream_t stream);)
}  // namespace gesso::kernels
