/*
 * reduce.cu: the CUDA twin of kernels/reduce.h (sum, max, argmax, var over
 * the middle axis of a contiguous (outer, n, inner) array, out is
 * (outer, inner)), float32 in and out, on the GPU and, compiled as C++, on
 * the SIMT runtime.
 *
 * How the work is split (bench/ladders/reduce/ shows the steps that lead here):
 *   inner < 32  "rows": a block per output (o, i) walks its n elements,
 *               which sit at stride `inner` (contiguous when inner == 1, the
 *               common whole-tensor and last-axis case). Each thread
 *               accumulates many elements in registers (k = t, t + blockDim,
 *               ...: consecutive threads read consecutive addresses), then
 *               the block combines its threads' values: warp shuffles within
 *               each warp, one shared-memory slot per warp, shuffles again in
 *               warp 0 (kernels/cuda/block_reduce.h).
 *   inner >= 32 "columns": a 2-d block of 32 x (threads/32) covers 32
 *               adjacent outputs i of one o; thread (tx, ty) accumulates
 *               column i = i0 + tx over k = ty, ty + blockDim.y, ... A warp
 *               then reads 32 consecutive floats of one row k (coalesced, no
 *               shuffles needed); the blockDim.y partials of each column meet
 *               in shared memory.
 *   Few outputs, long n (e.g. a whole-tensor sum): one block per output
 *               would leave most of the GPU idle, so n is also cut into
 *               chunks on gridDim.y (enough blocks for a few waves); each
 *               block then writes a partial accumulator, and a second kernel
 *               combines an output's partials in chunk order. Two launches
 *               instead of atomics: the result is the same on every run.
 * Accumulators: double for sum and var (as the CPU twin), float for max,
 * (value, index) for argmax. var is two sums, like the CPU's two passes:
 * the mean, then the sum of squared deviations from it.
 *
 * Versions: reduce_rows_kernel4, reduce_columns_kernel4 and
 * reduce_finish_kernel4 carry the number of the ladder rung they implement
 * (bench/ladders/reduce/reduce_v4.cu: many elements per thread, grid split
 * over the axis, warp shuffles + shared memory, second pass for partials).
 *
 * Checked against the CPU twin by `ctest -L simt` (tests/parity_elementwise.h).
 */
#include <math.h>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/elementwise.h"
#include "kernels/reduce.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// ---- what each reduction accumulates (the Op of block_reduce.h, plus
// load: an element into an accumulator, and finish: an accumulator into the
// output value).

