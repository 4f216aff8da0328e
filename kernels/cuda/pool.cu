/*
 * pool.cu: max and average pooling, nearest and bilinear upsampling, and the
 * index gather/scatter behind max pooling's backward, on the GPU and,
 * compiled as C++, on the SIMT runtime. CPU twins, layouts and semantics:
 * kernels/pool.h (planes of H x W in, planes of OH x OW out; PyTorch's
 * windows, divisors and source coordinates).
 *
 * Versions (one each; none needs shared memory: every output reads a small
 * window that neighbouring threads also read, and the L1 cache serves those
 * repeats as well as a staged tile would at these window sizes):
 *   kernel1  one thread per output element for the forwards and the gather;
 *            one thread per INPUT pixel for the backwards (avg pooling,
 *            upsampling). The CPU twins scatter (each output adds to its
 *            window); here each input pixel finds the outputs whose windows
 *            contain it and sums their contributions itself: a gather, so no
 *            two threads write the same address, no atomics, and the result
 *            does not depend on scheduling. For pooling the outputs that see
 *            input ih form the range oh in [ceil((ih + pad - k + 1) / s),
 *            floor((ih + pad) / s)]; for upsampling the source index of an
 *            output is non-decreasing in it, so a binary search over the
 *            very tap function the forward uses finds the range exactly.
 *            index_scatter_add is the exception: its table is arbitrary data
 *            (the argmax of a max pool), with no geometry to invert, so it
 *            zeroes the output in one launch and adds with atomicAdd in a
 *            second. Collisions happen only where windows overlap (stride <
 *            kernel), at most ceil(k/s)^2 per pixel, so contention is low;
 *            the order of those float adds is the one nondeterminism here.
 *
 * Every loop is grid-stride, so a launch covers any size with a capped grid
 * (grid_blocks in kernels/cuda/scratch.h).
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++; checked
 * against the CPU twins by `ctest -L simt` (tests/test_simt_pool_norm.cpp) and,
 * with a GPU, by `ctest -L gpu` (tests/test_gpu_pool_norm.cpp).
 */
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/pool.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// The global index of this thread's first element and the grid's stride.
__device__ __forceinline__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// ---- pooling windows (as in kernels/cpu/pool.cpp)

// [begin, end) of output index o's window along one axis, clipped to [0, in).
struct Span {
  int64_t begin, end;
};
__device__ __forceinline__ Span pool_window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad;
  return {max64(start, 0), min64(start + kernel, in)};
}

// avg_pool's divisor along one axis: the window clipped to the padded input
// (count_include_pad).
__device__ __forceinline__ int64_t padded_window(int64_t o, int64_t stride, int64_t pad, int64_t kernel,
                                                 int64_t in) {
  const int64_t start = o * stride - pad;
  return min64(start + kernel, in + pad) - start;
}

// The outputs [begin, end) along one axis whose windows contain input i:
// o * stride - pad <= i < o * stride - pad + kernel.
__device__ __forceinline__ Span outputs_seeing(int64_t i, int64_t stride, int64_t pad, int64_t kernel,
                                               int64_t out) {
  const int64_t lo = i + pad - kernel + 1;  // o * stride >= lo
  const int64_t begin = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  return {begin, min64((i + pad) / stride + 1, out)};
}

// One thread per output (plane, oh, ow): the window's maximum and where it
// is; the first maximum on ties, and a NaN wins at once (NaN propagates).
// y or argmax may be null (the op's forward wants y, its backward argmax).
__global__ void max_pool2d_forward_kernel1(const float* x, float* y, int64_t* argmax, Pool2dGeometry g) {
  const int64_t total = g.planes * g.OH * g.OW;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, plane = i / (g.OW * g.OH);
    const float* xp = x + plane * g.H * g.W;
    const Span wh = pool_window(oh, g.stride, g.pad, g.kernel, g.H);
    const Span ww = pool_window(ow, g.stride, g.pad, g.kernel, g.W);
    int64_t best_at = wh.begin * g.W + ww.begin;
    float best = -INFINITY;
    bool found_nan = false;
    for (int64_t ih = wh.begin; ih < wh.end && !found_nan; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) {
        const float v = xp[ih * g.W + iw];
        if (v != v) {  // NaN: the only value unequal to itself
          best_at = ih * g.W + iw;
          found_nan = true;
          break;
        }
        if (v > best) {
          best = v;
          best_at = ih * g.W + iw;
        }
      }
    if (y) y[i] = xp[best_at];
    if (argmax) argmax[i] = best_at;
  }
}

