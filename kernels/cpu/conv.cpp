/*
 * conv.cpp: CPU twins of kernels/conv.h: im2col/col2im around gemm_cpu, and
 * reflection padding.
 *
 * Every convolution kernel here is one pattern: build a matrix `col`
 * (rows = C_in*kH*kW kernel taps, one column per output position), multiply
 * it with the weight in one GEMM, and (for the input gradient) fold the
 * product back onto the image. The GEMM does nearly all the arithmetic; what
 * this file decides is how to cut the work into GEMMs and how to move the
 * data around them cheaply, and, for the shapes where it pays, how to need
 * fewer multiplications in the first place:
 *
 * 1. Big GEMMs. A GEMM is fast when its sizes are large: the weight matrix
 *    is packed once per call and then reused for every column, so a call
 *    with few columns spends its time packing. One image of a deep layer
 *    has few output positions (4x4 = 16 for DCGAN's 256->512 layer), so the
 *    columns of several whole images go into one GEMM (pass_shape's
 *    `columns`). Their products come out as (C_out, images x positions) and
 *    are copied into y's (N, C_out, positions) layout; the output gradient gy
 *    is gathered the other way. Those copies are output-sized, a small
 *    fraction of col.
 * 2. No col where none is needed. Whole-window convolutions (the kernel
 *    covers the unpadded input: DCGAN's last discriminator layer, 4x4 -> 1x1,
 *    and, as its adjoint, the generator's first, 1x1 -> 4x4) are a plain
 *    matrix product: x_n flattened IS col_n, and the whole batch is one GEMM
 *    with the images as rows. A 1x1 stride-1 kernel reads x_n directly too.
 * 3. col in cache. col is built a slice of rows at a time (pass_shape's
 *    `slice_rows`, the GEMM's own K block), so that im2col writes it into L2
 *    and the GEMM reads it from there; a whole col (several MB) would make
 *    a round trip through memory. The GEMM accumulates the slices (beta = 1).
 * 4. The better orientation. The GEMM cuts its M side into panels of a few
 *    rows and its N side into slivers of tens of columns, and reuses each
 *    packed B sliver across all of M: M should be the larger side, and the
 *    channel count (a multiple of the sliver width) fits N best. So when
 *    C_out is the small side, the forward computes y^T = col^T . w^T and
 *    transposes it out, and the weight gradient accumulates gw^T, added to
 *    gw transposed once at the end.
 * 5. Contiguous copies. A stride-s convolution reads every s-th input column.
 *    im2col first splits each input row into its s phases (phase f holds
 *    columns f, f+s, f+2s, ...), with zero margins standing for the padding;
 *    every kernel tap then reads, per output row, one contiguous run of a
 *    phase row, with no bounds test and no strided access, and the copy of a
 *    row of common width (4, 8, 16, 32) is a few whole-vector moves. col2im
 *    does the reverse: it adds the runs into zeroed phase rows (one channel
 *    at a time, so they stay in L1) and interleaves them into gx, writing gx
 *    once with `=`: no separate pass zero-fills gx.
 * 6. Threads. With at least as many images as threads, one parallel region
 *    gives each thread a contiguous range of images, its own col and its own
 *    GEMMs (a GEMM called inside a parallel region runs on its caller
 *    alone): nobody waits until the end, where weight gradients are summed
 *    once. With fewer images than threads (style transfer's batch of one),
 *    images go one after another with the threads inside im2col, col2im and
 *    the GEMM.
 * 7. Bounded memory. col and the output-sized matrix stay within
 *    conv_col_budget() elements per thread: images are grouped only as far
 *    as the budget allows, and a single image too large for it is cut into
 *    chunks of output positions.
 * 8. Fewer multiplications. The float forward and weight gradient of a 4x4
 *    stride-2 kernel (DCGAN's discriminator but its first layer, and the
 *    backward of the generator's stride-2 layers) are computed as Winograd
 *    F(2x2, 2x2) over the input's phases, with 44 % fewer multiply-adds; see
 *    the section on it below.
 *
 * kernels/winograd.h takes 3x3 stride-1 float convolutions before any of
 * this runs (the hooks at the top of the forward and backward-input kernels).
 */
#include "kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <type_traits>
#include <vector>

#include "kernels/cpu/thread_scratch.h"
#include "kernels/gemm.h"
#include "kernels/winograd.h"

