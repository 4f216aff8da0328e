/*
 * loss.cu: the CUDA twins of kernels/loss.h, float32 in and out, on the GPU
 * and, compiled as C++, on the SIMT runtime. Inputs contiguous; the scalar
 * losses write out[0].
 *
 * Versions:
 *   sum_terms_kernel1        the scalar losses' first pass: a per-element
 *                            term (a functor: MseTerm, L1Term, BceTerm,
 *                            TvTerm) summed in double, grid-stride, then a
 *                            block reduction (warp shuffles + shared memory,
 *                            kernels/cuda/block_reduce.h); each block writes
 *                            its sum
 *   finish_mean_kernel1      the second pass: one block adds the blocks'
 *                            sums in a fixed order and writes sum / divisor.
 *                            Two launches instead of atomics: the same result
 *                            on every run
 *   log_softmax_rows_kernel1 inner < 32: a block per (o, i) row along n: the
 *                            max, then the sum of exp(x - max), each a block
 *                            reduction, then y = x - max - log(sum)
 *   log_softmax_columns_kernel1
 *                            inner >= 32: a thread per (o, i), looping over
 *                            n three times; consecutive threads read
 *                            consecutive i (coalesced)
 * Terms are computed in double, as the CPU twin does (log_softmax takes its
 * exponentials in float, summed in double).
 *
 * Checked against the CPU twins by `ctest -L simt` (tests/parity_elementwise.h).
 */
#include <math.h>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/loss.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// ---- per-element terms of the scalar losses (the CPU twin's expressions)
struct MseTerm {
  const float* pred;
  const float* target;
  __device__ double operator()(int64_t i) const {
    const double d = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    return d * d;
  }
};
struct L1Term {
  const float* pred;
  const float* target;
  __device__ double operator()(int64_t i) const {
    return fabs(static_cast<double>(pred[i]) - static_cast<double>(target[i]));
  }
};
struct BceTerm {
  const float* x;
  const float* t;
  // max(x, 0) - x t + log1p(e^-|x|), in double: at x = +-100 the parts cancel
  // to O(1) and the log1p term must not be lost beside them.
  __device__ double operator()(int64_t i) const {
    const double v = x[i], ti = t[i];
    return (v < 0.0 ? 0.0 : v) - v * ti + log1p(exp(-fabs(v)));
  }
};
// Element e = (plane, h, w) contributes its right and lower neighbour pairs,
// each divided by its term's pair count, so one sum gives the loss.
struct TvTerm {
  const float* x;
  int64_t H, W;
  double inv_pairs_h, inv_pairs_v;
  __device__ double operator()(int64_t e) const {
    const int64_t w = e % W, h = (e / W) % H;
    double term = 0.0;
    if (w + 1 < W) {
      const double d = static_cast<double>(x[e + 1]) - static_cast<double>(x[e]);
      term += d * d * inv_pairs_h;
    }
    if (h + 1 < H) {
      const double d = static_cast<double>(x[e + W]) - static_cast<double>(x[e]);
      term += d * d * inv_pairs_v;
    }
    return term;
  }
};

// Thread t of block b sums term(i) over i = b * blockDim.x + t, then on by
// the grid's size; the block's threads combine and thread 0 writes block_sums[b].
template <class Term>
__global__ void sum_terms_kernel1(Term term, int64_t n, double* block_sums) {
  double acc = 0.0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) acc += term(i);
  acc = block_reduce(SumDoubleOp{}, acc);
  if (threadIdx.x == 0) block_sums[blockIdx.x] = acc;
}

// One block: thread t sums block_sums[t], [t + blockDim.x], ...; the block
// combines them and thread 0 writes out[0] = total / divisor.
__global__ void finish_mean_kernel1(const double* block_sums, int blocks, double divisor, float* out) {
  double acc = 0.0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) acc += block_sums[b];
  acc = block_reduce(SumDoubleOp{}, acc);
  if (threadIdx.x == 0) out[0] = static_cast<float>(acc / divisor);
}

template <class Term>
void mean_of_terms(Term term, int64_t n, double divisor, float* out, cudaStream_t stream, const char* who) {
  const int threads = warp_multiple_threads(256, who);
  // At most 1024 blocks, so that one block finishes their sums in one sweep.
  const unsigned blocks = grid_blocks(n, threads, 1024);
  DeviceScratch block_sums(blocks * sizeof(double));
  GESSO_LAUNCH(sum_terms_kernel1<Term>, blocks, threads, 0, stream, term, n, block_sums.as<double>());
  GESSO_LAUNCH(finish_mean_kernel1, 1, threads, 0, stream, block_sums.as<double>(), static_cast<int>(blocks),
               divisor, out);
}

// ---- log_softmax

struct MaxFloatOp {  // the CPU's std::max: a NaN element is skipped (it makes the sum NaN later)
  using Acc = float;
  __device__ Acc identity() const { return -INFINITY; }
  __device__ Acc combine(Acc a, Acc b) const { return a < b ? b : a; }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
};

