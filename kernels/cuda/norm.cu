/*
 * norm.cu: batch norm (training, eval, running statistics, fused backward),
 * instance norm and layer norm, on the GPU and, compiled as C++, on the SIMT
 * runtime. CPU twins, layouts and formulas: kernels/norm.h.
 *
 * The heart of every kernel here is block_reduce (kernels/cuda/block_reduce.h,
 * shared with reduce.cu): a block adds up one value per thread in two steps,
 * within each warp by shuffles (no shared memory, no barrier: lanes exchange
 * registers), then across the warps through a 32-slot shared array read by
 * warp 0. Here it adds pairs of floats (SumPairOp), since every statistic
 * comes with a partner: sum and sum of squares, sum(g) and sum(g * xhat).
 *
 * Work split (one version each, kernel1):
 *   - batch and instance norm share one pattern (ChannelGroups below): a
 *     statistics group is a channel over the batch (batch norm) or one
 *     (n, c) plane (instance norm). Forward: one block per group, which reads
 *     its values twice, once to sum them (shifted by the group's first
 *     value, as on the CPU, so that a large common offset does not cancel
 *     the variance away) and once to write y; the second read mostly hits L2.
 *   - backward: one block per CHANNEL, looping over the channel's groups
 *     (one for batch norm, N for instance norm): for each group a pass sums
 *     g and g * (x - mean), a second writes dx, and the block accumulates the
 *     channel's dweight and dbias in registers. Because a single block owns
 *     a channel, parameter gradients need neither atomics nor a second
 *     kernel, and they come out the same on every run.
 *   - layer norm: one block per row for the forward and for dx; dweight and
 *     dbias are column sums over the rows, done by a second kernel with
 *     32-column tiles (coalesced: a warp reads 32 consecutive floats of a
 *     row) whose row slices are added in shared memory in a fixed order.
 *   - eval forward and the running-statistics update are elementwise.
 *
 * Sums are float (the CPU twins use double), so results agree to float
 * rounding times the group size; tests use atol + rtol * |ref|.
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++; checked
 * by `ctest -L simt` (tests/test_simt_pool_norm.cpp) and `ctest -L gpu`.
 */
#include <climits>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.h"
#include "kernels/norm.h"

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

constexpr int kWarp = 32;

// Threads for a block that reduces `count` values: 256 (1024 for big
// groups, to keep enough loads in flight), halved while half would still
// give every thread a value; a test may force another size (block_threads),
// which must be whole warps because block_reduce shuffles with full masks.
int group_threads(int64_t count, const char* fn) {
  int preferred = count >= 8192 ? 1024 : 256;
  while (preferred > kWarp && preferred / 2 >= count) preferred /= 2;
  return warp_multiple_threads(preferred, fn);
}

// Two float sums reduced together (block_reduce.h's Op): the statistics come
// in pairs (sum and sum of squares; sum of g and of g * (x - mean)).
struct SumPair {
  float a, b;
};
struct SumPairOp {
  using Acc = SumPair;
  __device__ Acc identity() const { return {0.f, 0.f}; }
  __device__ Acc combine(Acc x, Acc y) const { return {x.a + y.a, x.b + y.b}; }
  __device__ Acc shfl_down(Acc v, int delta) const {
    const float a = __shfl_down_sync(kFullWarpMask, v.a, delta);
    const float b = __shfl_down_sync(kFullWarpMask, v.b, delta);
    return {a, b};
  }
};

// A group of values read by one block: `segments` runs of `len` consecutive
// floats, run s starting `s * stride` after the group's base pointer.
struct Group {
  int64_t segments, stride, len;
};

// Calls f(offset) for this thread's elements of the group: elements
// threadIdx.x, + blockDim.x, ... in (run, position) order. The position
// advances by the block's stride with one carry, not a division per element.
template <class F>
__device__ __forceinline__ void for_each_in_group(const Group& gr, F f) {
  const int64_t step_runs = blockDim.x / gr.len, step_pos = blockDim.x % gr.len;
  int64_t run = threadIdx.x / gr.len, pos = threadIdx.x % gr.len;
  while (run < gr.segments) {
    f(run * gr.stride + pos);
    run += step_runs;
    pos += step_pos;
    if (pos >= gr.len) {
      pos -= gr.len;
      ++run;
    }
  }
}