namespace gesso::kernels {

namespace {

// Elements of scratch (a slice of col and the output-sized matrix) per
// thread: 16 MiB of float.
std::atomic<int64_t> g_col_budget{int64_t(1) << 22};
// The smallest chunk of output positions when one image alone exceeds the budget.
constexpr int64_t kMinChunk = 16;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Per-thread scratch that outlives the call (OpenMP keeps its threads), so
// repeated convolutions neither allocate nor fault pages in.
enum Scratch {
  kCol,      // a slice of col: slice rows x the GEMM's columns (Winograd: V)
  kMatrix,   // output-sized: y^T, or gy gathered, for the GEMM's columns (Winograd: M, or gy's Y)
  kPartial,  // a thread's own weight gradient, or gw^T (Winograd: U, or dU)
  kPhases,   // one input channel split into phase rows (Winograd: D planes, small buffers)
  kScratchSlots
};
struct ConvScratch;
template <class T>
T* thread_buffer(Scratch slot, int64_t n) {
  return thread_scratch<T, ConvScratch, kScratchSlots>(slot, n);
}

// ---- the plan: how the batch is cut into GEMMs and shared by the threads

enum class Pass { forward, backward_input, backward_weight };

// How large each pass wants its GEMMs, measured on the DCGAN-64 layers
// (several sizes within a few per cent of each other; these were best):
//   columns     images are grouped until a GEMM has at least this many
//               columns (output positions). A few hundred amortise the
//               weight's packing; more only make the slices of col larger.
//               (A single image larger than this is not cut: its positions
//               are split only when the budget forces it.)
//   slice_rows  rows of col built and multiplied at a time. For the forward
//               and the weight gradient, col is the GEMM's input and 256 rows
//               (the GEMM's K block) keep a slice of 256 x 512 floats (512
//               KiB) in L2 between im2col and the GEMM. For the input
//               gradient, col is the GEMM's output, and every slice packs gy
//               again, so slices are larger.
struct PassShape {
  int64_t columns, slice_rows;
};
PassShape pass_shape(Pass pass) {
  switch (pass) {
    case Pass::forward: return {512, 256};
    case Pass::backward_input: return {512, 512};
    case Pass::backward_weight: return {256, 256};
  }
  return {512, 256};
}

struct ConvPlan {
  int64_t rows = 0;            // C_in * kH * kW: rows of col, columns of the weight matrix
  int64_t taps = 0;            // kH * kW: rows of col per input channel
  int64_t positions = 0;       // OH * OW: output positions of one image
  bool whole_window = false;   // the kernel covers the unpadded input: col_n is x_n, one GEMM per batch
  bool pointwise = false;      // 1x1 kernel, stride 1, no padding: col_n is x_n
  int team = 1;                // threads splitting the batch; 1: the threads work inside each step instead
  int64_t images_per_gemm = 1; // > 1: whole images share a GEMM
  int64_t chunk = 0;           // output positions per GEMM when images_per_gemm == 1
  int64_t slice_channels = 0;  // input channels per slice of col (their rows are contiguous in col)
  int64_t slice_rows() const { return slice_channels * taps; }
};

ConvPlan make_plan(const Conv2dGeometry& g, Pass pass) {
  (void)gemm_backend();  // reads GESSO_GEMM now: a bad value throws here, not inside a parallel region
  const PassShape want = pass_shape(pass);
  ConvPlan p;
  p.taps = g.kH * g.kW;
  p.rows = g.C_in * p.taps;
  p.positions = g.OH * g.OW;
  p.whole_window = g.kH == g.H && g.kW == g.W && g.pad_h == 0 && g.pad_w == 0;
  p.pointwise = g.kH == 1 && g.kW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
  p.slice_channels =
      std::clamp<int64_t>(want.slice_rows / std::max<int64_t>(1, p.taps), 1, std::max<int64_t>(1, g.C_in));
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  p.team = threads > 1 && g.N >= threads ? threads : 1;
  const int64_t budget = g_col_budget.load();
  const int64_t per_image = std::max<int64_t>(1, p.positions * (p.slice_rows() + g.C_out));  // col + matrix
  const int64_t images_each = ceil_div(g.N, p.team);
  if (p.positions < want.columns && images_each > 1 && per_image <= budget)
    p.images_per_gemm = std::min({images_each, ceil_div(want.columns, p.positions), budget / per_image});
  p.chunk = p.images_per_gemm > 1 || p.pointwise
                ? p.positions
                : std::min(p.positions, std::max(kMinChunk, budget / std::max<int64_t>(1, p.slice_rows())));
  return p;
}

// The columns of one GEMM: output positions [p0, p0 + P) of images
// [n0, n0 + nb), image by image. nb > 1 only with whole images (p0 = 0).
struct Block {
  int64_t n0, nb, p0, P;
  int64_t columns() const { return nb * P; }
};

// Calls f(block) for the images [lo, hi): as few groups as images_per_gemm
// allows, the images spread evenly over them (64 images at most 56 per GEMM
// make two GEMMs of 32, not 56 + 8); or image by image, chunk by chunk.
template <class F>
void for_each_block(const ConvPlan& plan, int64_t lo, int64_t hi, F f) {
  const int64_t count = hi - lo;
  if (count <= 0) return;
  if (plan.images_per_gemm > 1) {
    const int64_t groups = ceil_div(count, plan.images_per_gemm);
    for (int64_t k = 0; k < groups; ++k) {
      const int64_t a = lo + count * k / groups, b = lo + count * (k + 1) / groups;
      f(Block{a, b - a, 0, plan.positions});
    }
    return;
  }
  for (int64_t n = lo; n < hi; ++n)
    for (int64_t p0 = 0; p0 < plan.positions; p0 += plan.chunk)
      f(Block{n, 1, p0, std::min(plan.chunk, plan.positions - p0)});
}

// Runs f(block, inner) over the whole batch: the team's threads take groups
// of images (or single images, all their chunks in order) one at a time, or
// (team of one) every block with inner = true, meaning that f should spread
// its own loops over the threads. Handed out one at a time, not as one
// contiguous share per thread: a thread whose core another process takes
// for a while then does fewer groups instead of keeping the other waiting
// (DCGAN's 128->256 layer on 2 threads beside a busy loop: forward 20.2 ->
// 16.5 ms, input gradient 23.2 -> 19.5 ms; unchanged when the machine is
// quiet). The weight gradient keeps fixed shares: its per-thread partial
// sums would otherwise depend on the schedule. Every image's
// output is computed alone, from the same blocks, so the results do not
// depend on which thread computed what.
template <class F>
void run_blocks(const ConvPlan& plan, int64_t N, F f) {
  if (plan.team == 1) {
    for_each_block(plan, 0, N, [&](const Block& b) { f(b, true); });
    return;
  }
  const bool grouped = plan.images_per_gemm > 1;
  const int64_t units = grouped ? ceil_div(N, plan.images_per_gemm) : N;
#pragma omp parallel for num_threads(plan.team) schedule(dynamic, 1)
  for (int64_t u = 0; u < units; ++u) {
    if (grouped) {  // the same groups as for_each_block(plan, 0, N) makes
      const int64_t a = N * u / units, b = N * (u + 1) / units;
      f(Block{a, b - a, 0, plan.positions}, false);
    } else {
      for_each_block(plan, u, u + 1, [&](const Block& b) { f(b, false); });
    }
  }
}

// ---- phase rows: the input seen so that every kernel tap reads contiguously

// Tap j of a stride-s kernel reads input column ow*s + off_j (off_j =
// j*dilation - pad) for output column ow. Writing off_j = shift_j*s + phase_j
// (0 <= phase_j < s), that is column ow + shift_j of phase row phase_j, where
// phase row f of an input row holds its columns f, f+s, f+2s, ... So the
// OW values tap j needs for one output row are OW consecutive elements of
// one phase row. Each phase row is stored with `left` zero columns in front
// and zeros after its data up to `width`, so that the run starting at
// left + shift_j never leaves the row: the zeros are the padding.
// One input channel becomes s planes of H phase rows: element (f, h, k) at
// (f * H + h) * width + k.
struct PhaseRows {
  int64_t stride = 1;
  int64_t left = 0, width = 0;
  bool direct = false;            // stride 1, no horizontal padding: the channel itself, read in place
  std::vector<int64_t> tap_base;  // per kernel column j: offset of (row 0, ow = 0) in the planes
  int64_t phase_length(int64_t f, int64_t W) const { return f < W ? (W - f + stride - 1) / stride : 0; }
  int64_t size(int64_t H) const { return stride * H * width; }
};

PhaseRows make_phase_rows(const Conv2dGeometry& g) {
  PhaseRows pr;
  const int64_t s = g.stride_w;
  pr.stride = s;
  pr.tap_base.resize(static_cast<size_t>(g.kW));
  pr.direct = s == 1 && g.pad_w == 0;
  if (pr.direct) {
    pr.width = g.W;
    for (int64_t j = 0; j < g.kW; ++j) pr.tap_base[j] = j * g.dilation_w;
    return pr;
  }
  std::vector<int64_t> phase(g.kW), shift(g.kW);
  for (int64_t j = 0; j < g.kW; ++j) {
    const int64_t off = j * g.dilation_w - g.pad_w;
    phase[j] = ((off % s) + s) % s;
    shift[j] = (off - phase[j]) / s;  // exact: off - phase is a multiple of s
    pr.left = std::max(pr.left, -shift[j]);
  }
  pr.width = pr.left + pr.phase_length(0, g.W);  // phase 0 is the longest
  for (int64_t j = 0; j < g.kW; ++j) pr.width = std::max(pr.width, pr.left + shift[j] + g.OW);
  for (int64_t j = 0; j < g.kW; ++j) pr.tap_base[j] = phase[j] * g.H * pr.width + pr.left + shift[j];
  return pr;
}

// Splits channel xc (H x W) into the data part of its phase rows (the
// margins are left alone: the caller zeroes them once per buffer).
template <class T>
void split_phases(const T* xc, const Conv2dGeometry& g, const PhaseRows& pr, T* planes) {
  const int64_t s = pr.stride, W = g.W, plane = g.H * pr.width;
  for (int64_t h = 0; h < g.H; ++h) {
    const T* src = xc + h * W;
    T* row = planes + h * pr.width + pr.left;  // phase f's row: row + f * plane
    if (s == 2) {
      // The common case, both phases in one pass: a constant stride that the
      // compiler turns into vector loads and shuffles.
      T* odd = row + plane;
      const int64_t pairs = W / 2;
      for (int64_t m = 0; m < pairs; ++m) {
        row[m] = src[2 * m];
        odd[m] = src[2 * m + 1];
      }
      if (W % 2 != 0) row[pairs] = src[W - 1];
    } else {
      for (int64_t f = 0; f < s; ++f) {
        const int64_t n = pr.phase_length(f, W);
        for (int64_t m = 0; m < n; ++m) row[f * plane + m] = src[m * s + f];
      }
    }
  }
}

// The reverse: gc (H x W) = (or +=) the data part of the phase rows.
template <class T>
void merge_phases(const T* planes, const Conv2dGeometry& g, const PhaseRows& pr, T* gc, bool accumulate) {
  const int64_t s = pr.stride, W = g.W, plane = g.H * pr.width;
  for (int64_t h = 0; h < g.H; ++h) {
    const T* row = planes + h * pr.width + pr.left;
    T* dst = gc + h * W;
    if (s == 2 && !accumulate) {  // the common case, interleaving both phases in one pass
      const T* odd = row + plane;
      const int64_t pairs = W / 2;
      for (int64_t m = 0; m < pairs; ++m) {
        dst[2 * m] = row[m];
        dst[2 * m + 1] = odd[m];
      }
      if (W % 2 != 0) dst[W - 1] = row[pairs];
      continue;
    }
    for (int64_t f = 0; f < s; ++f) {
      const int64_t n = pr.phase_length(f, W);
      const T* r = row + f * plane;
      if (accumulate) {
        for (int64_t m = 0; m < n; ++m) dst[m * s + f] += r[m];
      } else {
        for (int64_t m = 0; m < n; ++m) dst[m * s + f] = r[m];
      }
    }
  }
}

// ---- im2col and col2im

// The output rows [lo, hi) whose input row oh * stride + off lies in [0, in).
struct Span {
  int64_t lo, hi;
};
Span valid_rows(int64_t off, int64_t stride, int64_t in, int64_t out) {
  int64_t lo = off >= 0 ? 0 : ceil_div(-off, stride);
  int64_t hi = in - off <= 0 ? 0 : ceil_div(in - off, stride);
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// One kernel tap over a whole image: dst (OH x OW, contiguous) gets, in its
// rows [lo, hi), OW values from src (one row every src_stride elements,
// starting with row lo), and zeros in the other rows (they read padding).
// kWidth is OW when it is one of the common widths: a compile-time width
// turns each row into a few whole-vector moves, with no loop or remainder
// around them, which matters when rows are 4 to 32 values long.
template <int kWidth, class T>
void gather_tap(const T* src, int64_t src_stride, Span rows, int64_t OH, int64_t OW, T* dst) {
  const int64_t w = kWidth > 0 ? kWidth : OW;
  for (int64_t oh = 0; oh < rows.lo; ++oh)
    for (int64_t t = 0; t < w; ++t) dst[oh * w + t] = T(0);
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh, src += src_stride) {
    T* d = dst + oh * w;
#pragma omp simd
    for (int64_t t = 0; t < w; ++t) d[t] = src[t];
  }
  for (int64_t oh = rows.hi; oh < OH; ++oh)
    for (int64_t t = 0; t < w; ++t) dst[oh * w + t] = T(0);
}

// The adjoint: rows [lo, hi) of src (OH x OW) are added to dst's rows (one
// every dst_stride elements, starting with row lo); padding rows give nothing.
template <int kWidth, class T>
void scatter_tap(const T* src, Span rows, int64_t OW, T* dst, int64_t dst_stride) {
  const int64_t w = kWidth > 0 ? kWidth : OW;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh, dst += dst_stride) {
    const T* s = src + oh * w;
#pragma omp simd
    for (int64_t t = 0; t < w; ++t) dst[t] += s[t];
  }
}

template <class T>
using GatherFn = void (*)(const T*, int64_t, Span, int64_t, int64_t, T*);
template <class T>
using ScatterFn = void (*)(const T*, Span, int64_t, T*, int64_t);

template <class T>
GatherFn<T> gather_for_width(int64_t OW) {
  switch (OW) {
    case 4: return gather_tap<4, T>;
    case 8: return gather_tap<8, T>;
    case 16: return gather_tap<16, T>;
    case 32: return gather_tap<32, T>;
    default: return gather_tap<0, T>;
  }
}
template <class T>
ScatterFn<T> scatter_for_width(int64_t OW) {
  switch (OW) {
    case 4: return scatter_tap<4, T>;
    case 8: return scatter_tap<8, T>;
    case 16: return scatter_tap<16, T>;
    case 32: return scatter_tap<32, T>;
    default: return scatter_tap<0, T>;
  }
}

// Calls f(oh, ow_begin, n, q) for each output row met by positions
// [p0, p0 + P): n positions starting at column ow_begin of row oh, which are
// columns q.. of the block. (The general walk, for a chunk of an image.)
template <class F>
inline void for_each_output_row(const Conv2dGeometry& g, int64_t p0, int64_t P, F f) {
  int64_t oh = p0 / g.OW, ow = p0 % g.OW;
  for (int64_t q = 0; q < P; ++oh, ow = 0) {
    const int64_t n = std::min(g.OW - ow, P - q);
    f(oh, ow, n, q);
    q += n;
  }
}

// col[r, 0:P] (row stride ld) = the input values under tap r = (c, i, j),
// c in [c0, c1) (r counted from c0), at output positions [p0, p0 + P) of
// image xn. Parallel over channels: each thread splits its channel into its
// own phase rows.
template <class T>
void im2col(const T* xn, const Conv2dGeometry& g, const PhaseRows& pr, int64_t c0, int64_t c1, int64_t p0, int64_t P,
            T* col, int64_t ld, bool parallel) {
  const bool whole = p0 == 0 && P == g.OH * g.OW;
  const GatherFn<T> gather = gather_for_width<T>(g.OW);
  const int64_t row_stride = g.stride_h * pr.width;  // from one output row to the next in a phase plane
#pragma omp parallel if (parallel && (c1 - c0) * g.kH * g.kW * P > kParallelGrain)
  {
    // This thread's phase rows, zeroed once here: splitting a channel then
    // writes only their data part, and the margins stay zero.
    T* buf = nullptr;
    if (!pr.direct) {
      buf = thread_buffer<T>(kPhases, pr.size(g.H));
      std::fill(buf, buf + pr.size(g.H), T(0));
    }
#pragma omp for schedule(static)
    for (int64_t c = c0; c < c1; ++c) {
      const T* planes = xn + c * g.H * g.W;
      // Ask for the next channel now, so that it arrives while this one is
      // copied: a channel of a small image is a page or less, and the
      // hardware prefetcher does not follow a stream into the next page.
      if (c + 1 < c1) {
        const char* next = reinterpret_cast<const char*>(planes + g.H * g.W);
        for (int64_t byte = 0; byte < g.H * g.W * int64_t(sizeof(T)); byte += 64) __builtin_prefetch(next + byte);
      }
      if (!pr.direct) {
        split_phases(planes, g, pr, buf);
        planes = buf;
      }
      for (int64_t i = 0; i < g.kH; ++i) {
        const int64_t off_h = i * g.dilation_h - g.pad_h;
        const Span rows = valid_rows(off_h, g.stride_h, g.H, g.OH);
        for (int64_t j = 0; j < g.kW; ++j) {
          T* dst_row = col + (((c - c0) * g.kH + i) * g.kW + j) * ld;
          const T* tap = planes + pr.tap_base[j];
          if (whole) {
            gather(tap + (rows.lo * g.stride_h + off_h) * pr.width, row_stride, rows, g.OH, g.OW, dst_row);
            continue;
          }
          for_each_output_row(g, p0, P, [&](int64_t oh, int64_t ow, int64_t n, int64_t q) {
            T* d = dst_row + q;
            if (oh < rows.lo || oh >= rows.hi) {
              std::fill(d, d + n, T(0));  // a padding row
              return;
            }
            const T* src = tap + (oh * g.stride_h + off_h) * pr.width + ow;
#pragma omp simd
            for (int64_t t = 0; t < n; ++t) d[t] = src[t];
          });
        }
      }
    }
  }
}

// The adjoint of im2col: folds col[:, 0:P] (rows of channels [c0, c1),
// positions [p0, p0 + P)) back onto the pixels they were read from, writing
// gx_n (=) or, for a chunk of an image, adding to it (+=). Parallel over
// channels: the rows of channel c land in channel c only.
template <class T>
void col2im(const T* col, int64_t ld, const Conv2dGeometry& g, const PhaseRows& pr, int64_t c0, int64_t c1, int64_t p0,
            int64_t P, T* gxn, bool accumulate, bool parallel) {
  const bool whole = p0 == 0 && P == g.OH * g.OW;
  const ScatterFn<T> scatter = scatter_for_width<T>(g.OW);
  const int64_t row_stride = g.stride_h * pr.width;
#pragma omp parallel for schedule(static) if (parallel && (c1 - c0) * g.kH * g.kW * P > kParallelGrain)
  for (int64_t c = c0; c < c1; ++c) {
    T* gc = gxn + c * g.H * g.W;
    T* planes = gc;  // direct: add straight into gx
    if (!pr.direct) {
      planes = thread_buffer<T>(kPhases, pr.size(g.H));
      std::fill(planes, planes + pr.size(g.H), T(0));
    } else if (!accumulate) {
      std::fill(gc, gc + g.H * g.W, T(0));  // one plane, about to be added to: still in L1 when it is
    }
    for (int64_t i = 0; i < g.kH; ++i) {
      const int64_t off_h = i * g.dilation_h - g.pad_h;
      const Span rows = valid_rows(off_h, g.stride_h, g.H, g.OH);
      for (int64_t j = 0; j < g.kW; ++j) {
        const T* src_row = col + (((c - c0) * g.kH + i) * g.kW + j) * ld;
        T* tap = planes + pr.tap_base[j];
        if (whole) {
          scatter(src_row, rows, g.OW, tap + (rows.lo * g.stride_h + off_h) * pr.width, row_stride);
          continue;
        }
        for_each_output_row(g, p0, P, [&](int64_t oh, int64_t ow, int64_t n, int64_t q) {
          if (oh < rows.lo || oh >= rows.hi) return;  // read padding: nothing to give back
          T* d = tap + (oh * g.stride_h + off_h) * pr.width + ow;
          const T* s = src_row + q;
#pragma omp simd
          for (int64_t t = 0; t < n; ++t) d[t] += s[t];
        });
      }
    }
    if (!pr.direct) merge_phases(planes, g, pr, gc, accumulate);
  }
}

// ---- the output-sized copies around grouped GEMMs

// out (C x nb*P) = the block's columns of t, an (N, C, positions) tensor:
// image k's positions [p0, p0 + P) of channel c go to out[c, k*P : (k+1)*P].
template <class T>
void gather_block(const T* t, int64_t C, int64_t positions, const Block& b, T* out, bool parallel) {
  const int64_t ld = b.columns();
#pragma omp parallel for if (parallel && C * ld > kParallelGrain)
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < b.nb; ++k)
      std::copy_n(t + ((b.n0 + k) * C + c) * positions + b.p0, b.P, out + c * ld + k * b.P);
}