// out = sum_k x
struct SumOp {
  using Acc = double;
  using Out = float;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc load(float x, int64_t, int64_t) const { return x; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
  __device__ Out finish(Acc a, int64_t) const { return static_cast<float>(a); }
};

// mean[out] = sum_k x / n, kept in double for var's second pass.
struct MeanOp {
  using Acc = double;
  using Out = double;
  double n;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc load(float x, int64_t, int64_t) const { return x; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
  __device__ Out finish(Acc a, int64_t) const { return a / n; }
};

// out = sum_k (x - mean[out])^2 / (n - ddof); NaN when n - ddof <= 0.
struct CentredSquaresOp {
  using Acc = double;
  using Out = float;
  const double* mean;
  double denom;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc load(float x, int64_t, int64_t out_index) const {
    const double d = static_cast<double>(x) - mean[out_index];
    return d * d;
  }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
  __device__ Out finish(Acc a, int64_t) const { return denom > 0 ? static_cast<float>(a / denom) : nanf(""); }
};

// out = max_k x; a NaN anywhere wins (as in the CPU twin).
struct MaxOp {
  using Acc = float;
  using Out = float;
  __device__ Acc identity() const { return -INFINITY; }
  __device__ Acc load(float x, int64_t, int64_t) const { return x; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a != a) return a;
    if (b != b) return b;
    return a < b ? b : a;
  }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
  __device__ Out finish(Acc a, int64_t) const { return a; }
};

// out = the first k holding the largest value above -inf, or 0 when there
// is none: the CPU twin's `if (x > best)` scan, made order-free by breaking
// ties towards the smaller k. NaN is loaded as -inf (it never wins there).
struct ArgmaxAcc {
  float value;
  long long index;
};
struct ArgmaxOp {
  using Acc = ArgmaxAcc;
  using Out = float;
  __device__ Acc identity() const { return ArgmaxAcc{-INFINITY, 0}; }
  __device__ Acc load(float x, int64_t k, int64_t) const {
    return ArgmaxAcc{x > -INFINITY ? x : -INFINITY, static_cast<long long>(k)};
  }
  __device__ Acc combine(Acc a, Acc b) const {
    return (b.value > a.value || (b.value == a.value && b.index < a.index)) ? b : a;
  }
  __device__ Acc shfl_down(Acc a, int delta) const {
    ArgmaxAcc r;
    r.value = __shfl_down_sync(kFullWarpMask, a.value, delta);
    r.index = __shfl_down_sync(kFullWarpMask, a.index, delta);
    return r;
  }
  __device__ Out finish(Acc a, int64_t) const { return static_cast<float>(a.index); }
};

// Block (out, chunk) reduces the elements k in [chunk * chunk_len, ...) of
// output out = o * inner + i, read at stride inner; thread t takes k0 + t,
// k0 + t + blockDim.x, ... With one chunk the block writes the output, else
// its partial accumulator at partial[out * gridDim.y + chunk].
template <class Op>
__global__ void reduce_rows_kernel4(Op op, const float* x, typename Op::Out* out, typename Op::Acc* partial,
                                    int64_t n, int64_t inner, int64_t chunk_len) {
  using Acc = typename Op::Acc;
  const int64_t out_index = blockIdx.x;
  const int64_t o = out_index / inner, i = out_index % inner;
  const float* column = x + o * n * inner + i;
  const int64_t k0 = static_cast<int64_t>(blockIdx.y) * chunk_len;
  const int64_t k1 = k0 + chunk_len < n ? k0 + chunk_len : n;
  Acc acc = op.identity();
  for (int64_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) acc = op.combine(acc, op.load(column[k * inner], k, out_index));
  acc = block_reduce(op, acc);
  if (threadIdx.x == 0) {
    if (gridDim.y == 1) out[out_index] = op.finish(acc, out_index);
    else partial[out_index * gridDim.y + blockIdx.y] = acc;
  }
}

// Block (tile, chunk), 32 x blockDim.y threads: tile = o * tiles_per_row + j
// covers outputs i = 32 j + tx of row o; thread (tx, ty) accumulates column
// i over k = k0 + ty, k0 + ty + blockDim.y, ... of the chunk.
template <class Op>
__global__ void reduce_columns_kernel4(Op op, const float* x, typename Op::Out* out, typename Op::Acc* partial,
                                       int64_t n, int64_t inner, int64_t chunk_len, int64_t tiles_per_row) {
  using Acc = typename Op::Acc;
  // column_partials[ty][tx]: thread (tx, ty)'s accumulator, so that row 0
  // can combine each column's blockDim.y (<= 32) partials.
  __shared__ Acc column_partials[32][32];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t o = blockIdx.x / tiles_per_row, i = (blockIdx.x % tiles_per_row) * 32 + tx;
  const int64_t out_index = o * inner + i;
  const int64_t k0 = static_cast<int64_t>(blockIdx.y) * chunk_len;
  const int64_t k1 = k0 + chunk_len < n ? k0 + chunk_len : n;
  Acc acc = op.identity();
  if (i < inner) {
    const float* column = x + o * n * inner + i;
    for (int64_t k = k0 + ty; k < k1; k += blockDim.y) acc = op.combine(acc, op.load(column[k * inner], k, out_index));
  }
  column_partials[ty][tx] = acc;
  // Barrier: row 0 reads the partials the other rows of threads just wrote.
  __syncthreads();
  if (ty == 0 && i < inner) {
    for (int r = 1; r < static_cast<int>(blockDim.y); ++r) acc = op.combine(acc, column_partials[r][tx]);
    if (gridDim.y == 1) out[out_index] = op.finish(acc, out_index);
    else partial[out_index * gridDim.y + blockIdx.y] = acc;
  }
}

// One thread per output: combines its `chunks` partials in chunk order.
template <class Op>
__global__ void reduce_finish_kernel4(Op op, const typename Op::Acc* partial, typename Op::Out* out,
                                      int64_t outputs, int chunks) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < outputs; j += step) {
    typename Op::Acc acc = partial[j * chunks];
    for (int c = 1; c < chunks; ++c) acc = op.combine(acc, partial[j * chunks + c]);
    out[j] = op.finish(acc, j);
  }
}