// One thread per output: the window's sum over the padded window's size,
// added in the CPU twin's order (rows, then columns).
__global__ void avg_pool2d_forward_kernel1(const float* x, float* y, Pool2dGeometry g) {
  const int64_t total = g.planes * g.OH * g.OW;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, plane = i / (g.OW * g.OH);
    const float* xp = x + plane * g.H * g.W;
    const Span wh = pool_window(oh, g.stride, g.pad, g.kernel, g.H);
    const Span ww = pool_window(ow, g.stride, g.pad, g.kernel, g.W);
    float s = 0.f;
    for (int64_t ih = wh.begin; ih < wh.end; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) s += xp[ih * g.W + iw];
    const int64_t size = padded_window(oh, g.stride, g.pad, g.kernel, g.H) *
                         padded_window(ow, g.stride, g.pad, g.kernel, g.W);
    y[i] = s / static_cast<float>(size);
  }
}

// One thread per input pixel (plane, ih, iw): the gather form of the
// adjoint, summing gy / divisor over the outputs whose windows hold the pixel.
__global__ void avg_pool2d_backward_kernel1(const float* gy, float* gx, Pool2dGeometry g) {
  const int64_t total = g.planes * g.H * g.W;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const float* gp = gy + plane * g.OH * g.OW;
    const Span oh_range = outputs_seeing(ih, g.stride, g.pad, g.kernel, g.OH);
    const Span ow_range = outputs_seeing(iw, g.stride, g.pad, g.kernel, g.OW);
    float s = 0.f;
    for (int64_t oh = oh_range.begin; oh < oh_range.end; ++oh) {
      const int64_t size_h = padded_window(oh, g.stride, g.pad, g.kernel, g.H);
      for (int64_t ow = ow_range.begin; ow < ow_range.end; ++ow)
        s += gp[oh * g.OW + ow] / static_cast<float>(size_h * padded_window(ow, g.stride, g.pad, g.kernel, g.W));
    }
    gx[i] = s;
  }
}

// One thread per output element: out[p, i] = src[p, index[p, i]].
__global__ void index_gather_kernel1(const float* src, const int64_t* index, float* out, int64_t planes,
                                     int64_t src_plane, int64_t out_plane) {
  const int64_t total = planes * out_plane;
  for (int64_t i = first_index(); i < total; i += grid_stride()) out[i] = src[(i / out_plane) * src_plane + index[i]];
}

// One thread per element: out[i] = 0 (the first half of index_scatter_add).
__global__ void fill_zero_kernel1(float* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = 0.f;
}

// One thread per source element: out[p, index[p, i]] += src[p, i] with an
// atomic add, since two sources may share a target (overlapping windows).
__global__ void index_scatter_add_kernel1(const float* src, const int64_t* index, float* out, int64_t planes,
                                          int64_t src_plane, int64_t out_plane) {
  const int64_t total = planes * src_plane;
  for (int64_t i = first_index(); i < total; i += grid_stride())
    atomicAdd(out + (i / src_plane) * out_plane + index[i], src[i]);
}

// ---- upsampling taps (as make_taps in kernels/cpu/pool.cpp, in float)

// Output index o along one axis reads input i0 with weight w0 and i1 with w1.
struct Tap {
  int64_t i0, i1;
  float w0, w1;
};
__device__ __forceinline__ Tap upsample_tap(Resample mode, int64_t o, int64_t in, int64_t out, bool align_corners) {
  if (mode == Resample::nearest) {
    int64_t src = o;
    if (out == 2 * in) {
      src = o >> 1;
    } else if (out != in) {
      const float scale = static_cast<float>(in) / static_cast<float>(out);
      src = min64(static_cast<int64_t>(floorf(static_cast<float>(o) * scale)), in - 1);
    }
    return {src, src, 1.f, 0.f};
  }
  const float scale = align_corners ? (out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f)
                                    : static_cast<float>(in) / static_cast<float>(out);
  float src = align_corners ? scale * static_cast<float>(o) : scale * (static_cast<float>(o) + 0.5f) - 0.5f;
  if (src < 0.f) src = 0.f;
  const int64_t lo = static_cast<int64_t>(src);
  const float frac = src - static_cast<float>(lo);
  return {lo, lo + (lo < in - 1 ? 1 : 0), 1.f - frac, frac};
}