// y[n0 + k, co, p0 + t] = yt[k * P + t, co] (+ bias[co]): the block's output,
// computed as (columns x C_out), transposed into y's layout. Tiles of 16 x 16
// keep both the rows read and the rows written in L1.
template <class T>
void transpose_out(const T* yt, int64_t C_out, const Block& b, int64_t positions, const T* bias, T* y, bool parallel) {
  constexpr int64_t kTile = 16;
#pragma omp parallel for if (parallel && C_out * b.columns() > kParallelGrain)
  for (int64_t co0 = 0; co0 < C_out; co0 += kTile) {
    const int64_t co1 = std::min(C_out, co0 + kTile);
    for (int64_t k = 0; k < b.nb; ++k) {
      const T* src_image = yt + k * b.P * C_out;
      T* dst_image = y + (b.n0 + k) * C_out * positions + b.p0;
      for (int64_t t0 = 0; t0 < b.P; t0 += kTile) {
        const int64_t t1 = std::min(b.P, t0 + kTile);
        for (int64_t co = co0; co < co1; ++co) {
          const T bc = bias != nullptr ? bias[co] : T(0);
          T* dst = dst_image + co * positions;
          for (int64_t t = t0; t < t1; ++t) dst[t] = src_image[t * C_out + co] + bc;
        }
      }
    }
  }
}

