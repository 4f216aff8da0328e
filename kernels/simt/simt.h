/*
 * simt.h: the CUDA vocabulary for g++, so that a .cu file of kernels/cuda
 * compiles as plain C++ (`g++ -x c++ -DGESSO_SIMT_COMPILE -include
 * kernels/simt/simt.h`) and runs on the SIMT runtime (runtime.h).
 *
 *   qualifiers     __global__, __device__, __host__, __constant__ expand to
 *                  nothing; __forceinline__ to `inline` (as nvcc's, it allows
 *                  one definition per translation unit in headers);
 *                  __shared__ to `static thread_local`: one copy per OS
 *                  thread, i.e. per resident block, since a block's threads
 *                  all run on one OS thread
 *   coordinates    threadIdx, blockIdx, blockDim, gridDim (runtime.h), warpSize
 *   barriers       __syncthreads, __syncthreads_count/_and/_or
 *   warp           __syncwarp, __shfl_sync, __shfl_up_sync, __shfl_down_sync,
 *                  __shfl_xor_sync (any trivially copyable type of up to 8
 *                  bytes), __ballot_sync, __any_sync, __all_sync
 *   atomics        atomicAdd/Sub/Exch/Min/Max/Inc/Dec/And/Or/Xor/CAS on the
 *                  types CUDA offers, as relaxed __atomic builtins (a
 *                  compare-and-swap loop for float and double adds)
 *   math           the fast intrinsics (__expf, __fdividef, rsqrtf, ...) as
 *                  their precise libm twins; int/float bit casts; min/max
 *   runtime API    cudaError_t, cudaGetLastError, cudaDeviceSynchronize,
 *                  cudaFuncSetAttribute (dynamic shared memory opt-in)
 *
 * Barriers and collectives are macros that pass __FILE__ and __LINE__ to the
 * runtime: that is how it tells call sites apart, and how its errors name the
 * line. Launches and dynamic shared memory go through kernels/cuda/launch.h.
 */
#pragma once

#if defined(__CUDACC__)
#error "kernels/simt/simt.h is the CUDA vocabulary for g++; under nvcc the real one is used"
#endif

#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "kernels/simt/runtime.h"

#define GESSO_SIMT 1

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local

inline constexpr int warpSize = 32;

namespace gesso::simt {

// An intrinsic called at a source line: `__syncthreads()` becomes
// `At{__FILE__, __LINE__}.syncthreads()`.
struct At {
  const char* file;
  int line;

  CallSite site() const { return CallSite{file, line}; }

  void syncthreads() const { block_barrier(site(), BarrierOp::sync, 0); }
  int syncthreads_count(int predicate) const { return block_barrier(site(), BarrierOp::count, predicate); }
  int syncthreads_and(int predicate) const { return block_barrier(site(), BarrierOp::all, predicate); }
  int syncthreads_or(int predicate) const { return block_barrier(site(), BarrierOp::any, predicate); }

  void syncwarp(unsigned mask = 0xffffffffu) const {
    warp_collective(site(), WarpOp::syncwarp, mask, 0, 0, warpSize);
  }
  template <class T>
  T shfl(unsigned mask, T var, int src_lane, int width = warpSize) const {
    return exchange(WarpOp::shfl, mask, var, src_lane, width);
  }
  template <class T>
  T shfl_up(unsigned mask, T var, unsigned delta, int width = warpSize) const {
    return exchange(WarpOp::shfl_up, mask, var, int(delta), width);
  }
  template <class T>
  T shfl_down(unsigned mask, T var, unsigned delta, int width = warpSize) const {
    return exchange(WarpOp::shfl_down, mask, var, int(delta), width);
  }
  template <class T>
  T shfl_xor(unsigned mask, T var, int lane_mask, int width = warpSize) const {
    return exchange(WarpOp::shfl_xor, mask, var, lane_mask, width);
  }
  unsigned ballot(unsigned mask, int predicate) const {
    return unsigned(warp_collective(site(), WarpOp::ballot, mask, predicate != 0, 0, warpSize));
  }
  int any(unsigned mask, int predicate) const {
    return int(warp_collective(site(), WarpOp::any, mask, predicate != 0, 0, warpSize));
  }
  int all(unsigned mask, int predicate) const {
    return int(warp_collective(site(), WarpOp::all, mask, predicate != 0, 0, warpSize));
  }
  [[noreturn]] void trap() const { ::gesso::simt::trap(site(), "__trap()"); }

