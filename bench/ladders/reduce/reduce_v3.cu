/*
 * reduce_v3.cu: row sums, step 3 of the reduction ladder: one block per
 * row, warp shuffles for the tree.
 *
 * What it fixes in v2: the tree. Within a warp, __shfl_down_sync moves a
 * register from one lane to another with no shared memory and no barrier,
 * so each warp reduces its 32 values in 5 shuffles; lane 0 of each warp
 * leaves one sum in shared memory, and after the block's only barrier warp
 * 0 reduces those (at most 32) the same way. One __syncthreads instead of
 * log2(blockDim.x) + 1, and no lockstep assumption (a shuffle names the
 * lanes it waits for: blockDim.x must be a multiple of 32).
 * What is still wrong (v4): one block per row. With 4 rows of 4M elements,
 * 4 blocks run on a GPU with 132 SMs: the kernel reads memory at the rate
 * of 4 SMs.
 */
#include "bench/ladders/reduce/reduce_common.h"

// Lane 0 ends with the sum of the warp's 32 values.
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Block r sums row r: thread t adds k = t, t + blockDim.x, ...; warps
// reduce by shuffles, warp 0 reduces the warps' sums.
__global__ void reduce_kernel3(const float* x, float* out, int n) {
  // warp_sums[w]: the sum of warp w (a block has at most 32 warps).
  __shared__ float warp_sums[32];
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const float* row = x + static_cast<size_t>(blockIdx.x) * n;
  float acc = 0.0f;
  for (int k = t; k < n; k += blockDim.x) acc += row[k];
  acc = warp_sum(acc);
  if (lane == 0) warp_sums[warp] = acc;
  // Barrier: warp 0 reads the sums that the other warps' lane 0 wrote.
  __syncthreads();
  if (warp == 0) {
    acc = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : 0.0f;
    acc = warp_sum(acc);
    if (lane == 0) out[blockIdx.x] = acc;
  }
}

void reduce_v3(const float* x, float* out, int rows, int n, int threads) {
  GESSO_LAUNCH(reduce_kernel3, rows, threads, 0, nullptr, x, out, n);
}

// The CPU reference, in double.
void reduce_cpu(const float* x, double* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int k = 0; k < n; ++k) acc += x[static_cast<size_t>(r) * n + k];
    out[r] = acc;
  }
}

int main(int argc, char** argv) { return ladder::run_ladder_step("reduce_v3", reduce_v3, reduce_cpu, argc, argv); }
