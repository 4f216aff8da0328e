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

// The CUDA runtime's stream handle, declared the way cuda_runtime.h does so
// that plain C++ can name it in the twins' signatures.
struct CUstream_st;
typedef CUstream_st* cudaStream_t;

// Declares a family's CUDA twins once for both builds of kernels/cuda/*.cu:
// nvcc compiles them into kernels::cuda (the GPU), g++ compiles the same
// source into kernels::simt (run on the CPU by the SIMT runtime).
#define GESSO_DECLARE_CUDA_TWINS(...) \
  namespace cuda { __VA_ARGS__ }      \
  namespace simt { __VA_ARGS__ }

namespace gesso::kernels {

constexpr int kMaxDims = 8;

// Threads per block that launchers use when a kernel leaves the choice open
// (elementwise, reductions, norms): `preferred` unless a test has asked for
// another size through ScopedBlockThreads, so that parity tests can run every
// kernel at two block sizes. Tiled kernels map it to a tile size.
int block_threads(int preferred);
class ScopedBlockThreads {
 public:
  explicit ScopedBlockThreads(int threads);
  ~ScopedBlockThreads();
  ScopedBlockThreads(const ScopedBlockThreads&) = delete;
  ScopedBlockThreads& operator=(const ScopedBlockThreads&) = delete;
 private:
  int previous_;
};

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