 private:
  template <class T>
  T exchange(WarpOp op, unsigned mask, T var, int arg, int width) const {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                  "warp shuffles move trivially copyable values of at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    bits = warp_collective(site(), op, mask, bits, arg, width);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
  }
};

}  // namespace gesso::simt

#define GESSO_SIMT_AT_ ::gesso::simt::At{__FILE__, __LINE__}
#define __syncthreads GESSO_SIMT_AT_.syncthreads
#define __syncthreads_count GESSO_SIMT_AT_.syncthreads_count
#define __syncthreads_and GESSO_SIMT_AT_.syncthreads_and
#define __syncthreads_or GESSO_SIMT_AT_.syncthreads_or
#define __syncwarp GESSO_SIMT_AT_.syncwarp
#define __shfl_sync GESSO_SIMT_AT_.shfl
#define __shfl_up_sync GESSO_SIMT_AT_.shfl_up
#define __shfl_down_sync GESSO_SIMT_AT_.shfl_down
#define __shfl_xor_sync GESSO_SIMT_AT_.shfl_xor
#define __ballot_sync GESSO_SIMT_AT_.ballot
#define __any_sync GESSO_SIMT_AT_.any
#define __all_sync GESSO_SIMT_AT_.all
#define __trap GESSO_SIMT_AT_.trap

// ---- memory fences and loads: x86 is strongly ordered; a fence still stops
// the compiler from moving accesses across it.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <class T>
inline T __ldg(const T* p) { return *p; }

