/*
 * kernels.h: host launchers of the SIMT runtime's test kernels
 * (the .cu files here, real CUDA compiled as C++ for the runtime). Plain C++:
 * pointers are host memory, which is what the runtime's "device" memory is.
 * Each launcher runs the grid to completion; a kernel that breaks a rule
 * throws gesso::Error.
 *
 * Lines that tests look for carry a `[mark:NAME]` comment; test_simt.cpp
 * finds their numbers by reading the source, so editing a file never breaks
 * a test.
 */
#pragma once
#include <cstdint>

namespace simt_test {

// ---- sgemm.cu: C = A B, A is (M, K), B is (K, N), C is (M, N), row-major.
enum class Sgemm {
  tiled,           // correct 16x16 tiled SGEMM
  no_second_sync,  // bug: next tile overwrites shared memory others still read
  no_first_sync,   // bug: reads the tile before the other threads wrote it
  early_return,    // bug: `if (row >= M || col >= N) return;` before the barriers
  no_k_check,      // bug: loads past K (past the end of A and B)
};
void sgemm(Sgemm variant, const float* A, const float* B, float* C, int M, int N, int K);

// ---- reduce.cu: sums of x[0, n) added into *out (the caller zeroes it).
// Warp-shuffle block reduction, grid-stride; `threads` should be a multiple
// of 32 (48 is the bug: the second warp has only 16 lanes).
void block_sum(const float* x, float* out, int n, int blocks, int threads);
// Bug: a full-mask shuffle inside `if (lane < 16)`; blocks of 32 threads.
void warp_sum_divergent(const float* x, float* out, int n);
// Bug: the pre-Volta warp-synchronous tail with no __syncwarp; blocks of 128.
void block_sum_warp_synchronous(const float* x, float* out, int n);

// ---- shared_memory.cu
// y[i] = x[i-1] + 2 x[i] + x[i+1] (x = 0 outside [0, n)), staged in dynamic
// shared memory with a one-element halo on each side; with_halo = false is
// the bug (the halo is read but never written).
void stencil3(const float* x, float* y, int n, int threads, bool with_halo);
// Bug: y[i] = s[threadIdx.x + 1] with a static `__shared__ float s[32]`.
void shift_left_static_shared(const float* x, float* y, int n);

// ---- runtime_kernels.cu: one kernel per runtime feature.
enum class WarpTest { shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all, shfl_double };
// Each of `threads` threads (one block) calls the operation on value
// 100 * tid + 7 (predicates: ballot tid % 3 == 0, any tid == arg, all
// tid != arg) and writes what it got to out[tid] (shfl_double: as the
// double's integer value).
void warp_exchange(WarpTest test, long long* out, int threads, int arg, int width);
// out[3 * tid + {0,1,2}] = __syncthreads_count / _and / _or of (tid % 3 == 0),
// then of (tid >= 0), then of (tid < 0): 9 values per thread.
void barrier_votes(int* out, int threads);
// Many threads of many blocks hit the same addresses: counters[0] += 1 (int),
// counters[1] = max of global index (int), counters[2] gets atomicCAS
// increments, sums[0] += 0.5f, dsum[0] += 0.25.
void atomics(int* counters, float* sums, double* dsum, int blocks, int threads);
// out[global linear thread index] = that thread's packed coordinates (see
// runtime_kernels.cu) for a 3-d grid of 3-d blocks.
void coordinates(uint64_t* out, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz);
// Each thread increments its copy of a by-value struct and writes it.
struct Params {
  int base;
  float scale;
};
void params_by_value(int* out, Params p, int threads);
// Bug: half the block waits at one __syncthreads, half at another.
void barriers_at_two_sites(float* out);
// Bug: every lane shuffles with mask 0x1 (lane 1 is not in its own mask).
void mask_without_own_lane(int* out);
// Bug: lanes 16-31 return; lanes 0-15 then shuffle with a full mask.
void exited_lanes_in_mask(int* out);
// __trap() in thread 5 of 32; the others write out[tid] = 1.
void trap_in_thread_5(int* out);
// Launch with a bad configuration: 1025 threads per block.
void too_many_threads();
// A kernel using `bytes` of dynamic shared memory, with or without the
// cudaFuncSetAttribute opt-in; writes the sum of its bytes to *out.
void big_dynamic_shared(size_t bytes, bool opt_in, float* out);

}  // namespace simt_test