struct Moments {
  float mean, var;  // var is biased (divided by the count)
};

// Mean and biased variance of a group, summed about its first value. Every
// thread of the block must call it (block_reduce).
__device__ __forceinline__ Moments group_moments(const float* base, const Group& gr) {
  const float shift = base[0];
  SumPair s{0.f, 0.f};  // sum(x - shift), sum((x - shift)^2)
  for_each_in_group(gr, [&](int64_t o) {
    const float d = base[o] - shift;
    s.a += d;
    s.b += d * d;
  });
  s = block_reduce(SumPairOp{}, s);
  const float count = static_cast<float>(gr.segments * gr.len);
  const float m = s.a / count;
  return {shift + m, fmaxf(s.b / count - m * m, 0.f)};
}

// Batch and instance norm over x (N, C, HW) as one pattern: statistics group
// s (of J * C) is `segments` runs of HW values, run k at s * HW + k * C * HW,
// and uses channel s % C's weight and bias.
//   batch norm:    J = 1, segments = N  (group c: channel c over the batch)
//   instance norm: J = N, segments = 1  (group n * C + c: one plane)
struct ChannelGroups {
  int64_t C, J, segments, HW;
  __device__ __forceinline__ Group group() const { return {segments, C * HW, HW}; }
};

// One block per statistics group: sums, then y = (x - mean) * invstd * w + b.
__global__ void channel_norm_forward_kernel1(const float* x, const float* weight, const float* bias, float* y,
                                             float* save_mean, float* save_var, ChannelGroups cg, float eps) {
  const int64_t s = blockIdx.x, c = s % cg.C;
  const Group gr = cg.group();
  const float* xs = x + s * cg.HW;
  const Moments m = group_moments(xs, gr);
  if (threadIdx.x == 0) {
    save_mean[s] = m.mean;
    save_var[s] = m.var;
  }
  const float scale = rsqrtf(m.var + eps) * (weight ? weight[c] : 1.f);
  const float offset = bias ? bias[c] : 0.f;
  float* ys = y + s * cg.HW;
  for_each_in_group(gr, [&](int64_t o) { ys[o] = (xs[o] - m.mean) * scale + offset; });
}

// One block per channel c, looping over its J statistics groups (see the
// file comment): dx per group, and the channel's dweight/dbias summed in
// registers and added (+=) once by thread 0.
__global__ void channel_norm_backward_kernel1(const float* x, const float* g, const float* mean, const float* var,
                                              const float* weight, float* dx, float* dweight, float* dbias,
                                              ChannelGroups cg, float eps, bool batch_stats) {
  const int64_t c = blockIdx.x;
  const Group gr = cg.group();
  const float w = weight ? weight[c] : 1.f;
  const float count = static_cast<float>(gr.segments * gr.len);
  // The same for every thread of the block, so block_reduce's barriers are
  // reached by all threads or by none.
  const bool need_sums = batch_stats || dweight || dbias;
  float channel_g = 0.f, channel_gxhat = 0.f;
  for (int64_t j = 0; j < cg.J; ++j) {
    const int64_t s = j * cg.C + c;
    const float* xs = x + s * cg.HW;
    const float* gs = g + s * cg.HW;
    const float mu = mean[s], invstd = rsqrtf(var[s] + eps);
    SumPair sums{0.f, 0.f};  // sum(g), sum(g * (x - mean))
    if (need_sums) {
      for_each_in_group(gr, [&](int64_t o) {
        const float gi = gs[o];
        sums.a += gi;
        sums.b += gi * (xs[o] - mu);
      });
      sums = block_reduce(SumPairOp{}, sums);
    }
    channel_g += sums.a;
    channel_gxhat += sums.b * invstd;
    if (!dx) continue;
    float* ds = dx + s * cg.HW;
    // dx = a * g - k * (x - mean) + b: the formula of kernels/norm.h with the
    // group's sums folded into three coefficients (as the CPU twin does).
    const float a = w * invstd;
    const float k = batch_stats ? a * invstd * invstd * sums.b / count : 0.f;
    const float b = batch_stats ? -a * sums.a / count : 0.f;
    for_each_in_group(gr, [&](int64_t o) { ds[o] = a * gs[o] - k * (xs[o] - mu) + b; });
  }
  if (threadIdx.x == 0) {
    if (dbias) dbias[c] += channel_g;
    if (dweight) dweight[c] += channel_gxhat;
  }
}

