/*
 * conv.cu: 2-d convolution, its two adjoints and reflection padding on the
 * GPU and, compiled as C++, on the SIMT runtime; the CUDA twins of
 * kernels/conv.h (same layouts: x (N, C_in, H, W), w (C_out, C_in, kH, kW),
 * y (N, C_out, OH, OW); y and gx written (=), gw accumulated (+=)).
 *
 * Method: im2col + the GEMM of kernels/cuda/gemm.cu, as on the CPU.
 *   forward          Y (C_out, P)   = w (C_out, CKK) . col (CKK, P)
 *   backward_input   col (CKK, P)   = w^T . gY (C_out, P), then col2im onto gx
 *   backward_weight  gw (C_out, CKK) += gY (C_out, P) . col^T
 * with CKK = C_in*kH*kW and P the output positions of a chunk: col[ckk][q]
 * holds the input value that kernel tap ckk sees at position q (0 in the
 * padding). A chunk is either several whole images, P = nb*OH*OW, so that
 * the GEMMs are wide even for the 4x4 maps deep in a DCGAN, or a range of
 * positions inside one image when a single image's col would exceed the
 * budget (conv_col_budget_cuda). Within one image, Y and gY are plain
 * sub-matrices of y and gy (leading dimension OH*OW) and the GEMM reads and
 * writes them in place; across images their (n, c, p) order is not (c, n*p),
 * so they go through a gather/scatter copy (gather_positions/scatter_positions).
 *
 * Why not implicit GEMM (im2col done on the fly inside the GEMM's tile
 * loads)? It saves col's memory traffic, but needs three variants of the
 * tuned GEMM's load path (one per direction) with index arithmetic in its
 * hottest loop, each to be tested and tuned separately. im2col keeps one
 * GEMM (the ladder's kernel6, already checked in all four transpose cases)
 * and three simple, memory-bound helper kernels whose correctness is obvious;
 * col costs CKK/C_in times the input's traffic, which at DCGAN sizes is
 * small beside the GEMM's time. The weight gradient of a layer with few
 * output channels and taps (C_out x CKK = 64 x 48 in a DCGAN's first layer)
 * is one or two GEMM tiles deep over tens of thousands of positions: it is
 * split over K (the positions) into independent slices whose partial sums
 * are added at the end (split-K), so that the whole GPU works on it.
 *
 * col2im is a gather: one thread per input pixel sums the col entries of the
 * taps that saw it, so no two threads write one address (no atomics, the
 * same result on every run).
 *
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++; checked
 * against the CPU twins by tests/test_simt_gemm_conv.cpp (ctest -L simt).
 */
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include "kernels/conv.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/workspace.h"
#include "kernels/gemm.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// Elements of col (plus the gathered gY) per call: 64 MiB of float.
std::atomic<int64_t> g_col_budget{int64_t(1) << 24};

// The geometry as ints (the launchers check that every tensor's element count
// fits), so that the kernels' index arithmetic is 32-bit.
struct ConvDims {
  int N, C_in, H, W, C_out, kH, kW, OH, OW;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
};

// A chunk of output positions: images n0 .. n0 + images - 1 whole (p0 = 0,
// len = images * OH * OW), or positions p0 .. p0 + len - 1 of image n0
// (images = 1). Position q of the chunk is image n0 + q / OHW, pixel p0 + q % OHW.
struct Chunk {
  int n0, p0, len, images;
};

ConvDims dims_of(const Conv2dGeometry& g) {
  return ConvDims{static_cast<int>(g.N),        static_cast<int>(g.C_in),     static_cast<int>(g.H),
                  static_cast<int>(g.W),        static_cast<int>(g.C_out),    static_cast<int>(g.kH),
                  static_cast<int>(g.kW),       static_cast<int>(g.OH),       static_cast<int>(g.OW),
                  static_cast<int>(g.stride_h), static_cast<int>(g.stride_w), static_cast<int>(g.pad_h),
                  static_cast<int>(g.pad_w),    static_cast<int>(g.dilation_h), static_cast<int>(g.dilation_w)};
}

// ---- kernels (each: one thread per output element, no shared memory, no barrier)