template <class T>
void fill_zero(T* p, int64_t n, bool parallel) {
#pragma omp parallel for simd if (parallel && n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) p[i] = T(0);
}

// ---- 4x4 stride-2 kernels: Winograd F(2x2, 2x2) over the input's phases
//
// DCGAN's discriminator is made of 4x4 stride-2 convolutions. Split the
// kernel's rows into even and odd ones (i = 2a + p, a and p in {0, 1}) and
// likewise its columns: each of the four (p_h, p_w) parts is a 2x2 kernel
// that meets only one phase of the input, at stride 1. Precisely, kernel row
// i reads input row 2 oh - pad + i = 2 (oh + a + s_p) + f_p, where
// p - pad = 2 s_p + f_p (0 <= f_p < 2); so with z_p[r] = x[2 (r + s_p) + f_p]
// the row contributions are w[2a + p] z_p[oh + a]: a 2-tap, stride-1
// correlation. The stride-2 4x4 convolution of C_in channels is thus a
// stride-1 2x2 convolution of 4 C_in channels z (c, p_h, p_w).
//
// A stride-1 2x2 convolution is what Winograd's F(2x2, 2x2) computes with
// fewer multiplications: per 2x2 block of outputs ("tile") it reads a 3x3
// window d of z and computes
//   y = A^T [(G g G^T) . (B^T d B)] A       (. elementwise, 3x3)
//   B^T = [1 -1 0; 0 1 0; 0 -1 1],  G = [1 0; 1 1; 0 1],  A^T = [1 1 0; 0 1 1]
// (in one dimension: y0 = (d0 - d1) g0 + d1 (g0 + g1), y1 = d1 (g0 + g1) +
// (d2 - d1) g1). Summed over the channels, the 9 elementwise products become
// 9 independent GEMMs
//   M[k] (C_out x tiles) = U[k] (C_out x 4 C_in) . V[k] (4 C_in x tiles),
// U = G g G^T (the transformed weights) and V = B^T d B (the transformed
// input): 9 multiply-adds per tile and channel pair instead of the 16 of the
// 4x4 kernel's 4 outputs, 44 % fewer. The transforms only add and subtract
// (coefficients 0 and +-1), so the rounding is that of a direct sum with a
// few more terms. Float only, as kernels/winograd.h: double convolutions
// (the gradient checks) stay on im2col.
//
// The input gradient (conv_transpose2d's forward) is also a sum of stride-1
// 2x2 convolutions, one per phase of gx, and was tried the same way: with
// C_in outputs and C_out inputs per phase its GEMMs are four times thinner,
// and it measured no faster than im2col + col2im on DCGAN's layers, so it
// stays there.
//
// The input transform handles all tiles of a group of images in one vector
// loop per channel: window position (u, v) of tile (th, tw) is input pixel
// (4 th + rho, 4 tw + kappa), for small offsets rho and kappa (-3 to 5 for
// pads 0 to 3) that depend on the phase and the padding. So each input
// channel of the group is first rearranged into planes
//   D[rho mod 4][kappa][i][b * tiles_w + tw] = x_b[4 i + rho mod 4][4 tw + kappa]
// (zero outside the image, zero rows above and below), the images b side by
// side; the run of (u, v) over the group's tiles, in the order
// t = (th, b, tw), is then one contiguous stretch of a plane, starting at its
// row floor(rho / 4). The output transform undoes that order.

struct PhaseWinograd {
  int64_t tiles_h = 0, tiles_w = 0, tiles = 0;  // per image
  int64_t channels = 0;                         // 4 C_in: the channels of z
  int64_t images_per_gemm = 1;
  int64_t rho[2][3] = {};    // [p_h][u]: z row 2 th + u of phase p_h is input row 4 th + rho
  int64_t kappa[2][3] = {};  // [p_w][v]: z column 2 tw + v of phase p_w is input column 4 tw + kappa
  int64_t kappa_lo = 0, kappas = 0;     // the kappas span [kappa_lo, kappa_lo + kappas)
  int64_t top = 0, rows = 0;            // D planes: `top` zero rows above row 0, `rows` rows in all
  int64_t quarter_left = 0, quarter_width = 0;  // an input row's column quarters, with zero margins
  // D planes for nb images side by side, then room for one image's quarters.
  int64_t plane(int64_t nb) const { return rows * nb * tiles_w; }
  int64_t scratch(int64_t nb, int64_t H) const { return 4 * kappas * plane(nb) + 4 * H * quarter_width; }
  // Where the run of window position (u, v) of phase (ph, pw) starts in the D planes.
  int64_t run(int ph, int pw, int u, int v, int64_t nb) const {
    const int64_t r = rho[ph][u], r4 = ((r % 4) + 4) % 4, shift = (r - r4) / 4;
    return (r4 * kappas + (kappa[pw][v] - kappa_lo)) * plane(nb) + (top + shift) * nb * tiles_w;
  }
};

// Fewer channels leave the GEMMs too thin to gain. The transformed weight
// (9 x C_out x 4 C_in, 2.25 times the weight) must fit a memory budget: the
// forward makes one, shared by the threads, and may use twice the col budget
// (DCGAN's 256->512 layer, 19 MB: forward 1.4x faster than im2col, measured
// with bench_conv on both ISAs); the weight gradient sums one per thread, so
// it stays within the col budget (that layer's gradient keeps im2col: two
// 19 MB partial sums and their reduction made it no faster on 2 threads).
bool phase_winograd_applicable(const Conv2dGeometry& g, Pass pass) {
  const int64_t transformed_weight = 9 * 4 * g.C_in * g.C_out;
  const int64_t budget = pass == Pass::forward ? 2 * g_col_budget.load() : g_col_budget.load();
  return g.kH == 4 && g.kW == 4 && g.stride_h == 2 && g.stride_w == 2 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.C_in >= 16 && g.C_out >= 16 && g.OH >= 2 && g.OW >= 2 && g.N > 0 &&
         transformed_weight <= budget;
}

// About 128 tiles per GEMM, measured on DCGAN's layers (64 and 256 within a
// few per cent, 512 10 % slower): enough columns to amortise packing U[k]
// once per GEMM, while the transformed input and the products (9 matrices
// each) stay small enough to be read back from cache.
constexpr int64_t kWinogradTiles = 128;

PhaseWinograd make_phase_winograd(const Conv2dGeometry& g, int team) {
  PhaseWinograd pw;
  pw.tiles_h = (g.OH + 1) / 2;
  pw.tiles_w = (g.OW + 1) / 2;
  pw.tiles = pw.tiles_h * pw.tiles_w;
  pw.channels = 4 * g.C_in;
  int64_t k_lo = 0, k_hi = 0, s_lo = 0, s_hi = 0;
  for (int p = 0; p < 2; ++p) {
    // Kernel row 2 a + p reads input row 2 (oh + a + s) + f with p - pad = 2 s + f.
    const int64_t qh = p - g.pad_h, fh = ((qh % 2) + 2) % 2, sh = (qh - fh) / 2;
    const int64_t qw = p - g.pad_w, fw = ((qw % 2) + 2) % 2, sw = (qw - fw) / 2;
    for (int u = 0; u < 3; ++u) {
      pw.rho[p][u] = 2 * (u + sh) + fh;
      pw.kappa[p][u] = 2 * (u + sw) + fw;
      const int64_t r4 = ((pw.rho[p][u] % 4) + 4) % 4, shift = (pw.rho[p][u] - r4) / 4;
      s_lo = std::min(s_lo, shift);
      s_hi = std::max(s_hi, shift);
      k_lo = u == 0 && p == 0 ? pw.kappa[p][u] : std::min(k_lo, pw.kappa[p][u]);
      k_hi = u == 0 && p == 0 ? pw.kappa[p][u] : std::max(k_hi, pw.kappa[p][u]);
    }
  }
  pw.kappa_lo = k_lo;
  pw.kappas = k_hi - k_lo + 1;
  const int64_t q_lo = (k_lo - ((k_lo % 4) + 4) % 4) / 4, q_hi = (k_hi - ((k_hi % 4) + 4) % 4) / 4;
  pw.quarter_left = std::max<int64_t>(0, -q_lo);
  pw.quarter_width = pw.quarter_left + std::max((g.W + 3) / 4, pw.tiles_w + q_hi);
  pw.top = -s_lo;
  pw.rows = pw.top + pw.tiles_h + s_hi;
  // Groups of whole images, within the budget for V (9 x channels x tiles)
  // and M (9 x C_out x tiles).
  const int64_t per_image = 9 * pw.tiles * (pw.channels + g.C_out);
  const int64_t images_each = ceil_div(g.N, team);
  pw.images_per_gemm = std::clamp<int64_t>(
      std::min(ceil_div(kWinogradTiles, pw.tiles), g_col_budget.load() / per_image), 1, images_each);
  return pw;
}

