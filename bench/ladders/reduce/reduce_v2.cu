/*
 * reduce_v2.cu: row sums, step 2 of the reduction ladder: one block per
 * row, a shared-memory tree (cuda-samples' reduction, "interleaved
 * addressing" without divergence).
 *
 * What it fixes in v1:
 *   - coalescing: thread t reads k = t, t + blockDim.x, ..., so a warp reads
 *     32 consecutive floats, one 128-byte line per load;
 *   - a row is shared by blockDim.x threads instead of one.
 * What is still wrong (v3 fixes the first):
 *   - the tree takes log2(blockDim.x) levels, each a __syncthreads and a
 *     round trip through shared memory, with half the remaining threads idle
 *     after every level; the last five levels run inside one warp, where a
 *     barrier for the whole block is pure waste;
 *   - parallelism is still `rows` blocks (v4).
 */
#include "bench/ladders/reduce/reduce_common.h"

// Block r sums row r: thread t adds k = t, t + blockDim.x, ...; then the
// block halves its partials in shared memory until one is left.
// blockDim.x must be a power of two.
__global__ void reduce_kernel2(const float* x, float* out, int n) {
  // partial[t]: thread t's running sum, then the tree's sums in place.
  GESSO_DYNAMIC_SHARED(float, partial);
  const int t = threadIdx.x;
  const float* row = x + static_cast<size_t>(blockIdx.x) * n;
  float acc = 0.0f;
  for (int k = t; k < n; k += blockDim.x) acc += row[k];
  partial[t] = acc;
  // Barrier: every thread's partial is written before the tree reads it.
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    // Barrier: this level's sums are written before the next level reads
    // them (and before anyone reads partial[0] after the last level).
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

void reduce_v2(const float* x, float* out, int rows, int n, int threads) {
  GESSO_LAUNCH(reduce_kernel2, rows, threads, threads * sizeof(float), nullptr, x, out, n);
}

// The CPU reference, in double.
void reduce_cpu(const float* x, double* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int k = 0; k < n; ++k) acc += x[static_cast<size_t>(r) * n + k];
    out[r] = acc;
  }
}

int main(int argc, char** argv) { return ladder::run_ladder_step("reduce_v2", reduce_v2, reduce_cpu, argc, argv); }