// The first output o in [0, out) whose tap starts at input >= target (out if
// none). upsample_tap(o).i0 is non-decreasing in o (each step of its
// arithmetic is monotone, rounding included), so binary search is exact.
__device__ __forceinline__ int64_t first_output_from(Resample mode, int64_t target, int64_t in, int64_t out,
                                                     bool align_corners) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (upsample_tap(mode, mid, in, out, align_corners).i0 >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// The weight with which output o's tap reads input i (both taps may be i at
// the clamped edge, and then both count, as in the CPU twin).
__device__ __forceinline__ float tap_weight(const Tap& t, int64_t i) {
  return (t.i0 == i ? t.w0 : 0.f) + (t.i1 == i ? t.w1 : 0.f);
}

// One thread per output (plane, oh, ow): two taps along each axis.
__global__ void upsample2d_forward_kernel1(Resample mode, const float* x, float* y, UpsampleGeometry g) {
  const int64_t total = g.planes * g.OH * g.OW;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t ow = i % g.OW, oh = (i / g.OW) % g.OH, plane = i / (g.OW * g.OH);
    const Tap th = upsample_tap(mode, oh, g.H, g.OH, g.align_corners);
    const Tap tw = upsample_tap(mode, ow, g.W, g.OW, g.align_corners);
    const float* row0 = x + (plane * g.H + th.i0) * g.W;
    const float* row1 = x + (plane * g.H + th.i1) * g.W;
    y[i] = th.w0 * (tw.w0 * row0[tw.i0] + tw.w1 * row0[tw.i1]) + th.w1 * (tw.w0 * row1[tw.i0] + tw.w1 * row1[tw.i1]);
  }
}

// One thread per input pixel (plane, ih, iw): the gather form of the
// adjoint. An output reads ih only if its tap starts at ih - 1 or ih, so the
// outputs to visit are those between the first tap starting at >= ih - 1
// and the first starting at >= ih + 1, found by binary search.
__global__ void upsample2d_backward_kernel1(Resample mode, const float* gy, float* gx, UpsampleGeometry g) {
  const int64_t total = g.planes * g.H * g.W;
  for (int64_t i = first_index(); i < total; i += grid_stride()) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, plane = i / (g.W * g.H);
    const float* gp = gy + plane * g.OH * g.OW;
    const int64_t oh_begin = first_output_from(mode, ih - 1, g.H, g.OH, g.align_corners);
    const int64_t oh_end = first_output_from(mode, ih + 1, g.H, g.OH, g.align_corners);
    const int64_t ow_begin = first_output_from(mode, iw - 1, g.W, g.OW, g.align_corners);
    const int64_t ow_end = first_output_from(mode, iw + 1, g.W, g.OW, g.align_corners);
    float s = 0.f;
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const float wh = tap_weight(upsample_tap(mode, oh, g.H, g.OH, g.align_corners), ih);
      if (wh == 0.f) continue;
      float row = 0.f;
      for (int64_t ow = ow_begin; ow < ow_end; ++ow)
        row += tap_weight(upsample_tap(mode, ow, g.W, g.OW, g.align_corners), iw) * gp[oh * g.OW + ow];
      s += wh * row;
    }
    gx[i] = s;
  }
}

void check_pool_geometry(const Pool2dGeometry& g, const char* fn) {
  GESSO_CHECK(g.planes >= 0 && g.H > 0 && g.W > 0 && g.OH > 0 && g.OW > 0, fn,
              ": geometry must have positive sizes, got planes=", g.planes, " H=", g.H, " W=", g.W, " OH=", g.OH,
              " OW=", g.OW);
  GESSO_CHECK(g.kernel > 0 && g.stride > 0 && g.pad >= 0 && g.pad <= g.kernel / 2, fn,
              ": need kernel > 0, stride > 0, 0 <= pad <= kernel / 2, got kernel=", g.kernel, " stride=", g.stride,
              " pad=", g.pad);
  GESSO_CHECK(g.OH == (g.H + 2 * g.pad - g.kernel) / g.stride + 1 && g.OW == (g.W + 2 * g.pad - g.kernel) / g.stride + 1,
              fn, ": OH x OW = ", g.OH, " x ", g.OW, " does not match H x W = ", g.H, " x ", g.W, " with kernel ",
              g.kernel, ", stride ", g.stride, ", pad ", g.pad);
}

void check_upsample_geometry(const UpsampleGeometry& g, const char* fn) {
  GESSO_CHECK(g.planes >= 0 && g.H > 0 && g.W > 0 && g.OH > 0 && g.OW > 0, fn,
              ": geometry must have positive sizes, got planes=", g.planes, " H=", g.H, " W=", g.W, " OH=", g.OH,
              " OW=", g.OW);
}

}  // namespace