// One thread per element (grid-stride): y from fixed statistics.
__global__ void batch_norm_forward_eval_kernel1(const float* x, const float* mean, const float* var,
                                                const float* weight, const float* bias, float* y, int64_t total,
                                                int64_t C, int64_t HW, float eps) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    const float scale = rsqrtf(var[c] + eps) * (weight ? weight[c] : 1.f);
    y[i] = (x[i] - mean[c]) * scale + (bias ? bias[c] : 0.f);
  }
}

// One thread per channel: running = (1 - momentum) * running + momentum * batch.
__global__ void batch_norm_update_running_kernel1(float* running_mean, float* running_var, const float* batch_mean,
                                                  const float* batch_var, int64_t C, float momentum, float unbias) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * batch_mean[c];
  running_var[c] = (1.f - momentum) * running_var[c] + momentum * batch_var[c] * unbias;
}

// One block per row m of x (M, K): the row's statistics, then y with the
// per-column weight and bias.
__global__ void layer_norm_forward_kernel1(const float* x, const float* weight, const float* bias, float* y,
                                           float* save_mean, float* save_var, int64_t K, float eps) {
  const int64_t m = blockIdx.x;
  const Group row{1, K, K};
  const float* xr = x + m * K;
  const Moments mo = group_moments(xr, row);
  if (threadIdx.x == 0) {
    save_mean[m] = mo.mean;
    save_var[m] = mo.var;
  }
  const float invstd = rsqrtf(mo.var + eps);
  float* yr = y + m * K;
  for_each_in_group(row, [&](int64_t k) {
    const float xhat = (xr[k] - mo.mean) * invstd;
    yr[k] = xhat * (weight ? weight[k] : 1.f) + (bias ? bias[k] : 0.f);
  });
}

// One block per row m: dx = invstd * (gw - mean(gw) - xhat * mean(gw * xhat)),
// gw = g * weight, with the row's two sums from block_reduce.
__global__ void layer_norm_backward_dx_kernel1(const float* x, const float* g, const float* mean, const float* var,
                                               const float* weight, float* dx, int64_t K, float eps) {
  const int64_t m = blockIdx.x;
  const Group row{1, K, K};
  const float* xr = x + m * K;
  const float* gr = g + m * K;
  const float mu = mean[m], invstd = rsqrtf(var[m] + eps);
  SumPair sums{0.f, 0.f};  // sum(gw), sum(gw * (x - mean))
  for_each_in_group(row, [&](int64_t k) {
    const float gw = gr[k] * (weight ? weight[k] : 1.f);
    sums.a += gw;
    sums.b += gw * (xr[k] - mu);
  });
  sums = block_reduce(SumPairOp{}, sums);
  const float kk = static_cast<float>(K);
  const float b = invstd * invstd * invstd * sums.b / kk, c = -invstd * sums.a / kk;
  float* dr = dx + m * K;
  for_each_in_group(row, [&](int64_t k) {
    dr[k] = invstd * gr[k] * (weight ? weight[k] : 1.f) - b * (xr[k] - mu) + c;
  });
}

