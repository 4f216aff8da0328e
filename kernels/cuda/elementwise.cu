/*
 * elementwise.cu: the CUDA twins of kernels/elementwise.h, float32, on the
 * GPU and, compiled as C++, on the SIMT runtime. Layouts as in the header:
 * outputs contiguous; binary inputs read through a BinaryLayout (stride 0 =
 * broadcast), strided copies through a StridedLayout.
 *
 * Versions (all kernel1: elementwise kernels are bandwidth-bound and have
 * no ladder; one thread per element is what the GPU wants):
 *   binary_flat_kernel1     a 1-d layout (after coalescing: same-shape or
 *                           scalar-broadcast operands), no index arithmetic
 *   binary_strided_kernel1  any layout: the output index is decomposed over
 *                           the dims to find each operand's offset
 *   unary_kernel1, where_kernel1, fill_kernel1, strided_copy_kernel1
 *   copy_rows_kernel1       2-d grid, rows on y, columns on x
 * Each op is a small functor, so the switch on the op runs once per launch
 * on the host and the kernel body is the op itself. Math is the float
 * functions CUDA offers (expf, log1pf, ...): within an ulp or two of glibc's,
 * which the CPU twin uses.
 *
 * Checked against the CPU twins by `ctest -L simt` (tests/parity_elementwise.h).
 */
#include <math.h>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/elementwise.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

constexpr int kPreferredThreads = 256;

int elementwise_threads(const char* who) {
  const int threads = block_threads(kPreferredThreads);
  GESSO_CHECK(threads >= 1 && threads <= 1024, who, ": block size must be in [1, 1024], got ", threads);
  return threads;
}

// ---- binary ops: the same expressions as kernels/cpu/elementwise.cpp.
struct AddF { __device__ float operator()(float a, float b) const { return a + b; } };
struct SubF { __device__ float operator()(float a, float b) const { return a - b; } };
struct MulF { __device__ float operator()(float a, float b) const { return a * b; } };
struct DivF { __device__ float operator()(float a, float b) const { return a / b; } };
struct PowF { __device__ float operator()(float a, float b) const { return powf(a, b); } };
struct EqF { __device__ float operator()(float a, float b) const { return a == b ? 1.0f : 0.0f; } };
struct NeF { __device__ float operator()(float a, float b) const { return a != b ? 1.0f : 0.0f; } };
struct LtF { __device__ float operator()(float a, float b) const { return a < b ? 1.0f : 0.0f; } };
struct LeF { __device__ float operator()(float a, float b) const { return a <= b ? 1.0f : 0.0f; } };
struct GtF { __device__ float operator()(float a, float b) const { return a > b ? 1.0f : 0.0f; } };
struct GeF { __device__ float operator()(float a, float b) const { return a >= b ? 1.0f : 0.0f; } };

// ---- unary ops. NaN goes where the CPU twin sends it: relu(NaN) = 0 (the
// comparison is false), clamp and softplus keep NaN.
struct IdentityF { __device__ float operator()(float v) const { return v; } };
struct NegF { __device__ float operator()(float v) const { return -v; } };
struct ExpF { __device__ float operator()(float v) const { return expf(v); } };
struct LogF { __device__ float operator()(float v) const { return logf(v); } };
struct SqrtF { __device__ float operator()(float v) const { return sqrtf(v); } };
struct AbsF { __device__ float operator()(float v) const { return fabsf(v); } };
struct ReluF { __device__ float operator()(float v) const { return v > 0.0f ? v : 0.0f; } };
struct TanhF { __device__ float operator()(float v) const { return tanhf(v); } };
struct SigmoidF {
  // Two branches so that exp never overflows: for v < 0, e^v / (1 + e^v).
  __device__ float operator()(float v) const {
    const float e = expf(-fabsf(v));
    return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
};
struct SoftplusF {
  // log(1 + e^v) = max(v, 0) + log1p(e^-|v|); max written as the CPU's std::max.
  __device__ float operator()(float v) const { return (v < 0.0f ? 0.0f : v) + log1pf(expf(-fabsf(v))); }
};
struct LeakyReluF {
  float slope;
  __device__ float operator()(float v) const { return v > 0.0f ? v : slope * v; }
};
struct ClampF {
  float lo, hi;
  // std::min(std::max(v, lo), hi), spelled out so that NaN stays NaN.
  __device__ float operator()(float v) const {
    const float t = v < lo ? lo : v;
    return hi < t ? hi : t;
  }
};
struct PowScalarF {
  float exponent;
  __device__ float operator()(float v) const { return powf(v, exponent); }
};
struct AffineF {
  float scale, shift;
  __device__ float operator()(float v) const { return scale * v + shift; }
};
struct StepF {
  float threshold;
  __device__ float operator()(float v) const { return v > threshold ? 1.0f : 0.0f; }
};

// One thread per output element (grid-stride); a and b are read at stride
// sa and sb (each 0 or 1: a 1-d layout after coalescing).
template <class F>
__global__ void binary_flat_kernel1(F f, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
                                    int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = f(a[i * sa], b[i * sb]);
}

// One thread per output element (grid-stride); the flat index is decomposed
// over the layout's dims, innermost first, into an offset for each operand.
template <class F>
__global__ void binary_strided_kernel1(F f, const float* a, const float* b, float* out, BinaryLayout L,
                                       int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = L.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % L.size[d];
      rem /= L.size[d];
      oa += idx * L.stride_a[d];
      ob += idx * L.stride_b[d];
    }
    out[i] = f(a[oa], b[ob]);
  }
}