// U[k][co][c'] = (G g G^T)[k] for the 2x2 kernel g of channel c' = (c, p_h, p_w).
void phase_winograd_weights(const float* w, const Conv2dGeometry& g, const PhaseWinograd& pw, float* U) {
  const int64_t plane = g.C_out * pw.channels;
#pragma omp parallel for if (g.C_out * g.C_in * 16 > kParallelGrain && !omp_in_parallel())
  for (int64_t co = 0; co < g.C_out; ++co)
    for (int64_t c = 0; c < g.C_in; ++c) {
      const float* k4 = w + (co * g.C_in + c) * 16;
      for (int ph = 0; ph < 2; ++ph)
        for (int pc = 0; pc < 2; ++pc) {
          const float g00 = k4[ph * 4 + pc], g01 = k4[ph * 4 + 2 + pc];
          const float g10 = k4[(2 + ph) * 4 + pc], g11 = k4[(2 + ph) * 4 + 2 + pc];
          const float h[3][2] = {{g00, g01}, {g00 + g10, g01 + g11}, {g10, g11}};  // G g
          float* u = U + co * pw.channels + 4 * c + 2 * ph + pc;
          for (int r = 0; r < 3; ++r) {  // (G g) G^T
            u[(3 * r + 0) * plane] = h[r][0];
            u[(3 * r + 1) * plane] = h[r][0] + h[r][1];
            u[(3 * r + 2) * plane] = h[r][1];
          }
        }
    }
}

// V[c'][k][t] = (B^T d B)[k] for every tile t = (th, b, tw) of the group's nb
// images (x0: channel c of the first, x_image apart) and the four channels
// c' = (c, p_h, p_w); ld: the group's tiles. D: this thread's scratch
// (pw.scratch), whose rows outside the image the caller has zeroed. kTW is
// tiles_w when it is a common width (a compile-time run length turns each
// copy of a run into a few whole-vector moves), else 0.
template <int kTW>
void phase_winograd_input(const float* x0, int64_t x_image, int64_t nb, const Conv2dGeometry& g,
                          const PhaseWinograd& pw, int64_t c, float* V, int64_t ld, float* D) {
  const int64_t TW = kTW > 0 ? kTW : pw.tiles_w, NT = nb * TW, W = g.W, QW = pw.quarter_width;
  const int64_t last_row = std::min(g.H, 4 * (pw.rows - pw.top));  // rows below the tiles' windows are unused
  float* quarters = D + 4 * pw.kappas * pw.plane(nb) + pw.quarter_left;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xc = x0 + b * x_image;
    // Ask for the next plane (the next image's, or the next channel's) while
    // this one is transformed: see im2col. (A prefetch past the end of x is
    // harmless: it never faults.)
    const char* next = reinterpret_cast<const char*>(b + 1 < nb ? xc + x_image : x0 + g.H * W);
    for (int64_t byte = 0; byte < g.H * W * int64_t(sizeof(float)); byte += 64) __builtin_prefetch(next + byte);
    // First all rows split into their column quarters (quarter q of row h at
    // (4 h + q) * QW; a constant stride of 4), all before any is read back:
    // reading a value just stored by a narrower store would stall.
    for (int64_t h = 0; h < last_row; ++h) {
      const float* src = xc + h * W;
      float* q0 = quarters + 4 * h * QW;
      const int64_t quads = W / 4;
      for (int64_t m = 0; m < quads; ++m) {
        q0[m] = src[4 * m];
        q0[QW + m] = src[4 * m + 1];
        q0[2 * QW + m] = src[4 * m + 2];
        q0[3 * QW + m] = src[4 * m + 3];
      }
      for (int64_t q = 0; q < W % 4; ++q) q0[q * QW + quads] = src[4 * quads + q];
    }
    // Then each kappa's run of TW values into image b's part of the D planes.
    for (int64_t k = 0; k < pw.kappas; ++k) {
      const int64_t kappa = pw.kappa_lo + k, q = ((kappa % 4) + 4) % 4, shift = (kappa - q) / 4;
      const float* from = quarters + q * QW + shift;
      float* to = D + k * pw.plane(nb) + pw.top * NT + b * TW;
      for (int64_t h = 0; h < last_row; ++h) {
        const float* src = from + 4 * h * QW;
        float* dst = to + ((h % 4) * pw.kappas * pw.plane(nb) + (h / 4) * NT);
#pragma omp simd
        for (int64_t tw = 0; tw < TW; ++tw) dst[tw] = src[tw];
      }
    }
  }
  const int64_t plane = ld, n = nb * pw.tiles;
  for (int ph = 0; ph < 2; ++ph)
    for (int pc = 0; pc < 2; ++pc) {
      const float* d[3][3];  // d[u][v]: window position (u, v) of every tile
      for (int u = 0; u < 3; ++u)
        for (int v = 0; v < 3; ++v) d[u][v] = D + pw.run(ph, pc, u, v, nb);
      float* out = V + (4 * c + 2 * ph + pc) * 9 * ld;  // its 9 rows V[c'][k], one after another
#pragma omp simd
      for (int64_t t = 0; t < n; ++t) {
        float e[3][3];  // B^T d: rows 0 - 1, 1, 2 - 1
        for (int v = 0; v < 3; ++v) {
          e[0][v] = d[0][v][t] - d[1][v][t];
          e[1][v] = d[1][v][t];
          e[2][v] = d[2][v][t] - d[1][v][t];
        }
        for (int u = 0; u < 3; ++u) {  // (B^T d) B: columns 0 - 1, 1, 2 - 1
          out[(3 * u + 0) * plane + t] = e[u][0] - e[u][1];
          out[(3 * u + 1) * plane + t] = e[u][1];
          out[(3 * u + 2) * plane + t] = e[u][2] - e[u][1];
        }
      }
    }
}

// y_b[co] = A^T M A (+ bias) for every tile t = (th, b, tw) of the group:
// M[co][k][t], ld: the group's tiles; y0: channel co of the first image,
// y_image apart; O: scratch for 4 x tiles values.
void phase_winograd_output(const float* M, int64_t ld, int64_t nb, const Conv2dGeometry& g, const PhaseWinograd& pw,
                           int64_t co, float bias, float* y0, int64_t y_image, float* O) {
  const int64_t plane = ld, n = nb * pw.tiles, TW = pw.tiles_w, NT = nb * TW;
  const float* m = M + co * 9 * ld;  // its 9 rows M[co][k], one after another
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) {
    float s[2][3];  // A^T m: rows 0 + 1, 1 + 2
    for (int v = 0; v < 3; ++v) {
      s[0][v] = m[v * plane + t] + m[(3 + v) * plane + t];
      s[1][v] = m[(3 + v) * plane + t] + m[(6 + v) * plane + t];
    }
    for (int a = 0; a < 2; ++a) {  // (A^T m) A: columns 0 + 1, 1 + 2; O[2 a + col]: the tile's output (a, col)
      O[(2 * a) * n + t] = s[a][0] + s[a][1] + bias;
      O[(2 * a + 1) * n + t] = s[a][1] + s[a][2] + bias;
    }
  }
  // Interleave the tiles' two columns into y's rows; an odd last row or column lies outside.
  const int64_t pairs = g.OW / 2;
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t th = 0; th < pw.tiles_h; ++th)
      for (int a = 0; a < 2 && 2 * th + a < g.OH; ++a) {
        float* row = y0 + b * y_image + (2 * th + a) * g.OW;
        const float* even = O + (2 * a) * n + th * NT + b * TW;
        const float* odd = O + (2 * a + 1) * n + th * NT + b * TW;
        for (int64_t tw = 0; tw < pairs; ++tw) {
          row[2 * tw] = even[tw];
          row[2 * tw + 1] = odd[tw];
        }
        if (g.OW % 2 != 0) row[g.OW - 1] = even[pairs];
      }
}