// Block (32, R) owns 32 columns: thread (tx, ty) sums column
// blockIdx.x * 32 + tx over rows ty, ty + R, ...; the R partial sums of each
// column are then added in shared memory, in row-slice order.
__global__ void layer_norm_backward_params_kernel1(const float* x, const float* g, const float* mean,
                                                   const float* var, float* dweight, float* dbias, int64_t M,
                                                   int64_t K, float eps) {
  // part_*[ty][tx]: row slice ty's sum for column tx of the tile (+1 column:
  // the final loop reads down a column, which would otherwise hit one bank).
  __shared__ float part_w[32][kWarp + 1];
  __shared__ float part_b[32][kWarp + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t k = static_cast<int64_t>(blockIdx.x) * kWarp + tx;
  float acc_w = 0.f, acc_b = 0.f;
  if (k < K) {
    for (int64_t m = ty; m < M; m += blockDim.y) {
      const float gi = g[m * K + k];
      acc_w += gi * (x[m * K + k] - mean[m]) * rsqrtf(var[m] + eps);
      acc_b += gi;
    }
  }
  part_w[ty][tx] = acc_w;
  part_b[ty][tx] = acc_b;
  // Barrier: the row-0 threads read every slice's partial sums below.
  __syncthreads();
  if (ty == 0 && k < K) {
    float sw = 0.f, sb = 0.f;
    for (int r = 0; r < static_cast<int>(blockDim.y); ++r) {
      sw += part_w[r][tx];
      sb += part_b[r][tx];
    }
    if (dweight) dweight[k] += sw;
    if (dbias) dbias[k] += sb;
  }
}

void check_sizes(const char* fn, int64_t groups, int64_t count) {
  GESSO_CHECK(groups > 0 && count > 0, fn, ": sizes must be positive, got ", groups, " groups of ", count, " values");
  GESSO_CHECK(groups <= INT_MAX, fn, ": at most ", INT_MAX, " groups (one block each), got ", groups);
}

void channel_norm_forward(const char* fn, const float* x, const float* weight, const float* bias, float* y,
                          float* save_mean, float* save_var, const ChannelGroups& cg, double eps,
                          cudaStream_t stream) {
  check_sizes(fn, cg.J * cg.C, cg.segments * cg.HW);
  GESSO_CHECK(x && y && save_mean && save_var, fn, ": x, y, save_mean and save_var must be non-null");
  const int threads = group_threads(cg.segments * cg.HW, fn);
  GESSO_LAUNCH(channel_norm_forward_kernel1, static_cast<int>(cg.J * cg.C), threads, 0, stream, x, weight, bias, y,
               save_mean, save_var, cg, static_cast<float>(eps));
}

void channel_norm_backward(const char* fn, const float* x, const float* g, const float* mean, const float* var,
                           const float* weight, float* dx, float* dweight, float* dbias, const ChannelGroups& cg,
                           double eps, bool batch_stats, cudaStream_t stream) {
  check_sizes(fn, cg.J * cg.C, cg.segments * cg.HW);
  GESSO_CHECK(x && g && mean && var, fn, ": x, g, mean and var must be non-null");
  if (!dx && !dweight && !dbias) return;
  const int threads = group_threads(cg.segments * cg.HW, fn);
  GESSO_LAUNCH(channel_norm_backward_kernel1, static_cast<int>(cg.C), threads, 0, stream, x, g, mean, var, weight, dx,
               dweight, dbias, cg, static_cast<float>(eps), batch_stats);
}

}  // namespace

// ---- batch norm

void batch_norm_forward_train_cuda(const float* x, const float* weight, const float* bias, float* y,
                                   float* save_mean, float* save_var, int64_t N, int64_t C, int64_t HW, double eps,
                                   cudaStream_t stream) {
  channel_norm_forward("batch_norm_forward_train_cuda", x, weight, bias, y, save_mean, save_var,
                       ChannelGroups{C, 1, N, HW}, eps, stream);
}

void batch_norm_forward_eval_cuda(const float* x, const float* mean, const float* var, const float* weight,
                                  const float* bias, float* y, int64_t N, int64_t C, int64_t HW, double eps,
                                  cudaStream_t stream) {
  check_sizes("batch_norm_forward_eval_cuda", C, N * HW);
  GESSO_CHECK(x && mean && var && y, "batch_norm_forward_eval_cuda: x, mean, var and y must be non-null");
  const int64_t total = N * C * HW;
  const int threads = block_threads(256);
  GESSO_LAUNCH(batch_norm_forward_eval_kernel1, grid_blocks(total, threads), threads, 0, stream, x, mean, var, weight,
               bias, y, total, C, HW, static_cast<float>(eps));
}