// One thread per element (grid-stride).
template <class F>
__global__ void unary_kernel1(F f, const float* x, float* y, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) y[i] = f(x[i]);
}

// One thread per element (grid-stride).
__global__ void where_kernel1(const float* cond, const float* a, const float* b, float* out, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = cond[i] != 0.0f ? a[i] : b[i];
}

// One thread per element (grid-stride).
__global__ void fill_kernel1(float* out, int64_t n, float value) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) out[i] = value;
}

// One thread per destination element (grid-stride): the flat index is
// decomposed over the layout's dims into the source offset.
__global__ void strided_copy_kernel1(const float* src, StridedLayout L, float* dst, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t rem = i, off = 0;
    for (int d = L.ndim - 1; d >= 0; --d) {
      off += (rem % L.size[d]) * L.stride[d];
      rem /= L.size[d];
    }
    dst[i] = src[off];
  }
}

// Block (x, y) copies columns blockIdx.x * blockDim.x + threadIdx.x (and on,
// grid-stride) of rows blockIdx.y, blockIdx.y + gridDim.y, ...: no division
// per element, and consecutive threads touch consecutive columns.
__global__ void copy_rows_kernel1(const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
                                  int64_t rows, int64_t cols) {
  const int64_t col_step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const float* s = src + r * src_stride;
    float* d = dst + r * dst_stride;
    for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += col_step)
      d[c] = s[c];
  }
}

int64_t layout_numel(int ndim, const int64_t* size) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= size[d];
  return n;
}

template <class F>
void launch_binary(F f, const float* a, const float* b, float* out, const BinaryLayout& L, cudaStream_t stream) {
  const int64_t n = layout_numel(L.ndim, L.size);
  if (n == 0) return;
  const int threads = elementwise_threads("binary_forward_cuda");
  const unsigned blocks = grid_blocks(n, threads);
  const bool flat = L.ndim == 0 || (L.ndim == 1 && (L.stride_a[0] == 0 || L.stride_a[0] == 1) &&
                                    (L.stride_b[0] == 0 || L.stride_b[0] == 1));
  if (flat) {
    const int64_t sa = L.ndim == 0 ? 0 : L.stride_a[0], sb = L.ndim == 0 ? 0 : L.stride_b[0];
    GESSO_LAUNCH(binary_flat_kernel1<F>, blocks, threads, 0, stream, f, a, sa, b, sb, out, n);
  } else {
    GESSO_LAUNCH(binary_strided_kernel1<F>, blocks, threads, 0, stream, f, a, b, out, L, n);
  }
}

template <class F>
void launch_unary(F f, const float* x, float* y, int64_t n, cudaStream_t stream) {
  const int threads = elementwise_threads("unary_forward_cuda");
  GESSO_LAUNCH(unary_kernel1<F>, grid_blocks(n, threads), threads, 0, stream, f, x, y, n);
}

}  // namespace

void binary_forward_cuda(BinaryOp op, const float* a, const float* b, float* out, const BinaryLayout& L,
                         cudaStream_t stream) {
  GESSO_CHECK(L.ndim >= 0 && L.ndim <= kMaxDims, "binary_forward_cuda: layout has ", L.ndim, " dims, at most ",
              kMaxDims, " supported");
  if (layout_numel(L.ndim, L.size) == 0) return;
  GESSO_CHECK(a != nullptr && b != nullptr && out != nullptr, "binary_forward_cuda: a, b and out must be non-null");
  switch (op) {
    case BinaryOp::add: launch_binary(AddF{}, a, b, out, L, stream); break;
    case BinaryOp::sub: launch_binary(SubF{}, a, b, out, L, stream); break;
    case BinaryOp::mul: launch_binary(MulF{}, a, b, out, L, stream); break;
    case BinaryOp::div: launch_binary(DivF{}, a, b, out, L, stream); break;
    case BinaryOp::pow: launch_binary(PowF{}, a, b, out, L, stream); break;
    case BinaryOp::eq: launch_binary(EqF{}, a, b, out, L, stream); break;
    case BinaryOp::ne: launch_binary(NeF{}, a, b, out, L, stream); break;
    case BinaryOp::lt: launch_binary(LtF{}, a, b, out, L, stream); break;
    case BinaryOp::le: launch_binary(LeF{}, a, b, out, L, stream); break;
    case BinaryOp::gt: launch_binary(GtF{}, a, b, out, L, stream); break;
    case BinaryOp::ge: launch_binary(GeF{}, a, b, out, L, stream); break;
  }
}