// col[ckk][q] = x[n][ci][oh*sh - ph + i*dh][ow*sw - pw + j*dw] (0 outside),
// ckk = (ci*kH + i)*kW + j. One thread per (ci, q) walks ci's kH x kW taps;
// consecutive threads take consecutive q, so col's writes are coalesced.
__global__ void im2col_kernel(const float* x, float* col, ConvDims d, Chunk c) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= d.C_in * c.len) return;
  const int ci = t / c.len, q = t % c.len;
  const int OHW = d.OH * d.OW;
  const int n = c.n0 + q / OHW, p = c.p0 + q % OHW;
  const int oh = p / d.OW, ow = p % d.OW;
  const float* xc = x + (static_cast<int64_t>(n) * d.C_in + ci) * d.H * d.W;
  float* out = col + static_cast<int64_t>(ci) * d.kH * d.kW * c.len + q;
  for (int i = 0; i < d.kH; ++i) {
    const int h = oh * d.stride_h - d.pad_h + i * d.dil_h;
    for (int j = 0; j < d.kW; ++j) {
      const int w = ow * d.stride_w - d.pad_w + j * d.dil_w;
      *out = (h >= 0 && h < d.H && w >= 0 && w < d.W) ? xc[h * d.W + w] : 0.f;
      out += c.len;
    }
  }
}

// gx[n][ci][h][w] (=, or += when `accumulate`: the image is split over
// chunks) = sum over the taps (i, j) and positions (oh, ow) of the chunk with
// oh*sh - ph + i*dh = h and ow*sw - pw + j*dw = w of col[(ci*kH + i)*kW + j][q].
// One thread per pixel of the chunk's images: im2col's adjoint as a gather.
__global__ void col2im_kernel(const float* col, float* gx, ConvDims d, Chunk c, bool accumulate) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  const int HW = d.H * d.W;
  if (t >= c.images * d.C_in * HW) return;
  const int w = t % d.W, h = (t / d.W) % d.H, ci = (t / HW) % d.C_in, image = t / (d.C_in * HW);
  const int OHW = d.OH * d.OW;
  float acc = 0.f;
  for (int i = 0; i < d.kH; ++i) {
    const int oh_s = h + d.pad_h - i * d.dil_h;  // oh * stride_h, if tap i reaches row h
    if (oh_s < 0 || oh_s % d.stride_h != 0) continue;
    const int oh = oh_s / d.stride_h;
    if (oh >= d.OH) continue;
    for (int j = 0; j < d.kW; ++j) {
      const int ow_s = w + d.pad_w - j * d.dil_w;
      if (ow_s < 0 || ow_s % d.stride_w != 0) continue;
      const int ow = ow_s / d.stride_w;
      if (ow >= d.OW) continue;
      const int q = image * OHW + oh * d.OW + ow - c.p0;  // the position's column in col
      if (q < 0 || q >= c.len) continue;               // outside this chunk (images split over chunks)
      acc += col[static_cast<int64_t>((ci * d.kH + i) * d.kW + j) * c.len + q];
    }
  }
  float* out = gx + (static_cast<int64_t>(c.n0) * d.C_in) * HW + t;
  *out = accumulate ? *out + acc : acc;
}

// dst[ch][q] = src[n][ch][p] for the chunk's positions q (n, p as in Chunk):
// gY of several images as one (channels, positions) matrix.
__global__ void gather_positions_kernel(const float* src, float* dst, int channels, int OHW, Chunk c) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= channels * c.len) return;
  const int ch = t / c.len, q = t % c.len;
  dst[t] = src[(static_cast<int64_t>(c.n0 + q / OHW) * channels + ch) * OHW + c.p0 + q % OHW];
}

// The inverse: dst[n][ch][p] = src[ch][q].
__global__ void scatter_positions_kernel(const float* src, float* dst, int channels, int OHW, Chunk c) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= channels * c.len) return;
  const int ch = t / c.len, q = t % c.len;
  dst[(static_cast<int64_t>(c.n0 + q / OHW) * channels + ch) * OHW + c.p0 + q % OHW] = src[t];
}

// y[n][c][p] += bias[c]; one thread per element of y.
__global__ void add_bias_kernel(float* y, const float* bias, int channels, int OHW, int64_t total) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  y[t] += bias[(t / OHW) % channels];
}

__global__ void fill_kernel(float* p, int64_t n, float value) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) p[t] = value;
}

// out[i] += sum over s < slices of partial[s * n + i]: the split-K slices'
// weight gradients, added in a fixed order (the same result on every run).
__global__ void add_slices_kernel(const float* partial, float* out, int64_t n, int slices) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  float acc = 0.f;
  for (int s = 0; s < slices; ++s) acc += partial[s * n + t];
  out[t] += acc;
}