// Block per row r = o * inner + i; thread t takes k = t, t + blockDim.x, ...
__global__ void log_softmax_rows_kernel1(const float* x, float* y, int64_t n, int64_t inner) {
  const int64_t r = blockIdx.x, o = r / inner, i = r % inner;
  const float* xr = x + o * n * inner + i;
  float* yr = y + o * n * inner + i;
  float top = -INFINITY;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) top = MaxFloatOp{}.combine(top, xr[k * inner]);
  top = block_reduce(MaxFloatOp{}, top);
  double sum = 0.0;
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) sum += expf(xr[k * inner] - top);
  sum = block_reduce(SumDoubleOp{}, sum);
  const double log_norm = static_cast<double>(top) + log(sum);
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x)
    yr[k * inner] = static_cast<float>(static_cast<double>(xr[k * inner]) - log_norm);
}

// Thread per row r = o * inner + i (grid-stride); three passes over its n elements at stride inner.
__global__ void log_softmax_columns_kernel1(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t rows = outer * inner, step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += step) {
    const int64_t o = r / inner, i = r % inner;
    const float* xr = x + o * n * inner + i;
    float* yr = y + o * n * inner + i;
    float top = -INFINITY;
    for (int64_t k = 0; k < n; ++k) top = MaxFloatOp{}.combine(top, xr[k * inner]);
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) sum += expf(xr[k * inner] - top);
    const double log_norm = static_cast<double>(top) + log(sum);
    for (int64_t k = 0; k < n; ++k) yr[k * inner] = static_cast<float>(static_cast<double>(xr[k * inner]) - log_norm);
  }
}

void check_scalar_loss(const void* a, const void* b, const float* out, int64_t n, const char* who) {
  GESSO_CHECK(n > 0, who, ": n must be > 0, got ", n);
  GESSO_CHECK(a != nullptr && b != nullptr && out != nullptr, who, ": pointers must be non-null");
}

}  // namespace

void mse_loss_forward_cuda(const float* pred, const float* target, float* out, int64_t n, cudaStream_t stream) {
  check_scalar_loss(pred, target, out, n, "mse_loss_forward_cuda");
  mean_of_terms(MseTerm{pred, target}, n, static_cast<double>(n), out, stream, "mse_loss_forward_cuda");
}

void l1_loss_forward_cuda(const float* pred, const float* target, float* out, int64_t n, cudaStream_t stream) {
  check_scalar_loss(pred, target, out, n, "l1_loss_forward_cuda");
  mean_of_terms(L1Term{pred, target}, n, static_cast<double>(n), out, stream, "l1_loss_forward_cuda");
}

void bce_with_logits_forward_cuda(const float* x, const float* t, float* out, int64_t n, cudaStream_t stream) {
  check_scalar_loss(x, t, out, n, "bce_with_logits_forward_cuda");
  mean_of_terms(BceTerm{x, t}, n, static_cast<double>(n), out, stream, "bce_with_logits_forward_cuda");
}

void total_variation_forward_cuda(const float* x, float* out, int64_t planes, int64_t H, int64_t W,
                                  cudaStream_t stream) {
  GESSO_CHECK(planes > 0 && H > 0 && W > 0, "total_variation_forward_cuda: planes, H and W must be > 0, got ",
              planes, ", ", H, ", ", W);
  check_scalar_loss(x, x, out, planes * H * W, "total_variation_forward_cuda");
  // A term with no neighbour pairs is 0 (its inverse count never multiplies anything).
  const double pairs_h = static_cast<double>(planes * H * (W - 1)), pairs_v = static_cast<double>(planes * (H - 1) * W);
  TvTerm term{x, H, W, pairs_h > 0 ? 1.0 / pairs_h : 0.0, pairs_v > 0 ? 1.0 / pairs_v : 0.0};
  mean_of_terms(term, planes * H * W, 1.0, out, stream, "total_variation_forward_cuda");
}

void log_softmax_forward_cuda(const float* x, float* y, int64_t outer, int64_t n, int64_t inner,
                              cudaStream_t stream) {
  GESSO_CHECK(outer >= 0 && n > 0 && inner >= 0, "log_softmax_forward_cuda: need outer, inner >= 0 and n > 0, got ",
              outer, ", ", n, ", ", inner);
  const int64_t rows = outer * inner;
  if (rows == 0) return;
  GESSO_CHECK(x != nullptr && y != nullptr, "log_softmax_forward_cuda: x and y must be non-null");
  const int threads = warp_multiple_threads(256, "log_softmax_forward_cuda");
  if (inner >= 32) {
    GESSO_LAUNCH(log_softmax_columns_kernel1, grid_blocks(rows, threads), threads, 0, stream, x, y, outer, n, inner);
  } else {
    GESSO_CHECK(rows <= 2147483647LL, "log_softmax_forward_cuda: ", rows, " rows exceed the grid's x limit");
    GESSO_LAUNCH(log_softmax_rows_kernel1, static_cast<unsigned>(rows), threads, 0, stream, x, y, n, inner);
  }
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