// V[c'][k][t] for every input channel of the group of images b (see
// phase_winograd_input), with the threads when `inner`.
void phase_winograd_input_block(const float* x, const Conv2dGeometry& g, const PhaseWinograd& pw, const Block& b,
                                float* V, bool inner) {
  const int64_t T = b.nb * pw.tiles, x_image = g.C_in * g.H * g.W;
#pragma omp parallel if (inner && g.C_in * T > 2048)
  {
    // This thread's D planes: rows outside the image stay zero once zeroed here.
    float* D = thread_buffer<float>(kPhases, pw.scratch(b.nb, g.H));
    std::fill(D, D + pw.scratch(b.nb, g.H), 0.0f);
    auto input = phase_winograd_input<0>;
    switch (pw.tiles_w) {
      case 2: input = phase_winograd_input<2>; break;
      case 4: input = phase_winograd_input<4>; break;
      case 8: input = phase_winograd_input<8>; break;
      case 16: input = phase_winograd_input<16>; break;
      default: break;
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g.C_in; ++c) input(x + b.n0 * x_image + c * g.H * g.W, x_image, b.nb, g, pw, c, V, T, D);
  }
}

// The forward by F(2x2, 2x2) over phases: transformed weights once, then per
// group of images the input transform, the 9 GEMMs and the output transform.
void phase_winograd_forward(const float* x, const float* w, const float* bias, float* y, const Conv2dGeometry& g) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  ConvPlan plan;  // for run_blocks: groups of whole images, no chunks
  plan.team = threads > 1 && g.N >= threads ? threads : 1;
  const PhaseWinograd pw = make_phase_winograd(g, plan.team);
  plan.positions = plan.chunk = g.OH * g.OW;
  plan.images_per_gemm = pw.images_per_gemm;
  const int64_t Cp = pw.channels, y_image = g.C_out * g.OH * g.OW;
  float* U = thread_buffer<float>(kPartial, 9 * g.C_out * Cp);
  phase_winograd_weights(w, g, pw, U);
  run_blocks(plan, g.N, [&](const Block& b, bool inner) {
    const int64_t T = b.nb * pw.tiles;  // the group's tiles: the GEMMs' columns
    float* V = thread_buffer<float>(kCol, 9 * Cp * T);
    float* M = thread_buffer<float>(kMatrix, 9 * g.C_out * T);
    phase_winograd_input_block(x, g, pw, b, V, inner);
    // M[:, k, :] (C_out x T) = U[k] (C_out x Cp) . V[:, k, :] (Cp x T): V and M
    // hold the 9 rows of a channel together (V[c'][k][t], M[co][k][t]), so
    // that the transforms write and read them in long contiguous runs.
    for (int64_t k = 0; k < 9; ++k)
      gemm_cpu<float>(false, false, g.C_out, T, Cp, 1.0f, U + k * g.C_out * Cp, Cp, V + k * T, 9 * T, 0.0f,
                      M + k * T, 9 * T);
#pragma omp parallel if (inner && g.C_out * T > 2048)
    {
      float* O = thread_buffer<float>(kPhases, 4 * T);
#pragma omp for schedule(static)
      for (int64_t co = 0; co < g.C_out; ++co)
        phase_winograd_output(M, T, b.nb, g, pw, co, bias != nullptr ? bias[co] : 0.0f,
                              y + b.n0 * y_image + co * g.OH * g.OW, y_image, O);
    }
  });
}

// ---- the weight gradient, by the same transforms
//
// Differentiating y = A^T [U . V] A with respect to U gives, per tile,
// dU = (A gy A^T) . V, summed over the tiles, and g's gradient is
// dg = G^T dU G. So: the input transformed exactly as in the forward (V),
// gy's 2x2 tiles transformed to 3x3 (Y = A gy A^T, again adds only), and 9
// GEMMs that sum over the tiles: dU[k] (C_out x Cp) += Y[k] (C_out x tiles)
// . V[k]^T (tiles x Cp). The tiles are the GEMMs' K: every group of images
// adds its share, and a thread's dU collects all of its images.

// Y[co][k][t] = (A gy A^T)[k] for every tile t = (th, b, tw) of the group's
// images (gy0: channel co of the first image, y_image apart); E: scratch for
// 4 x tiles values. Outputs past the edge of an odd OH or OW count as 0.
void phase_winograd_gy(const float* gy0, int64_t y_image, int64_t nb, const Conv2dGeometry& g,
                       const PhaseWinograd& pw, float* Y, int64_t ld, float* E) {
  const int64_t n = nb * pw.tiles, TW = pw.tiles_w, NT = nb * TW, pairs = g.OW / 2;
  // E[2 a + col][t]: output (a, col) of tile t, gathered from gy's rows.
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t th = 0; th < pw.tiles_h; ++th)
      for (int a = 0; a < 2; ++a) {
        float* even = E + (2 * a) * n + th * NT + b * TW;
        float* odd = E + (2 * a + 1) * n + th * NT + b * TW;
        if (2 * th + a >= g.OH) {
          std::fill(even, even + TW, 0.0f);
          std::fill(odd, odd + TW, 0.0f);
          continue;
        }
        const float* row = gy0 + b * y_image + (2 * th + a) * g.OW;
        for (int64_t tw = 0; tw < pairs; ++tw) {
          even[tw] = row[2 * tw];
          odd[tw] = row[2 * tw + 1];
        }
        if (pairs < TW) {  // OW odd
          even[pairs] = row[2 * pairs];
          odd[pairs] = 0.0f;
        }
      }
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) {
    const float y00 = E[t], y01 = E[n + t], y10 = E[2 * n + t], y11 = E[3 * n + t];
    const float r[3][2] = {{y00, y01}, {y00 + y10, y01 + y11}, {y10, y11}};  // A gy
    for (int u = 0; u < 3; ++u) {  // (A gy) A^T
      Y[(3 * u + 0) * ld + t] = r[u][0];
      Y[(3 * u + 1) * ld + t] = r[u][0] + r[u][1];
      Y[(3 * u + 2) * ld + t] = r[u][1];
    }
  }
}

// gw += the weight gradient of a 4x4 stride-2 convolution, by the transforms above.
void phase_winograd_weight_grad(const float* x, const float* gy, float* gw, const Conv2dGeometry& g) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  ConvPlan plan;  // groups of whole images, no chunks
  plan.team = threads > 1 && g.N >= threads ? threads : 1;
  const PhaseWinograd pw = make_phase_winograd(g, plan.team);
  plan.positions = plan.chunk = g.OH * g.OW;
  plan.images_per_gemm = pw.images_per_gemm;
  const int64_t Cp = pw.channels, y_image = g.C_out * g.OH * g.OW, du_size = 9 * g.C_out * Cp;
  // Adds the images [lo, hi) into dU (9 x C_out x Cp).
  auto accumulate = [&](int64_t lo, int64_t hi, bool inner, float* dU) {
    for_each_block(plan, lo, hi, [&](const Block& b) {
      const int64_t T = b.nb * pw.tiles;
      float* V = thread_buffer<float>(kCol, 9 * Cp * T);
      float* Y = thread_buffer<float>(kMatrix, 9 * g.C_out * T);
      phase_winograd_input_block(x, g, pw, b, V, inner);
#pragma omp parallel if (inner && g.C_out * T > 2048)
      {
        float* E = thread_buffer<float>(kPhases, 4 * T);
#pragma omp for schedule(static)
        for (int64_t co = 0; co < g.C_out; ++co)
          phase_winograd_gy(gy + b.n0 * y_image + co * g.OH * g.OW, y_image, b.nb, g, pw, Y + co * 9 * T, T, E);
      }
      // dU[k] (C_out x Cp) += Y[:, k, :] (C_out x T) . V[:, k, :]^T (T x Cp)
      for (int64_t k = 0; k < 9; ++k)
        gemm_cpu<float>(false, true, g.C_out, Cp, T, 1.0f, Y + k * T, 9 * T, V + k * T, 9 * T, 1.0f,
                        dU + k * g.C_out * Cp, Cp);
    });
  };
  // gw[co][c][2a + p_h][2b + p_w] += (G^T dU G)[a][b], dU summed over the
  // `count` accumulators in a fixed order (deterministic): a work-shared loop.
  auto finish = [&](float* const* dUs, int count) {
    const int64_t plane = g.C_out * Cp;
#pragma omp for schedule(static)
    for (int64_t co = 0; co < g.C_out; ++co)
      for (int64_t zc = 0; zc < Cp; ++zc) {
        float d[9];
        for (int k = 0; k < 9; ++k) {
          float s = 0.0f;
          for (int t = 0; t < count; ++t) s += dUs[t][k * plane + co * Cp + zc];
          d[k] = s;
        }
        float h[2][3];  // G^T dU: rows 0 + 1, 1 + 2
        for (int v = 0; v < 3; ++v) {
          h[0][v] = d[v] + d[3 + v];
          h[1][v] = d[3 + v] + d[6 + v];
        }
        const int64_t c = zc / 4, ph = (zc / 2) % 2, pc = zc % 2;
        float* k4 = gw + (co * g.C_in + c) * 16;
        for (int a = 0; a < 2; ++a) {  // (G^T dU) G: columns 0 + 1, 1 + 2
          k4[(2 * a + ph) * 4 + pc] += h[a][0] + h[a][1];
          k4[(2 * a + ph) * 4 + 2 + pc] += h[a][1] + h[a][2];
        }
      }
  };
  if (plan.team == 1) {
    float* dU = thread_buffer<float>(kPartial, du_size);
    std::fill(dU, dU + du_size, 0.0f);
    accumulate(0, g.N, true, dU);
#pragma omp parallel if (du_size > kParallelGrain)
    finish(&dU, 1);
    return;
  }
  std::vector<float*> partial(static_cast<size_t>(plan.team), nullptr);