// ---- reflection padding: x[r(i - pad_h, H)][r(j - pad_w, W)] with r the
// mirror without repeating the edge (pad < H, W).
__device__ __forceinline__ int reflect_index(int k, int n) {
  if (k < 0) k = -k;
  if (k >= n) k = 2 * (n - 1) - k;
  return k;
}

// One thread per element of y (planes, H + 2 pad_h, W + 2 pad_w).
__global__ void reflection_pad2d_forward_kernel(const float* x, float* y, int64_t planes, int H, int W, int pad_h,
                                                int pad_w) {
  const int OH = H + 2 * pad_h, OW = W + 2 * pad_w;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= planes * OH * OW) return;
  const int oj = static_cast<int>(t % OW), oi = static_cast<int>((t / OW) % OH);
  const int64_t plane = t / (static_cast<int64_t>(OH) * OW);
  y[t] = x[(plane * H + reflect_index(oi - pad_h, H)) * W + reflect_index(oj - pad_w, W)];
}

// The rows k of the padded image (k = oi - pad) that mirror onto row h are
// h itself (which == 0), -h for the top border (which == 1, 1 <= h <= pad)
// and 2(n-1) - h for the bottom border (which == 2, n-1-pad <= h <= n-2);
// no others, since pad < n. Returns false when `which` does not apply to h.
__device__ __forceinline__ bool mirror_source(int h, int n, int pad, int which, int* k) {
  if (which == 0) *k = h;
  else if (which == 1) *k = -h;
  else *k = 2 * (n - 1) - h;
  return which == 0 || (which == 1 && h >= 1 && h <= pad) || (which == 2 && h <= n - 2 && h >= n - 1 - pad);
}

// gx[h][w] = sum of gy over the padded pixels that copy (h, w): one thread
// per element of gx gathers its (at most 3 x 3) sources.
__global__ void reflection_pad2d_backward_kernel(const float* gy, float* gx, int64_t planes, int H, int W, int pad_h,
                                                 int pad_w) {
  const int OH = H + 2 * pad_h, OW = W + 2 * pad_w;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= planes * H * W) return;
  const int w = static_cast<int>(t % W), h = static_cast<int>((t / W) % H);
  const int64_t plane = t / (static_cast<int64_t>(H) * W);
  const float* g = gy + plane * OH * OW;
  float acc = 0.f;
  for (int a = 0; a < 3; ++a) {
    int row = 0;
    if (!mirror_source(h, H, pad_h, a, &row)) continue;
    for (int b = 0; b < 3; ++b) {
      int col = 0;
      if (mirror_source(w, W, pad_w, b, &col)) acc += g[static_cast<int64_t>(row + pad_h) * OW + col + pad_w];
    }
  }
  gx[t] = acc;
}

// ---- launch helpers

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

void check_geometry(const Conv2dGeometry& g, const char* fn) {
  GESSO_CHECK(g.N >= 0 && g.C_in > 0 && g.H > 0 && g.W > 0 && g.C_out > 0 && g.kH > 0 && g.kW > 0, fn,
              ": sizes must be positive (N may be 0), got N=", g.N, " C_in=", g.C_in, " H=", g.H, " W=", g.W,
              " C_out=", g.C_out, " kH=", g.kH, " kW=", g.kW);
  GESSO_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 && g.pad_h >= 0 &&
                  g.pad_w >= 0,
              fn, ": stride and dilation must be positive and pad >= 0, got stride (", g.stride_h, ", ", g.stride_w,
              ") dilation (", g.dilation_h, ", ", g.dilation_w, ") pad (", g.pad_h, ", ", g.pad_w, ")");
  GESSO_CHECK(g.OH == conv2d_out_size(g.H, g.kH, g.stride_h, g.pad_h, g.dilation_h) &&
                  g.OW == conv2d_out_size(g.W, g.kW, g.stride_w, g.pad_w, g.dilation_w),
              fn, ": output size ", g.OH, " x ", g.OW, " does not match the geometry's ",
              conv2d_out_size(g.H, g.kH, g.stride_h, g.pad_h, g.dilation_h), " x ",
              conv2d_out_size(g.W, g.kW, g.stride_w, g.pad_w, g.dilation_w));
  const int64_t largest = std::max({g.N * g.C_in * g.H * g.W, g.N * g.C_out * g.OH * g.OW,
                                    g.C_out * g.C_in * g.kH * g.kW, g.C_in * g.kH * g.kW * g.OH * g.OW});
  GESSO_CHECK(largest <= INT_MAX && g.H + 2 * g.pad_h <= INT_MAX / 2 && g.W + 2 * g.pad_w <= INT_MAX / 2, fn,
              ": tensors of up to 2^31 - 1 elements are supported, got one of ", largest);
}