// Blocks worth having in flight before splitting n pays: a few waves of a
// large GPU (an H100 holds 132 SMs x 8 blocks of 256 threads).
constexpr int64_t kTargetBlocks = 1024;
// At most this many chunks per output (gridDim.y allows 65535; the finish
// kernel loops over them serially).
constexpr int64_t kMaxChunks = 1024;
// Each thread should accumulate at least this many elements of a chunk.
constexpr int64_t kMinPerThread = 8;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

template <class Op>
void run_reduce(const Op& op, const float* x, typename Op::Out* out, int64_t outer, int64_t n, int64_t inner,
                cudaStream_t stream) {
  using Acc = typename Op::Acc;
  const int threads = warp_multiple_threads(256, "reduce_cuda");
  const int64_t outputs = outer * inner;
  const bool columns = inner >= 32;
  const int threads_along_n = columns ? threads / 32 : threads;
  const int64_t tiles_per_row = ceil_div(inner, 32);
  const int64_t base_blocks = columns ? outer * tiles_per_row : outputs;
  GESSO_CHECK(base_blocks <= 2147483647LL, "reduce_cuda: ", base_blocks, " blocks exceed the grid's x limit");
  int64_t chunks = 1;
  if (base_blocks < kTargetBlocks) {
    chunks = ceil_div(kTargetBlocks, base_blocks);
    const int64_t by_length = n / (kMinPerThread * threads_along_n);
    if (chunks > by_length) chunks = by_length;
    if (chunks > kMaxChunks) chunks = kMaxChunks;
    if (chunks < 1) chunks = 1;
  }
  const int64_t chunk_len = ceil_div(n, chunks);
  chunks = ceil_div(n, chunk_len);
  DeviceScratch partials(chunks > 1 ? static_cast<size_t>(outputs * chunks) * sizeof(Acc) : 0);
  const dim3 grid(static_cast<unsigned>(base_blocks), static_cast<unsigned>(chunks));
  if (columns) {
    const dim3 block(32, threads / 32);
    GESSO_LAUNCH(reduce_columns_kernel4<Op>, grid, block, 0, stream, op, x, out, partials.as<Acc>(), n, inner,
                 chunk_len, tiles_per_row);
  } else {
    GESSO_LAUNCH(reduce_rows_kernel4<Op>, grid, threads, 0, stream, op, x, out, partials.as<Acc>(), n, inner,
                 chunk_len);
  }
  if (chunks > 1)
    GESSO_LAUNCH(reduce_finish_kernel4<Op>, grid_blocks(outputs, threads), threads, 0, stream, op,
                 partials.as<Acc>(), out, outputs, static_cast<int>(chunks));
}

}  // namespace

void reduce_cuda(ReduceOp op, const float* x, float* out, int64_t outer, int64_t n, int64_t inner, int ddof,
                 cudaStream_t stream) {
  GESSO_CHECK(outer >= 0 && n >= 0 && inner >= 0, "reduce_cuda: sizes must be >= 0, got outer=", outer, " n=", n,
              " inner=", inner);
  const int64_t outputs = outer * inner;
  if (outputs == 0) return;
  GESSO_CHECK(out != nullptr, "reduce_cuda: out must be non-null");
  if (n == 0) {
    GESSO_CHECK(op == ReduceOp::sum, "reduce_cuda: only sum is defined over an empty axis");
    fill_cuda(out, outputs, 0.0, stream);
    return;
  }
  GESSO_CHECK(x != nullptr, "reduce_cuda: x must be non-null");
  switch (op) {
    case ReduceOp::sum: run_reduce(SumOp{}, x, out, outer, n, inner, stream); break;
    case ReduceOp::max: run_reduce(MaxOp{}, x, out, outer, n, inner, stream); break;
    case ReduceOp::argmax: run_reduce(ArgmaxOp{}, x, out, outer, n, inner, stream); break;
    case ReduceOp::var: {
      DeviceScratch mean(static_cast<size_t>(outputs) * sizeof(double));
      run_reduce(MeanOp{static_cast<double>(n)}, x, mean.as<double>(), outer, n, inner, stream);
      run_reduce(CentredSquaresOp{mean.as<double>(), static_cast<double>(n - ddof)}, x, out, outer, n, inner,
                 stream);
      break;
    }
  }
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