#pragma omp parallel num_threads(plan.team)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    float* dU = thread_buffer<float>(kPartial, du_size);
    std::fill(dU, dU + du_size, 0.0f);
    partial[t] = dU;
    accumulate(g.N * t / team, g.N * (t + 1) / team, false, dU);
#pragma omp barrier
    finish(partial.data(), team);
  }
}

}  // namespace

void set_conv_col_budget(int64_t elements) { g_col_budget.store(std::max<int64_t>(1, elements)); }
int64_t conv_col_budget() { return g_col_budget.load(); }

// ---- forward: y = w . col (+ bias)

template <class T>
void conv2d_forward_cpu(const T* x, const T* w, const T* bias, T* y, const Conv2dGeometry& g) {
  if (try_winograd_forward(x, w, bias, y, g)) return;  // 3x3 stride 1, float (kernels/winograd.h)
  const ConvPlan plan = make_plan(g, Pass::forward);
  const int64_t P_all = plan.positions, rows = plan.rows, ldw = std::max<int64_t>(1, rows);
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all;
  if (g.C_in == 0) {  // an empty sum: y is the bias
    for (int64_t e = 0; e < g.N * y_image; ++e) y[e] = bias != nullptr ? bias[e / P_all % g.C_out] : T(0);
    return;
  }
  if constexpr (std::is_same<T, float>::value) {
    if (phase_winograd_applicable(g, Pass::forward)) {  // 4x4 stride 2 (see above)
      phase_winograd_forward(x, w, bias, y, g);
      return;
    }
  }
  if (plan.whole_window) {
    // y (N x C_out) = x (N x rows) . w^T (rows x C_out): the images are the rows.
    gemm_cpu<T>(false, true, g.N, g.C_out, rows, T(1), x, ldw, w, ldw, T(0), y, std::max<int64_t>(1, g.C_out));
    if (bias != nullptr)
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t co = 0; co < g.C_out; ++co) y[n * g.C_out + co] += bias[co];
    return;
  }
  const PhaseRows pr = make_phase_rows(g);
  run_blocks(plan, g.N, [&](const Block& b, bool inner) {
    const int64_t cols = b.columns(), ldcol = std::max<int64_t>(1, cols);
    // The product lands in y_n directly for one image in the plain
    // orientation, else in a matrix that is copied out below.
    T* C = y + b.n0 * y_image + b.p0;
    int64_t ldc = std::max<int64_t>(1, P_all);
    bool transposed = false;
    if (plan.pointwise && b.nb == 1) {
      // y_n (C_out x HW) = w (C_out x C_in) . x_n (C_in x HW): col is x_n.
      gemm_cpu<T>(false, false, g.C_out, cols, rows, T(1), w, ldw, x + b.n0 * x_image, ldcol, T(0), C, ldc);
    } else {
      // y^T when C_out is well below the columns (point 4 above) and the
      // transposition, C_out * cols copies, is small next to the GEMM's
      // C_out * cols * rows multiply-adds. (Measured on DCGAN: 6 % faster
      // for C_out = 128 against 512 columns, 2 % slower for 256.)
      transposed = 4 * g.C_out <= cols && rows >= 256;
      if (transposed) {
        C = thread_buffer<T>(kMatrix, cols * g.C_out);
        ldc = std::max<int64_t>(1, g.C_out);
      } else if (b.nb > 1) {
        C = thread_buffer<T>(kMatrix, g.C_out * cols);
        ldc = ldcol;
      }
      // Sum over slices of channels: C (=, then +=) w[:, slice] . col_slice, or its transpose.
      for (int64_t c0 = 0; c0 < g.C_in; c0 += plan.slice_channels) {
        const int64_t c1 = std::min(g.C_in, c0 + plan.slice_channels), k_rows = (c1 - c0) * plan.taps;
        T* col = thread_buffer<T>(kCol, k_rows * cols);
        for (int64_t k = 0; k < b.nb; ++k)
          im2col(x + (b.n0 + k) * x_image, g, pr, c0, c1, b.p0, b.P, col + k * b.P, ldcol, inner);
        const T beta = c0 == 0 ? T(0) : T(1);
        if (transposed)  // y^T (cols x C_out) = col^T (cols x k_rows) . w[:, slice]^T (k_rows x C_out)
          gemm_cpu<T>(true, true, cols, g.C_out, k_rows, T(1), col, ldcol, w + c0 * plan.taps, ldw, beta, C, ldc);
        else  // y (C_out x cols) = w[:, slice] (C_out x k_rows) . col (k_rows x cols)
          gemm_cpu<T>(false, false, g.C_out, cols, k_rows, T(1), w + c0 * plan.taps, ldw, col, ldcol, beta, C, ldc);
      }
    }
    if (transposed) {
      transpose_out(C, g.C_out, b, P_all, bias, y, inner);
      return;
    }
    // Copy out (when grouped) and add the bias, while the block is still in cache.
    if (C == y + b.n0 * y_image + b.p0 && bias == nullptr) return;
#pragma omp parallel for if (inner && g.C_out * cols > kParallelGrain)
    for (int64_t co = 0; co < g.C_out; ++co) {
      const T bc = bias != nullptr ? bias[co] : T(0);
      for (int64_t k = 0; k < b.nb; ++k) {
        const T* src = C + co * ldc + k * b.P;
        T* dst = y + (b.n0 + k) * y_image + co * P_all + b.p0;
#pragma omp simd
        for (int64_t t = 0; t < b.P; ++t) dst[t] = src[t] + bc;
      }
    }
  });
}

// ---- backward input: col = w^T . gy, folded onto gx

template <class T>
void conv2d_backward_input_cpu(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  if (try_winograd_backward_input(gy, w, gx, g)) return;  // 3x3 stride 1, float (kernels/winograd.h)
  const ConvPlan plan = make_plan(g, Pass::backward_input);
  const int64_t P_all = plan.positions, rows = plan.rows, ldw = std::max<int64_t>(1, rows);
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all;
  if (plan.whole_window) {
    // gx (N x rows) = gy (N x C_out) . w (C_out x rows): col2im is the identity.
    gemm_cpu<T>(false, false, g.N, rows, g.C_out, T(1), gy, std::max<int64_t>(1, g.C_out), w, ldw, T(0), gx, ldw);
    return;
  }
  const PhaseRows pr = make_phase_rows(g);
  run_blocks(plan, g.N, [&](const Block& b, bool inner) {
    const int64_t cols = b.columns(), ldcol = std::max<int64_t>(1, cols);
    // The GEMM's right operand: gy_n itself for one image, else the group's columns gathered.
    const T* G = gy + b.n0 * y_image + b.p0;
    int64_t ldg = P_all;
    if (b.nb > 1) {
      T* gathered = thread_buffer<T>(kMatrix, g.C_out * cols);
      gather_block(gy, g.C_out, P_all, b, gathered, inner);
      G = gathered;
      ldg = cols;
    }
    ldg = std::max<int64_t>(1, ldg);
    T* gxn = gx + b.n0 * x_image;
    if (plan.pointwise && b.nb == 1) {
      // gx_n (C_in x HW) = w^T (C_in x C_out) . gy_n (C_out x HW): col2im is the identity.
      gemm_cpu<T>(true, false, rows, cols, g.C_out, T(1), w, ldw, G, ldg, T(0), gxn, ldcol);
      return;
    }
    // A whole image is written by col2im (=); chunks of one add up (+=) on a gx zeroed at the first.
    const bool whole = b.P == P_all;
    if (!whole && b.p0 == 0) fill_zero(gxn, x_image, inner);
    for (int64_t c0 = 0; c0 < g.C_in; c0 += plan.slice_channels) {
      const int64_t c1 = std::min(g.C_in, c0 + plan.slice_channels), m_rows = (c1 - c0) * plan.taps;
      // col_slice (m_rows x cols) = w[:, slice]^T (m_rows x C_out) . gy block (C_out x cols)
      T* col = thread_buffer<T>(kCol, m_rows * cols);
      gemm_cpu<T>(true, false, m_rows, cols, g.C_out, T(1), w + c0 * plan.taps, ldw, G, ldg, T(0), col, ldcol);
      for (int64_t k = 0; k < b.nb; ++k)
        col2im(col + k * b.P, ldcol, g, pr, c0, c1, b.p0, b.P, gxn + k * x_image, !whole, inner);
    }
  });
}