// Output positions per chunk: what the budget allows (col is CKK x P and the
// gathered gY C_out x P), rounded down to whole images when at least one fits.
int chunk_positions(const Conv2dGeometry& g) {
  const int64_t per_position = g.C_in * g.kH * g.kW + g.C_out;
  const int64_t OHW = g.OH * g.OW, total = g.N * OHW;
  int64_t P = std::max<int64_t>(1, g_col_budget.load() / per_position);
  P = std::min({P, total, static_cast<int64_t>(INT_MAX) / per_position});
  if (P >= OHW) P = P / OHW * OHW;
  return static_cast<int>(std::max<int64_t>(1, P));
}

// Calls f(chunk) for consecutive chunks covering every output position, of
// at most P positions each and as even as that allows (56 + 8 images would
// leave the last GEMM too small to fill the GPU; 32 + 32 does not).
template <class F>
void for_each_chunk(const Conv2dGeometry& g, int P, F f) {
  const int OHW = static_cast<int>(g.OH * g.OW), N = static_cast<int>(g.N);
  if (P >= OHW) {
    const int chunks = (N + P / OHW - 1) / (P / OHW);
    const int per_chunk = (N + chunks - 1) / chunks;
    for (int n0 = 0; n0 < N; n0 += per_chunk) {
      const int images = std::min(per_chunk, N - n0);
      f(Chunk{n0, 0, images * OHW, images});
    }
  } else {
    const int chunks = (OHW + P - 1) / P;
    const int per_chunk = (OHW + chunks - 1) / chunks;
    for (int n0 = 0; n0 < N; ++n0)
      for (int p0 = 0; p0 < OHW; p0 += per_chunk) f(Chunk{n0, p0, std::min(per_chunk, OHW - p0), 1});
  }
}

void im2col(const float* x, float* col, const ConvDims& d, const Chunk& c, cudaStream_t stream) {
  const int threads = block_threads(256);
  GESSO_LAUNCH(im2col_kernel, blocks_for(static_cast<int64_t>(d.C_in) * c.len, threads), threads, 0, stream, x, col,
               d, c);
}

// gY (C_out x chunk) as a GEMM operand: in place inside one image, else gathered into `buffer`.
const float* chunk_of_gy(const float* gy, float* buffer, const ConvDims& d, const Chunk& c, int64_t* ld,
                         cudaStream_t stream) {
  const int OHW = d.OH * d.OW;
  if (c.images == 1) {
    *ld = OHW;
    return gy + static_cast<int64_t>(c.n0) * d.C_out * OHW + c.p0;
  }
  const int threads = block_threads(256);
  GESSO_LAUNCH(gather_positions_kernel, blocks_for(static_cast<int64_t>(d.C_out) * c.len, threads), threads, 0,
               stream, gy, buffer, d.C_out, OHW, c);
  *ld = c.len;
  return buffer;
}

// Split-K for the weight gradient: slices of at least this many positions,
// enough of them to give the GPU about this many blocks of 64x64 tiles.
constexpr int kMinSlicePositions = 64;
constexpr int64_t kSplitTargetBlocks = 128;

}  // namespace

void set_conv_col_budget_cuda(int64_t elements) {
  GESSO_CHECK(elements > 0, "set_conv_col_budget_cuda: the budget must be positive, got ", elements);
  g_col_budget.store(elements);
}
int64_t conv_col_budget_cuda() { return g_col_budget.load(); }