void unary_forward_cuda(UnaryOp op, const float* x, float* y, int64_t n, double alpha, double beta,
                        cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "unary_forward_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(x != nullptr && y != nullptr, "unary_forward_cuda: x and y must be non-null");
  // The CPU twin converts alpha and beta to T before use; so does this one.
  const float a = static_cast<float>(alpha), b = static_cast<float>(beta);
  switch (op) {
    case UnaryOp::neg: launch_unary(NegF{}, x, y, n, stream); break;
    case UnaryOp::exp: launch_unary(ExpF{}, x, y, n, stream); break;
    case UnaryOp::log: launch_unary(LogF{}, x, y, n, stream); break;
    case UnaryOp::sqrt: launch_unary(SqrtF{}, x, y, n, stream); break;
    case UnaryOp::abs: launch_unary(AbsF{}, x, y, n, stream); break;
    case UnaryOp::relu: launch_unary(ReluF{}, x, y, n, stream); break;
    case UnaryOp::tanh: launch_unary(TanhF{}, x, y, n, stream); break;
    case UnaryOp::sigmoid: launch_unary(SigmoidF{}, x, y, n, stream); break;
    case UnaryOp::softplus: launch_unary(SoftplusF{}, x, y, n, stream); break;
    case UnaryOp::leaky_relu: launch_unary(LeakyReluF{a}, x, y, n, stream); break;
    case UnaryOp::clamp: launch_unary(ClampF{a, b}, x, y, n, stream); break;
    case UnaryOp::pow_scalar: launch_unary(PowScalarF{a}, x, y, n, stream); break;
    case UnaryOp::affine: launch_unary(AffineF{a, b}, x, y, n, stream); break;
    case UnaryOp::step: launch_unary(StepF{a}, x, y, n, stream); break;
  }
}

void where_forward_cuda(const float* cond, const float* a, const float* b, float* out, int64_t n,
                        cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "where_forward_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(cond != nullptr && a != nullptr && b != nullptr && out != nullptr,
              "where_forward_cuda: cond, a, b and out must be non-null");
  const int threads = elementwise_threads("where_forward_cuda");
  GESSO_LAUNCH(where_kernel1, grid_blocks(n, threads), threads, 0, stream, cond, a, b, out, n);
}

void strided_copy_cuda(const float* src, const StridedLayout& L, float* dst, cudaStream_t stream) {
  GESSO_CHECK(L.ndim >= 0 && L.ndim <= kMaxDims, "strided_copy_cuda: layout has ", L.ndim, " dims, at most ",
              kMaxDims, " supported");
  const int64_t n = layout_numel(L.ndim, L.size);
  if (n == 0) return;
  GESSO_CHECK(src != nullptr && dst != nullptr, "strided_copy_cuda: src and dst must be non-null");
  const int threads = elementwise_threads("strided_copy_cuda");
  const unsigned blocks = grid_blocks(n, threads);
  if (L.ndim == 0 || (L.ndim == 1 && L.stride[0] == 1)) {
    // Already contiguous: a plain copy, without per-element index arithmetic.
    GESSO_LAUNCH(unary_kernel1<IdentityF>, blocks, threads, 0, stream, IdentityF{}, src, dst, n);
  } else {
    GESSO_LAUNCH(strided_copy_kernel1, blocks, threads, 0, stream, src, L, dst, n);
  }
}

void fill_cuda(float* out, int64_t n, double value, cudaStream_t stream) {
  GESSO_CHECK(n >= 0, "fill_cuda: n must be >= 0, got ", n);
  if (n == 0) return;
  GESSO_CHECK(out != nullptr, "fill_cuda: out must be non-null");
  const int threads = elementwise_threads("fill_cuda");
  GESSO_LAUNCH(fill_kernel1, grid_blocks(n, threads), threads, 0, stream, out, n, static_cast<float>(value));
}

void copy_rows_cuda(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows,
                    int64_t cols, cudaStream_t stream) {
  GESSO_CHECK(rows >= 0 && cols >= 0, "copy_rows_cuda: rows and cols must be >= 0, got ", rows, " and ", cols);
  if (rows == 0 || cols == 0) return;
  GESSO_CHECK(src != nullptr && dst != nullptr, "copy_rows_cuda: src and dst must be non-null");
  const int threads = elementwise_threads("copy_rows_cuda");
  // x covers a row's columns (capped: a long row loops), y the rows (capped
  // at 65535, the limit of gridDim.y; more rows loop).
  const dim3 grid(grid_blocks(cols, threads, 1024), static_cast<unsigned>(rows < 65535 ? rows : 65535));
  GESSO_LAUNCH(copy_rows_kernel1, grid, threads, 0, stream, src, src_stride, dst, dst_stride, rows, cols);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