void batch_norm_update_running_cuda(float* running_mean, float* running_var, const float* batch_mean,
                                    const float* batch_var, int64_t C, int64_t count, double momentum,
                                    cudaStream_t stream) {
  GESSO_CHECK(C > 0, "batch_norm_update_running_cuda: C must be positive, got ", C);
  GESSO_CHECK(count > 1, "batch_norm_update_running_cuda: the unbiased variance needs count > 1, got ", count);
  GESSO_CHECK(running_mean && running_var && batch_mean && batch_var,
              "batch_norm_update_running_cuda: all four statistics must be non-null");
  const int threads = block_threads(256);
  const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
  GESSO_LAUNCH(batch_norm_update_running_kernel1, static_cast<int>((C + threads - 1) / threads), threads, 0, stream,
               running_mean, running_var, batch_mean, batch_var, C, static_cast<float>(momentum),
               static_cast<float>(unbias));
}

void batch_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                              const float* weight, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                              int64_t HW, double eps, bool batch_stats, cudaStream_t stream) {
  channel_norm_backward("batch_norm_backward_cuda", x, g, mean, var, weight, dx, dweight, dbias,
                        ChannelGroups{C, 1, N, HW}, eps, batch_stats, stream);
}

// ---- instance norm

void instance_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* save_mean,
                                float* save_var, int64_t N, int64_t C, int64_t HW, double eps,
                                cudaStream_t stream) {
  channel_norm_forward("instance_norm_forward_cuda", x, weight, bias, y, save_mean, save_var,
                       ChannelGroups{C, N, 1, HW}, eps, stream);
}

void instance_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                                 const float* weight, float* dx, float* dweight, float* dbias, int64_t N, int64_t C,
                                 int64_t HW, double eps, cudaStream_t stream) {
  channel_norm_backward("instance_norm_backward_cuda", x, g, mean, var, weight, dx, dweight, dbias,
                        ChannelGroups{C, N, 1, HW}, eps, /*batch_stats=*/true, stream);
}

// ---- layer norm

void layer_norm_forward_cuda(const float* x, const float* weight, const float* bias, float* y, float* save_mean,
                             float* save_var, int64_t M, int64_t K, double eps, cudaStream_t stream) {
  check_sizes("layer_norm_forward_cuda", M, K);
  GESSO_CHECK(x && y && save_mean && save_var, "layer_norm_forward_cuda: x, y, save_mean and save_var must be non-null");
  GESSO_LAUNCH(layer_norm_forward_kernel1, static_cast<int>(M), group_threads(K, "layer_norm_forward_cuda"), 0, stream, x, weight, bias, y,
               save_mean, save_var, K, static_cast<float>(eps));
}

void layer_norm_backward_cuda(const float* x, const float* g, const float* mean, const float* var,
                              const float* weight, float* dx, float* dweight, float* dbias, int64_t M, int64_t K,
                              double eps, cudaStream_t stream) {
  check_sizes("layer_norm_backward_cuda", M, K);
  GESSO_CHECK(x && g && mean && var, "layer_norm_backward_cuda: x, g, mean and var must be non-null");
  if (dx)
    GESSO_LAUNCH(layer_norm_backward_dx_kernel1, static_cast<int>(M), group_threads(K, "layer_norm_backward_cuda"), 0, stream, x, g, mean, var,
                 weight, dx, K, static_cast<float>(eps));
  if (dweight || dbias) {
    int rows = block_threads(256) / kWarp;
    rows = rows < 1 ? 1 : (rows > 32 ? 32 : rows);
    const dim3 block(kWarp, rows);
    const int64_t tiles = (K + kWarp - 1) / kWarp;
    GESSO_LAUNCH(layer_norm_backward_params_kernel1, static_cast<int>(tiles), block, 0, stream, x, g, mean, var,
                 dweight, dbias, M, K, static_cast<float>(eps));
  }
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
