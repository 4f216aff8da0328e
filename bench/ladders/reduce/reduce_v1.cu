/*
 * reduce_v1.cu: row sums (out[r] = sum_k x[r * n + k]), step 1 of the
 * reduction ladder (bench/ladders/reduce/README.md): one thread per row,
 * the CPU loop moved to the GPU as it is.
 *
 * What is wrong with it (v2 fixes both):
 *   - uncoalesced loads: at every step the 32 threads of a warp read 32
 *     addresses n floats apart, 32 different cache lines for 128 useful
 *     bytes;
 *   - parallelism is `rows` threads: 4 long rows keep 4 threads busy on a
 *     GPU that holds 270,000, each walking millions of elements in a row.
 *
 *   build: reduce_v1_cuda (nvcc) and reduce_v1_simt (SIMT runtime), see
 *   reduce_common.h for options and what each build reports.
 */
#include "bench/ladders/reduce/reduce_common.h"

// Thread r sums row r on its own.
__global__ void reduce_kernel1(const float* x, float* out, int rows, int n) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;  // no barrier follows
  const float* row = x + static_cast<size_t>(r) * n;
  float acc = 0.0f;
  for (int k = 0; k < n; ++k) acc += row[k];
  out[r] = acc;
}

void reduce_v1(const float* x, float* out, int rows, int n, int threads) {
  GESSO_LAUNCH(reduce_kernel1, (rows + threads - 1) / threads, threads, 0, nullptr, x, out, rows, n);
}

// The CPU reference, in double.
void reduce_cpu(const float* x, double* out, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int k = 0; k < n; ++k) acc += x[static_cast<size_t>(r) * n + k];
    out[r] = acc;
  }
}

int main(int argc, char** argv) { return ladder::run_ladder_step("reduce_v1", reduce_v1, reduce_cpu, argc, argv); }
