/*
 * runtime_kernels.cu: test kernels for the SIMT runtime's features, one per
 * feature: warp exchanges and votes, barrier votes, atomics across blocks,
 * coordinates of 3-d grids, by-value parameters, dynamic shared memory
 * limits, and the misuses that must stop a launch with an error (barriers at
 * two call sites, a mask without the caller's lane, exited lanes in a mask,
 * __trap, a bad configuration).
 * Real CUDA: compiled by nvcc, and as C++ for the runtime.
 */
#include "kernels/cuda/launch.h"
#include "tests/simt/kernels.h"

namespace simt_test {
namespace {

// One block; every thread calls the same operation (one call site each).
__global__ void warp_exchange_kernel(long long* out, int test, int arg, int width) {
  const int tid = threadIdx.x;
  const int value = 100 * tid + 7;
  long long r = 0;
  switch (test) {
    case 0: r = __shfl_sync(0xffffffffu, value, arg, width); break;
    case 1: r = __shfl_up_sync(0xffffffffu, value, unsigned(arg), width); break;
    case 2: r = __shfl_down_sync(0xffffffffu, value, unsigned(arg), width); break;
    case 3: r = __shfl_xor_sync(0xffffffffu, value, arg, width); break;
    case 4: r = __ballot_sync(0xffffffffu, tid % 3 == 0); break;
    case 5: r = __any_sync(0xffffffffu, tid == arg); break;
    case 6: r = __all_sync(0xffffffffu, tid != arg); break;
    case 7: r = (long long)__shfl_sync(0xffffffffu, double(value) + 0.5, arg, width); break;
  }
  out[tid] = r;
}

__global__ void barrier_votes_kernel(int* out) {
  const int tid = threadIdx.x;
  out[9 * tid + 0] = __syncthreads_count(tid % 3 == 0);
  out[9 * tid + 1] = __syncthreads_and(tid % 3 == 0);
  out[9 * tid + 2] = __syncthreads_or(tid % 3 == 0);
  out[9 * tid + 3] = __syncthreads_count(tid >= 0);
  out[9 * tid + 4] = __syncthreads_and(tid >= 0);
  out[9 * tid + 5] = __syncthreads_or(tid >= 0);
  out[9 * tid + 6] = __syncthreads_count(tid < 0);
  out[9 * tid + 7] = __syncthreads_and(tid < 0);
  out[9 * tid + 8] = __syncthreads_or(tid < 0);
}

__global__ void atomics_kernel(int* counters, float* sums, double* dsum) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&counters[0], 1);
  atomicMax(&counters[1], g);
  // The classic compare-and-swap loop (here: an increment).
  int old = atomicCAS(&counters[2], 0, 0), assumed;
  do {
    assumed = old;
    old = atomicCAS(&counters[2], assumed, assumed + 1);
  } while (old != assumed);
  atomicAdd(&sums[0], 0.5f);
  atomicAdd(&dsum[0], 0.25);
}

__global__ void coordinates_kernel(uint64_t* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = uint64_t(threadIdx.x) | uint64_t(threadIdx.y) << 8 |
                                    uint64_t(threadIdx.z) << 16 | uint64_t(blockIdx.x) << 24 |
                                    uint64_t(blockIdx.y) << 32 | uint64_t(blockIdx.z) << 40 |
                                    uint64_t(gridDim.x) << 48 | uint64_t(blockDim.x) << 56;
}

__global__ void params_kernel(int* out, Params p) {
  p.base += threadIdx.x;  // changes this thread's copy only
  out[threadIdx.x] = p.base + int(p.scale);
}

// Blocks of 32 threads.
__global__ void two_barriers_kernel(float* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = 1.0f;
    __syncthreads();  // [mark:two_a]
  } else {
    __syncthreads();  // [mark:two_b]
    out[threadIdx.x] = 2.0f;
  }
}

__global__ void mask_without_own_lane_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0x1u, int(threadIdx.x), 0);  // [mark:own_lane]
}

__global__ void exited_lanes_kernel(int* out) {
  const int lane = threadIdx.x % warpSize;
  if (lane >= 16) return;
  out[lane] = __shfl_sync(0xffffffffu, lane, 0);  // [mark:exited_shfl]
}

__global__ void trap_kernel(int* out) {
  if (threadIdx.x == 5) __trap();  // [mark:trap]
  out[threadIdx.x] = 1;
}

__global__ void empty_kernel() {}

__global__ void big_dynamic_shared_kernel(float* out, int bytes) {
  GESSO_DYNAMIC_SHARED(unsigned char, s);
  for (int i = threadIdx.x; i < bytes; i += blockDim.x) s[i] = 1;
  __syncthreads();  // every byte is written before thread 0 counts them
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int i = 0; i < bytes; ++i) total += s[i];
    *out = total;
  }
}

}  // namespace

void warp_exchange(WarpTest test, long long* out, int threads, int arg, int width) {
  GESSO_LAUNCH(warp_exchange_kernel, 1, threads, 0, 0, out, int(test), arg, width);
}

void barrier_votes(int* out, int threads) { GESSO_LAUNCH(barrier_votes_kernel, 1, threads, 0, 0, out); }

void atomics(int* counters, float* sums, double* dsum, int blocks, int threads) {
  GESSO_LAUNCH(atomics_kernel, blocks, threads, 0, 0, counters, sums, dsum);
}

void coordinates(uint64_t* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
  GESSO_LAUNCH(coordinates_kernel, dim3(gx, gy, gz), dim3(bx, by, bz), 0, 0, out);
}

void params_by_value(int* out, Params p, int threads) { GESSO_LAUNCH(params_kernel, 1, threads, 0, 0, out, p); }

void barriers_at_two_sites(float* out) { GESSO_LAUNCH(two_barriers_kernel, 1, 32, 0, 0, out); }

void mask_without_own_lane(int* out) { GESSO_LAUNCH(mask_without_own_lane_kernel, 1, 32, 0, 0, out); }

void exited_lanes_in_mask(int* out) { GESSO_LAUNCH(exited_lanes_kernel, 1, 32, 0, 0, out); }

void trap_in_thread_5(int* out) { GESSO_LAUNCH(trap_kernel, 1, 32, 0, 0, out); }

void too_many_threads() { GESSO_LAUNCH(empty_kernel, 1, 1025, 0, 0); }

void big_dynamic_shared(size_t bytes, bool opt_in, float* out) {
  if (opt_in)
    cudaFuncSetAttribute(big_dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  GESSO_LAUNCH(big_dynamic_shared_kernel, 1, 64, bytes, 0, out, int(bytes));
}

}  // namespace simt_test
