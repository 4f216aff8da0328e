/*
 * common.h: what every kernel header shares: the host/device qualifiers that
 * let one inline function serve both twins, the strided-layout structs that
 * carry broadcast geometry to a kernel by value, and the OpenMP threshold.
 */
#pragma once
#include <cstdint>

#if defined(__CUDACC__) || defined(GESSO_SIMT_COMPILE)
#define GESSO_HD __host__ __device__
#else
#define GESSO_HD
#endif

namespace gesso::kernels {

constexpr int kMaxDims = 8;

// Below this many elements a loop runs on one thread: spawning the team costs
// more than it saves.
constexpr int64_t kParallelGrain = 32768;

// Geometry of a broadcast elementwise op with two inputs. The output is
// contiguous with shape `size`; a and b are read at sum(index[d] * stride[d]),
// stride 0 on a dimension the input is broadcast along. Dims are coalesced
// by the caller, so ndim is usually 1 or 2.
struct BinaryLayout {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride_a[kMaxDims] = {};
  int64_t stride_b[kMaxDims] = {};
};

// Geometry of a strided read of one tensor (copy, contiguous()).
struct StridedLayout {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};

}  // namespace gesso::kernels