void max_pool2d_forward_cuda(const float* x, float* y, int64_t* argmax, const Pool2dGeometry& g,
                             cudaStream_t stream) {
  check_pool_geometry(g, "max_pool2d_forward_cuda");
  GESSO_CHECK(x && (y || argmax), "max_pool2d_forward_cuda: x, and y or argmax, must be non-null");
  const int64_t n = g.planes * g.OH * g.OW;
  if (n == 0) return;
  const int threads = block_threads(256);
  GESSO_LAUNCH(max_pool2d_forward_kernel1, grid_blocks(n, threads), threads, 0, stream, x, y, argmax, g);
}

void avg_pool2d_forward_cuda(const float* x, float* y, const Pool2dGeometry& g, cudaStream_t stream) {
  check_pool_geometry(g, "avg_pool2d_forward_cuda");
  GESSO_CHECK(x && y, "avg_pool2d_forward_cuda: x and y must be non-null");
  const int64_t n = g.planes * g.OH * g.OW;
  if (n == 0) return;
  const int threads = block_threads(256);
  GESSO_LAUNCH(avg_pool2d_forward_kernel1, grid_blocks(n, threads), threads, 0, stream, x, y, g);
}

void avg_pool2d_backward_cuda(const float* gy, float* gx, const Pool2dGeometry& g, cudaStream_t stream) {
  check_pool_geometry(g, "avg_pool2d_backward_cuda");
  GESSO_CHECK(gy && gx, "avg_pool2d_backward_cuda: gy and gx must be non-null");
  const int64_t n = g.planes * g.H * g.W;
  if (n == 0) return;
  const int threads = block_threads(256);
  GESSO_LAUNCH(avg_pool2d_backward_kernel1, grid_blocks(n, threads), threads, 0, stream, gy, gx, g);
}

void index_gather_cuda(const float* src, const int64_t* index, float* out, int64_t planes, int64_t src_plane,
                       int64_t out_plane, cudaStream_t stream) {
  GESSO_CHECK(planes >= 0 && src_plane > 0 && out_plane >= 0, "index_gather_cuda: need planes >= 0, src_plane > 0, ",
              "out_plane >= 0, got ", planes, ", ", src_plane, ", ", out_plane);
  const int64_t n = planes * out_plane;
  if (n == 0) return;
  GESSO_CHECK(src && index && out, "index_gather_cuda: src, index and out must be non-null");
  const int threads = block_threads(256);
  GESSO_LAUNCH(index_gather_kernel1, grid_blocks(n, threads), threads, 0, stream, src, index, out, planes, src_plane,
               out_plane);
}

void index_scatter_add_cuda(const float* src, const int64_t* index, float* out, int64_t planes, int64_t src_plane,
                            int64_t out_plane, cudaStream_t stream) {
  GESSO_CHECK(planes >= 0 && src_plane >= 0 && out_plane > 0, "index_scatter_add_cuda: need planes >= 0, ",
              "src_plane >= 0, out_plane > 0, got ", planes, ", ", src_plane, ", ", out_plane);
  const int64_t n_out = planes * out_plane, n_src = planes * src_plane;
  if (n_out == 0) return;
  GESSO_CHECK(out && (n_src == 0 || (src && index)), "index_scatter_add_cuda: src, index and out must be non-null");
  const int threads = block_threads(256);
  // Two launches on one stream: every zero is written before any add lands.
  GESSO_LAUNCH(fill_zero_kernel1, grid_blocks(n_out, threads), threads, 0, stream, out, n_out);
  if (n_src == 0) return;
  GESSO_LAUNCH(index_scatter_add_kernel1, grid_blocks(n_src, threads), threads, 0, stream, src, index, out, planes,
               src_plane, out_plane);
}

void upsample2d_forward_cuda(Resample mode, const float* x, float* y, const UpsampleGeometry& g,
                             cudaStream_t stream) {
  check_upsample_geometry(g, "upsample2d_forward_cuda");
  GESSO_CHECK(x && y, "upsample2d_forward_cuda: x and y must be non-null");
  const int64_t n = g.planes * g.OH * g.OW;
  if (n == 0) return;
  const int threads = block_threads(256);
  GESSO_LAUNCH(upsample2d_forward_kernel1, grid_blocks(n, threads), threads, 0, stream, mode, x, y, g);
}

void upsample2d_backward_cuda(Resample mode, const float* gy, float* gx, const UpsampleGeometry& g,
                              cudaStream_t stream) {
  check_upsample_geometry(g, "upsample2d_backward_cuda");
  GESSO_CHECK(gy && gx, "upsample2d_backward_cuda: gy and gx must be non-null");
  const int64_t n = g.planes * g.H * g.W;
  if (n == 0) return;
  const int threads = block_threads(256);
  GESSO_LAUNCH(upsample2d_backward_kernel1, grid_blocks(n, threads), threads, 0, stream, mode, gy, gx, g);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