// ---- atomics: relaxed, as on a GPU (they order nothing else) ----------------
namespace gesso::simt {
template <class T, class F>
inline T atomic_update(T* address, F f) {  // f(old) -> new; returns old
  T old = __atomic_load_n(address, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(address, &old, f(old), true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
}  // namespace gesso::simt

#define GESSO_SIMT_INT_ATOMICS_(T)                                                                             \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                           \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }                           \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                         \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                           \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                             \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                           \
  inline T atomicMin(T* a, T v) {                                                                              \
    return ::gesso::simt::atomic_update(a, [v](T old) { return old < v ? old : v; });                          \
  }                                                                                                            \
  inline T atomicMax(T* a, T v) {                                                                              \
    return ::gesso::simt::atomic_update(a, [v](T old) { return old > v ? old : v; });                          \
  }                                                                                                            \
  inline T atomicCAS(T* a, T compare, T v) {                                                                   \
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                    \
    return compare;                                                                                            \
  }
GESSO_SIMT_INT_ATOMICS_(int)
GESSO_SIMT_INT_ATOMICS_(unsigned)
GESSO_SIMT_INT_ATOMICS_(unsigned long long)
GESSO_SIMT_INT_ATOMICS_(long long)
#undef GESSO_SIMT_INT_ATOMICS_

inline unsigned atomicInc(unsigned* a, unsigned limit) {
  return ::gesso::simt::atomic_update(a, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
  return ::gesso::simt::atomic_update(a, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}

// Floating-point atomics work on the bit pattern: compare-and-swap until no
// other thread wrote in between.
inline float atomicAdd(float* a, float v) {
  auto* bits = reinterpret_cast<unsigned*>(a);
  unsigned old = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    float f;
    std::memcpy(&f, &old, 4);
    f += v;
    unsigned next;
    std::memcpy(&next, &f, 4);
    if (__atomic_compare_exchange_n(bits, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) break;
  }
  float out;
  std::memcpy(&out, &old, 4);
  return out;
}
inline double atomicAdd(double* a, double v) {
  auto* bits = reinterpret_cast<unsigned long long*>(a);
  unsigned long long old = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    double d;
    std::memcpy(&d, &old, 8);
    d += v;
    unsigned long long next;
    std::memcpy(&next, &d, 8);
    if (__atomic_compare_exchange_n(bits, &old, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) break;
  }
  double out;
  std::memcpy(&out, &old, 8);
  return out;
}
inline float atomicExch(float* a, float v) {
  unsigned in, out;
  std::memcpy(&in, &v, 4);
  out = __atomic_exchange_n(reinterpret_cast<unsigned*>(a), in, __ATOMIC_RELAXED);
  float r;
  std::memcpy(&r, &out, 4);
  return r;
}

// ---- math. The fast intrinsics are their precise libm twins here. glibc's
// <math.h> already declares some of these names (extern "C", never defined),
// so they are defined with the same linkage.
extern "C" {
inline float __expf(float x) noexcept { return expf(x); }
inline float __exp10f(float x) noexcept { return exp10f(x); }
inline float __logf(float x) noexcept { return logf(x); }
inline float __log2f(float x) noexcept { return log2f(x); }
inline float __log10f(float x) noexcept { return log10f(x); }
inline float __sinf(float x) noexcept { return sinf(x); }
inline float __cosf(float x) noexcept { return cosf(x); }
inline float __tanf(float x) noexcept { return tanf(x); }
inline float __powf(float x, float y) noexcept { return powf(x, y); }
inline void __sincosf(float x, float* s, float* c) noexcept { sincosf(x, s, c); }
inline float rsqrtf(float x) noexcept { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) noexcept { return 1.0 / sqrt(x); }
}
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline int __float2int_rn(float x) { return int(nearbyintf(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline int __float2int_rd(float x) { return int(floorf(x)); }
inline int __float2int_ru(float x) { return int(ceilf(x)); }
inline unsigned __float2uint_rn(float x) { return unsigned(nearbyintf(x)); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }

// ---- integer intrinsics
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}
inline int __mul24(int x, int y) {  // the low 24 bits of each, sign-extended
  long long a = int(unsigned(x) << 8) >> 8, b = int(unsigned(y) << 8) >> 8;
  return int(unsigned(a * b));
}
inline unsigned __umul24(unsigned x, unsigned y) { return (x & 0xFFFFFFu) * (y & 0xFFFFFFu); }
inline int __mulhi(int x, int y) { return int(((long long)x * y) >> 32); }
inline unsigned __umulhi(unsigned x, unsigned y) { return unsigned(((unsigned long long)x * y) >> 32); }

// ---- min and max, as CUDA declares them for device code (one overload per
// type; mixed signed/unsigned int goes unsigned, as in CUDA).
#define GESSO_SIMT_MINMAX_(T)                              \
  inline T min(T a, T b) { return b < a ? b : a; }         \
  inline T max(T a, T b) { return a < b ? b : a; }
GESSO_SIMT_MINMAX_(int)
GESSO_SIMT_MINMAX_(unsigned)
GESSO_SIMT_MINMAX_(long)
GESSO_SIMT_MINMAX_(unsigned long)
GESSO_SIMT_MINMAX_(long long)
GESSO_SIMT_MINMAX_(unsigned long long)
#undef GESSO_SIMT_MINMAX_
inline unsigned min(int a, unsigned b) { return min(unsigned(a), b); }
inline unsigned min(unsigned a, int b) { return min(a, unsigned(b)); }
inline unsigned max(int a, unsigned b) { return max(unsigned(a), b); }
inline unsigned max(unsigned a, int b) { return max(a, unsigned(b)); }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// ---- vector types (the common ones, with CUDA's alignment)
struct __attribute__((aligned(8))) float2 { float x, y; };
struct float3 { float x, y, z; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct int3 { int x, y, z; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
struct __attribute__((aligned(16))) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int3 make_int3(int x, int y, int z) { return {x, y, z}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// ---- the runtime API calls kernel launchers make. Launches are synchronous
// and report errors by throwing, so there is never an error left to fetch.
enum cudaError { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };
typedef cudaError cudaError_t;
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaSuccess ? "no error" : e == cudaErrorInvalidValue ? "invalid argument" : "invalid configuration argument";
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <class... Params>
inline cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0) return cudaErrorInvalidValue;
  ::gesso::simt::set_max_dynamic_shared_bytes(reinterpret_cast<const void*>(kernel), size_t(value));
  return cudaSuccess;
}
