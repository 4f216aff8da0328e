/*
 * resize.cu: resampling whole images (bilinear up, exact area down), on the
 * GPU and, compiled as C++, on the SIMT runtime. CPU twin, layouts and
 * filters: kernels/resize.h (x is (C, H, W), y is (C, out_h, out_w)).
 *
 * Version:
 *   kernel1  one thread per output pixel (grid-stride). The CPU twin runs two
 *            separable passes through a double buffer; here each thread
 *            evaluates its own taps along both axes (two for bilinear, about
 *            in / out + 1 for area) and sums the tensor product directly:
 *            for each tap row i, row = sum_j w_w(j) x[i][j], then
 *            acc += w_h(i) * row, the CPU's order of additions, in double as
 *            on the CPU. No buffer, one launch; an image is resized once
 *            per load, so reading a few pixels twice costs nothing that
 *            matters.
 *
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++; checked
 * against the CPU twin by `ctest -L simt` (tests/test_simt_pool_norm.cpp).
 */
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/resize.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// Input pixels [begin, end) that output o reads along one axis.
struct TapSpan {
  int64_t begin, end;
};

// Bilinear with half-pixel centres, clamped to the edge pixels (as
// bilinear_taps in kernels/cpu/resize.cpp): src = (o + 0.5) * in / out - 0.5.
__device__ __forceinline__ double bilinear_source(int64_t o, int64_t in, int64_t out) {
  const double src = (static_cast<double>(o) + 0.5) * (static_cast<double>(in) / static_cast<double>(out)) - 0.5;
  return src > 0.0 ? src : 0.0;
}
__device__ __forceinline__ TapSpan bilinear_span(int64_t o, int64_t in, int64_t out) {
  if (in == 1) return {0, 1};
  const int64_t i0 = static_cast<int64_t>(bilinear_source(o, in, out));
  if (i0 >= in - 1) return {in - 1, in};  // right of the last centre: the edge pixel alone
  return {i0, i0 + 2};
}
__device__ __forceinline__ double bilinear_weight(int64_t o, int64_t in, int64_t out, int64_t i) {
  if (in == 1) return 1.0;
  const double src = bilinear_source(o, in, out);
  const int64_t i0 = static_cast<int64_t>(src);
  if (i0 >= in - 1) return 1.0;
  const double frac = src - static_cast<double>(i0);
  return i == i0 ? 1.0 - frac : frac;
}

// Exact box filter in integer coordinates scaled by in * out (as area_taps):
// output o covers [o * in, (o + 1) * in), input i covers [i * out, (i + 1) * out).
__device__ __forceinline__ TapSpan area_span(int64_t o, int64_t in, int64_t out) {
  const int64_t hi = (o + 1) * in;
  const int64_t end = (hi + out - 1) / out;  // first i with i * out >= hi
  return {o * in / out, end < in ? end : in};
}
__device__ __forceinline__ double area_weight(int64_t o, int64_t in, int64_t out, int64_t i) {
  const int64_t lo = o * in, hi = (o + 1) * in;
  const int64_t a = lo > i * out ? lo : i * out, b = hi < (i + 1) * out ? hi : (i + 1) * out;
  return static_cast<double>(b - a) / static_cast<double>(in);
}

__device__ __forceinline__ TapSpan tap_span(ResizeFilter f, int64_t o, int64_t in, int64_t out) {
  return f == ResizeFilter::bilinear ? bilinear_span(o, in, out) : area_span(o, in, out);
}
__device__ __forceinline__ double tap_weight(ResizeFilter f, int64_t o, int64_t in, int64_t out, int64_t i) {
  return f == ResizeFilter::bilinear ? bilinear_weight(o, in, out, i) : area_weight(o, in, out, i);
}

// One thread per output pixel (c, oh, ow): both axes' taps, summed in double.
__global__ void resize_kernel1(const float* x, float* y, int64_t C, int64_t H, int64_t W, int64_t out_h,
                               int64_t out_w, ResizeFilter filter_h, ResizeFilter filter_w) {
  const int64_t total = C * out_h * out_w;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ow = i % out_w, oh = (i / out_w) % out_h, c = i / (out_w * out_h);
    const float* xc = x + c * H * W;
    const TapSpan sh = tap_span(filter_h, oh, H, out_h), sw = tap_span(filter_w, ow, W, out_w);
    double acc = 0.0;
    for (int64_t ih = sh.begin; ih < sh.end; ++ih) {
      double row = 0.0;
      for (int64_t iw = sw.begin; iw < sw.end; ++iw)
        row += tap_weight(filter_w, ow, W, out_w, iw) * static_cast<double>(xc[ih * W + iw]);
      acc += tap_weight(filter_h, oh, H, out_h, ih) * row;
    }
    y[i] = static_cast<float>(acc);
  }
}

}  // namespace

void resize_cuda(const float* x, float* y, int64_t C, int64_t H, int64_t W, int64_t out_h, int64_t out_w,
                 ResizeFilter filter_h, ResizeFilter filter_w, cudaStream_t stream) {
  GESSO_CHECK(C >= 0 && H > 0 && W > 0 && out_h > 0 && out_w > 0, "resize_cuda: sizes must be positive, got C=", C,
              " H=", H, " W=", W, " out_h=", out_h, " out_w=", out_w);
  const int64_t total = C * out_h * out_w;
  if (total == 0) return;
  GESSO_CHECK(x && y, "resize_cuda: x and y must be non-null");
  const int threads = block_threads(256);
  GESSO_LAUNCH(resize_kernel1, grid_blocks(total, threads), threads, 0, stream, x, y, C, H, W, out_h, out_w, filter_h,
               filter_w);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