void conv2d_forward_cuda(const float* x, const float* w, const float* bias, float* y, const Conv2dGeometry& g,
                         cudaStream_t stream) {
  const char* fn = "conv2d_forward_cuda";
  check_geometry(g, fn);
  if (g.N == 0 || g.OH == 0 || g.OW == 0) return;
  GESSO_CHECK(x && w && y, fn, ": x, w and y must be non-null");
  const ConvDims d = dims_of(g);
  const int64_t CKK = g.C_in * g.kH * g.kW, OHW = g.OH * g.OW;
  const int P = chunk_positions(g);
  Workspace col(static_cast<size_t>(CKK) * P), gathered(P > OHW ? static_cast<size_t>(g.C_out) * P : 0);
  for_each_chunk(g, P, [&](const Chunk& c) {
    im2col(x, col.data(), d, c, stream);
    if (c.images == 1) {  // Y is y_n's columns p0 .. p0 + len: written in place
      gemm_cuda(false, false, g.C_out, c.len, CKK, 1.f, w, CKK, col.data(), c.len, 0.f,
                y + c.n0 * g.C_out * OHW + c.p0, OHW, stream);
    } else {
      gemm_cuda(false, false, g.C_out, c.len, CKK, 1.f, w, CKK, col.data(), c.len, 0.f, gathered.data(), c.len,
                stream);
      const int threads = block_threads(256);
      GESSO_LAUNCH(scatter_positions_kernel, blocks_for(g.C_out * c.len, threads), threads, 0, stream,
                   gathered.data(), y, d.C_out, d.OH * d.OW, c);
    }
  });
  if (bias) {
    const int threads = block_threads(256);
    const int64_t total = g.N * g.C_out * OHW;
    GESSO_LAUNCH(add_bias_kernel, blocks_for(total, threads), threads, 0, stream, y, bias, d.C_out, d.OH * d.OW,
                 total);
  }
}

void conv2d_backward_input_cuda(const float* gy, const float* w, float* gx, const Conv2dGeometry& g,
                                cudaStream_t stream) {
  const char* fn = "conv2d_backward_input_cuda";
  check_geometry(g, fn);
  if (g.N == 0) return;
  GESSO_CHECK(gx != nullptr, fn, ": gx must be non-null");
  const int threads = block_threads(256);
  const int64_t in_total = g.N * g.C_in * g.H * g.W;
  if (g.OH == 0 || g.OW == 0) {  // no output position sees the input
    GESSO_LAUNCH(fill_kernel, blocks_for(in_total, threads), threads, 0, stream, gx, in_total, 0.f);
    return;
  }
  GESSO_CHECK(gy && w, fn, ": gy and w must be non-null");
  const ConvDims d = dims_of(g);
  const int64_t CKK = g.C_in * g.kH * g.kW, OHW = g.OH * g.OW;
  const int P = chunk_positions(g);
  // Chunks inside an image each add their share to its pixels: start from 0.
  const bool accumulate = P < OHW;
  if (accumulate) GESSO_LAUNCH(fill_kernel, blocks_for(in_total, threads), threads, 0, stream, gx, in_total, 0.f);
  Workspace col(static_cast<size_t>(CKK) * P), gathered(P > OHW ? static_cast<size_t>(g.C_out) * P : 0);
  for_each_chunk(g, P, [&](const Chunk& c) {
    int64_t ld_gy = 0;
    const float* gy_chunk = chunk_of_gy(gy, gathered.data(), d, c, &ld_gy, stream);
    // col (CKK x len) = w^T (CKK x C_out) . gY (C_out x len); w is stored C_out x CKK.
    gemm_cuda(true, false, CKK, c.len, g.C_out, 1.f, w, CKK, gy_chunk, ld_gy, 0.f, col.data(), c.len, stream);
    GESSO_LAUNCH(col2im_kernel, blocks_for(static_cast<int64_t>(c.images) * d.C_in * d.H * d.W, threads), threads,
                 0, stream, col.data(), gx, d, c, accumulate);
  });
}