// ---- backward weight: gw += gy . col^T

template <class T>
void conv2d_backward_weight_cpu(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
  const ConvPlan plan = make_plan(g, Pass::backward_weight);
  const int64_t P_all = plan.positions, rows = plan.rows, ldw = std::max<int64_t>(1, rows);
  const int64_t x_image = g.C_in * g.H * g.W, y_image = g.C_out * P_all, w_size = g.C_out * rows;
  if (plan.whole_window) {
    // gw (C_out x rows) += gy^T (C_out x N) . x (N x rows)
    gemm_cpu<T>(true, false, g.C_out, rows, g.N, T(1), gy, std::max<int64_t>(1, g.C_out), x, ldw, T(1), gw, ldw);
    return;
  }
  if constexpr (std::is_same<T, float>::value) {
    if (phase_winograd_applicable(g, Pass::backward_weight)) {  // 4x4 stride 2 (see above)
      phase_winograd_weight_grad(x, gy, gw, g);
      return;
    }
  }
  const PhaseRows pr = make_phase_rows(g);
  // Which product (point 4 above): gw (C_out x rows) += gy block . col^T, or,
  // when C_out is the smaller side, gw^T (rows x C_out) += col . gy block^T,
  // summed in a scratch gw^T that is added to gw transposed once at the end.
  const bool transposed = !plan.pointwise && g.C_out <= plan.slice_rows();
  const int64_t ldt = std::max<int64_t>(1, g.C_out);
  auto add_block = [&](const Block& b, bool inner, T* acc) {
    const int64_t cols = b.columns(), ldcol = std::max<int64_t>(1, cols);
    const T* G = gy + b.n0 * y_image + b.p0;  // the block of gy (C_out x cols)
    int64_t ldg = P_all;
    if (b.nb > 1) {
      T* gathered = thread_buffer<T>(kMatrix, g.C_out * cols);
      gather_block(gy, g.C_out, P_all, b, gathered, inner);
      G = gathered;
      ldg = cols;
    }
    ldg = std::max<int64_t>(1, ldg);
    if (plan.pointwise && b.nb == 1) {  // col is x_n
      gemm_cpu<T>(false, true, g.C_out, rows, cols, T(1), G, ldg, x + b.n0 * x_image, ldcol, T(1), acc, ldw);
      return;
    }
    for (int64_t c0 = 0; c0 < g.C_in; c0 += plan.slice_channels) {
      const int64_t c1 = std::min(g.C_in, c0 + plan.slice_channels), n_rows = (c1 - c0) * plan.taps;
      T* col = thread_buffer<T>(kCol, n_rows * cols);
      for (int64_t k = 0; k < b.nb; ++k)
        im2col(x + (b.n0 + k) * x_image, g, pr, c0, c1, b.p0, b.P, col + k * b.P, ldcol, inner);
      if (transposed)  // gw^T[slice] (n_rows x C_out) += col (n_rows x cols) . gy block^T (cols x C_out)
        gemm_cpu<T>(false, true, n_rows, g.C_out, cols, T(1), col, ldcol, G, ldg, T(1),
                    acc + c0 * plan.taps * g.C_out, ldt);
      else  // gw[:, slice] (C_out x n_rows) += gy block (C_out x cols) . col^T (cols x n_rows)
        gemm_cpu<T>(false, true, g.C_out, n_rows, cols, T(1), G, ldg, col, ldcol, T(1), acc + c0 * plan.taps, ldw);
    }
  };
  // gw[co, r] += the sum over `count` accumulators of acc[r, co]: a
  // work-shared loop (call it inside a parallel region), tiles of 16 x 16.
  auto add_transposed = [&](T* const* accs, int count) {
    constexpr int64_t kTile = 16;
#pragma omp for schedule(static)
    for (int64_t co0 = 0; co0 < g.C_out; co0 += kTile) {
      const int64_t co1 = std::min(g.C_out, co0 + kTile);
      for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
        const int64_t r1 = std::min(rows, r0 + kTile);
        for (int64_t co = co0; co < co1; ++co)
          for (int64_t r = r0; r < r1; ++r) {
            T s = T(0);
            for (int k = 0; k < count; ++k) s += accs[k][r * g.C_out + co];
            gw[co * rows + r] += s;
          }
      }
    }
  };
  if (plan.team == 1) {
    if (!transposed) {
      for_each_block(plan, 0, g.N, [&](const Block& b) { add_block(b, true, gw); });
      return;
    }
    T* acc = thread_buffer<T>(kPartial, w_size);
    std::fill(acc, acc + w_size, T(0));
    for_each_block(plan, 0, g.N, [&](const Block& b) { add_block(b, true, acc); });
#pragma omp parallel if (w_size > kParallelGrain)
    add_transposed(&acc, 1);
    return;
  }
  // Each thread sums its images into its own accumulator (thread 0, in the
  // plain orientation, straight into gw); the accumulators are then added to
  // gw element by element, in a fixed order: deterministic.
  std::vector<T*> partial(static_cast<size_t>(plan.team), nullptr);
#pragma omp parallel num_threads(plan.team)
  {
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    T* acc = gw;
    if (t > 0 || transposed) {
      acc = thread_buffer<T>(kPartial, w_size);
      std::fill(acc, acc + w_size, T(0));
    }
    partial[t] = acc;
    for_each_block(plan, g.N * t / team, g.N * (t + 1) / team, [&](const Block& b) { add_block(b, false, acc); });
#pragma omp barrier
    if (transposed) {
      add_transposed(partial.data(), team);
    } else {
#pragma omp for schedule(static)
      for (int64_t e = 0; e < w_size; ++e) {
        T s = T(0);
        for (int k = 1; k < team; ++k) s += partial[k][e];
        gw[e] += s;
      }
    }
  }
}

// ---- reflection padding

namespace {
// Mirrors k into [0, n) without repeating the edge: -1 -> 1, n -> n - 2.
inline int64_t reflect(int64_t k, int64_t n) {
  if (k < 0) k = -k;
  if (k >= n) k = 2 * (n - 1) - k;
  return k;
}
}  // namespace

template <class T>
void reflection_pad2d_forward_cpu(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                  int64_t pad_w) {
  const int64_t OH = H + 2 * pad_h, OW = W + 2 * pad_w;
#pragma omp parallel for if (planes * OH * OW > kParallelGrain)
  for (int64_t r = 0; r < planes * OH; ++r) {
    const int64_t plane = r / OH, oi = r % OH;
    const T* src = x + (plane * H + reflect(oi - pad_h, H)) * W;
    T* dst = y + r * OW;
    for (int64_t oj = 0; oj < pad_w; ++oj) dst[oj] = src[pad_w - oj];
#pragma omp simd
    for (int64_t j = 0; j < W; ++j) dst[pad_w + j] = src[j];
    for (int64_t oj = pad_w + W; oj < OW; ++oj) dst[oj] = src[2 * (W - 1) - (oj - pad_w)];
  }
}

template <class T>
void reflection_pad2d_backward_cpu(const T* gy, T* gx, int64_t planes, int64_t H, int64_t W, int64_t pad_h,
                                   int64_t pad_w) {
  const int64_t OH = H + 2 * pad_h, OW = W + 2 * pad_w;
  // One plane per thread: a plane's pixels receive only from its own padded plane.
#pragma omp parallel for if (planes * OH * OW > kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* gp = gx + plane * H * W;
    std::fill(gp, gp + H * W, T(0));
    for (int64_t oi = 0; oi < OH; ++oi) {
      T* grow = gp + reflect(oi - pad_h, H) * W;
      const T* src = gy + (plane * OH + oi) * OW;
      for (int64_t oj = 0; oj < OW; ++oj) grow[reflect(oj - pad_w, W)] += src[oj];
    }
  }
}

#define GESSO_INSTANTIATE(T)                                                                              \
  template void conv2d_forward_cpu<T>(const T*, const T*, const T*, T*, const Conv2dGeometry&);           \
  template void conv2d_backward_input_cpu<T>(const T*, const T*, T*, const Conv2dGeometry&);              \
  template void conv2d_backward_weight_cpu<T>(const T*, const T*, T*, const Conv2dGeometry&);             \
  template void reflection_pad2d_forward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void reflection_pad2d_backward_cpu<T>(const T*, T*, int64_t, int64_t, int64_t, int64_t, int64_t);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE

}  // namespace gesso::kernels
