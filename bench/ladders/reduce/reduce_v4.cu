/*
 * reduce_v4.cu: row sums, step 4 of the reduction ladder: the grid sized
 * to the GPU, not to the number of rows. This is the structure of
 * kernels/cuda/reduce.cu (reduce_rows_kernel4 and reduce_finish_kernel4).
 *
 * What it fixes in v3: parallelism when rows are few and long. Each row is
 * cut into chunks along gridDim.y, so that rows x chunks is about 1024
 * blocks (several waves of a large GPU), but never so many that a thread
 * gets fewer than 8 elements: each thread still walks its chunk in strided,
 * coalesced steps and accumulates many elements in a register before the
 * shuffle tree of v3 runs once. Each block writes its chunk's sum to a
 * partials buffer, and a second, tiny kernel adds each row's partials in
 * chunk order. Two launches instead of an atomicAdd per block: the sum is
 * the same on every run (float atomics add in whatever order blocks finish).
 * With many rows (>= 1024) there is one chunk and this is v3 exactly.
 *
 * Not in the ladder yet: float4 loads and several independent accumulators
 * per thread (more bytes in flight per thread); they only pay if a GPU
 * timing shows v4 short of the DRAM bandwidth, and none was at hand.
 * kernels/cuda/reduce.cu accumulates in double (the CPU twin's contract);
 * here the accumulator is float, as in the earlier steps.
 */
#include <algorithm>
#include <memory>

#include "bench/ladders/reduce/reduce_common.h"

// Lane 0 ends with the sum of the warp's 32 values.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Block (r, c) sums elements [c * chunk_len, (c + 1) * chunk_len) of row r:
// thread t adds k0 + t, k0 + t + blockDim.x, ...; warps reduce by shuffles,
// warp 0 reduces the warps' sums. One chunk: the row's sum goes to out[r];
// else to partial[r * gridDim.y + c].
__global__ void reduce_kernel4(const float* x, float* out, float* partial, int n, int chunk_len) {
  // warp_sums[w]: the sum of warp w (a block has at most 32 warps).
  __shared__ float warp_sums[32];
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const float* row = x + static_cast<size_t>(blockIdx.x) * n;
  const int k0 = blockIdx.y * chunk_len, k1 = min(n, k0 + chunk_len);
  float acc = 0.0f;
  for (int k = k0 + t; k < k1; k += blockDim.x) acc += row[k];
  acc = warp_sum(acc);
  if (lane == 0) warp_sums[warp] = acc;
  // Barrier: warp 0 reads the sums that the other warps' lane 0 wrote.
  __syncthreads();
  if (warp == 0) {
    acc = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0.0f;
    acc = warp_sum(acc);
    if (lane == 0) {
      if (gridDim.y == 1) out[blockIdx.x] = acc;
      else partial[blockIdx.x * gridDim.y + blockIdx.y] = acc;
    }
  }
}

// Thread r adds row r's `chunks` partials in chunk order.
__global__ void reduce_finish_kernel4(const float* partial, float* out, int rows, int chunks) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;  // no barrier follows
  float acc = 0.0f;
  for (int c = 0; c < chunks; ++c) acc += partial[r * chunks + c];
  out[r] = acc;
}

void reduce_v4(const float* x, float* out, int rows, int n, int threads) {
  constexpr int kTargetBlocks = 1024, kMinPerThread = 8, kMaxChunks = 1024;
  int chunks = 1;
  if (rows < kTargetBlocks) {
    chunks = (kTargetBlocks + rows - 1) / rows;
    chunks = std::min(chunks, n / (kMinPerThread * threads));
    chunks = std::max(1, std::min(chunks, kMaxChunks));
  }
  const int chunk_len = (n + chunks - 1) / chunks;
  chunks = (n + chunk_len - 1) / chunk_len;
  // The partials buffer, kept between calls so that timed runs allocate nothing.
  static std::unique_ptr<ladder::Buffer> partials;
  static size_t partials_size = 0;
  const size_t need = static_cast<size_t>(rows) * chunks;
  if (chunks > 1 && need > partials_size) {
    partials = std::make_unique<ladder::Buffer>(need);
    partials_size = need;
  }
  float* partial = chunks > 1 ? partials->get() : nullptr;
  GESSO_LAUNCH(reduce_kernel4, dim3(rows, chunks), threads, 0, nullptr, x, out, partial, n, chunk_len);
  if (chunks > 1) GESSO_LAUNCH(reduce_finish_kernel4, (rows + 255) / 256, 256, 0, nullptr, partial, out, rows, chunks);
}

// The CPU reference, in double.
void reduce_cpu(const float* x, double* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int k = 0; k < n; ++k) acc += x[static_cast<size_t>(r) * n + k];
    out[r] = acc;
  }
}

int main(int argc, char** argv) { return ladder::run_ladder_step("reduce_v4", reduce_v4, reduce_cpu, argc, argv); }