void conv2d_backward_weight_cuda(const float* x, const float* gy, float* gw, const Conv2dGeometry& g,
                                 cudaStream_t stream) {
  const char* fn = "conv2d_backward_weight_cuda";
  check_geometry(g, fn);
  if (g.N == 0 || g.OH == 0 || g.OW == 0) return;  // gw += 0
  GESSO_CHECK(x && gy && gw, fn, ": x, gy and gw must be non-null");
  const ConvDims d = dims_of(g);
  const int64_t CKK = g.C_in * g.kH * g.kW, OHW = g.OH * g.OW, gw_size = g.C_out * CKK;
  const int P = chunk_positions(g);
  // Split-K: as many slices as it takes to reach kSplitTargetBlocks blocks of
  // 64x64 output tiles, each of at least kMinSlicePositions positions, their
  // partial gradients within the budget.
  const int64_t tiles = ((g.C_out + 63) / 64) * ((CKK + 63) / 64);
  const int64_t max_slices = std::min<int64_t>({(kSplitTargetBlocks + tiles - 1) / tiles,
                                                P / kMinSlicePositions,
                                                std::max<int64_t>(1, g_col_budget.load() / gw_size)});
  Workspace col(static_cast<size_t>(CKK) * P), gathered(P > OHW ? static_cast<size_t>(g.C_out) * P : 0);
  Workspace partial(max_slices > 1 ? static_cast<size_t>(max_slices * gw_size) : 0);
  const int threads = block_threads(256);
  for_each_chunk(g, P, [&](const Chunk& c) {
    im2col(x, col.data(), d, c, stream);
    int64_t ld_gy = 0;
    const float* gy_chunk = chunk_of_gy(gy, gathered.data(), d, c, &ld_gy, stream);
    // gw (C_out x CKK) += gY (C_out x len) . col^T, col stored CKK x len.
    const int64_t slices = std::min<int64_t>(max_slices, c.len / kMinSlicePositions);
    if (slices <= 1) {
      gemm_cuda(false, true, g.C_out, CKK, c.len, 1.f, gy_chunk, ld_gy, col.data(), c.len, 1.f, gw, CKK, stream);
      return;
    }
    // Slice s covers positions [s*len_s, (s+1)*len_s) (len_s a multiple of 4
    // keeps the slices 16-byte aligned); the rest goes straight into gw.
    const int64_t len_s = std::max<int64_t>(4, c.len / slices / 4 * 4);
    gemm_batched_cuda(slices, false, true, g.C_out, CKK, len_s, 1.f, gy_chunk, ld_gy, len_s, col.data(), c.len,
                      len_s, 0.f, partial.data(), CKK, gw_size, stream);
    const int64_t rest = c.len - slices * len_s;
    if (rest > 0)
      gemm_cuda(false, true, g.C_out, CKK, rest, 1.f, gy_chunk + slices * len_s, ld_gy, col.data() + slices * len_s,
                c.len, 1.f, gw, CKK, stream);
    GESSO_LAUNCH(add_slices_kernel, blocks_for(gw_size, threads), threads, 0, stream, partial.data(), gw, gw_size,
                 static_cast<int>(slices));
  });
}

void reflection_pad2d_forward_cuda(const float* x, float* y, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                   int64_t pad_w, cudaStream_t stream) {
  const char* fn = "reflection_pad2d_forward_cuda";
  GESSO_CHECK(planes >= 0 && H > 0 && W > 0 && pad_h >= 0 && pad_w >= 0 && pad_h < H && pad_w < W, fn,
              ": need H, W > 0 and 0 <= pad < size, got H=", H, " W=", W, " pad (", pad_h, ", ", pad_w, ")");
  GESSO_CHECK(H + 2 * pad_h <= INT_MAX && W + 2 * pad_w <= INT_MAX, fn, ": planes of up to 2^31 - 1 rows and columns");
  const int64_t total = planes * (H + 2 * pad_h) * (W + 2 * pad_w);
  if (total == 0) return;
  GESSO_CHECK(x && y, fn, ": x and y must be non-null");
  const int threads = block_threads(256);
  GESSO_LAUNCH(reflection_pad2d_forward_kernel, blocks_for(total, threads), threads, 0, stream, x, y, planes,
               static_cast<int>(H), static_cast<int>(W), static_cast<int>(pad_h), static_cast<int>(pad_w));
}

void reflection_pad2d_backward_cuda(const float* gy, float* gx, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                    int64_t pad_w, cudaStream_t stream) {
  const char* fn = "reflection_pad2d_backward_cuda";
  GESSO_CHECK(planes >= 0 && H > 0 && W > 0 && pad_h >= 0 && pad_w >= 0 && pad_h < H && pad_w < W, fn,
              ": need H, W > 0 and 0 <= pad < size, got H=", H, " W=", W, " pad (", pad_h, ", ", pad_w, ")");
  GESSO_CHECK(H + 2 * pad_h <= INT_MAX && W + 2 * pad_w <= INT_MAX, fn, ": planes of up to 2^31 - 1 rows and columns");
  const int64_t total = planes * H * W;
  if (total == 0) return;
  GESSO_CHECK(gy && gx, fn, ": gy and gx must be non-null");
  const int threads = block_threads(256);
  GESSO_LAUNCH(reflection_pad2d_backward_kernel, blocks_for(total, threads), threads, 0, stream, gy, gx, planes,
               static_cast<int>(H), static_cast<int>(W), static_cast<int>(pad_h), static_cast<int>(pad_w));
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
