/*
 * gemm_common.h: what every step of the GEMM ladder shares (as llm.c's
 * dev/cuda/common.h): device buffers, the input, the reference, the check,
 * the timer and the report. Each gemm_vN.cu holds its kernel, its launcher
 * and a main() that calls run_ladder_step; read them in order (README.md).
 *
 * The problem: C = A B, all row-major float, A (M, K), B (K, N), C (M, N):
 * the heart of kernels/cuda/gemm.cu, which adds transposes, alpha/beta,
 * leading dimensions and batches around the last step's kernel.
 *
 * Two builds of each step, from the same file (bench/ladders/CMakeLists.txt):
 *   nvcc  gemm_vN_cuda: a real GPU. Default shapes 1024^3, 2048^3, 4096^3.
 *         Timed with cudaEvents, the L2 cache flushed (a 256 MiB memset)
 *         before each timed run, best of --repeat runs; cuBLAS's SGEMM on
 *         the same problem, same timing, is printed beside it (GFLOP/s and
 *         the step's share of it). Checked against the CPU reference in
 *         double up to 2^30 multiply-adds, above that against cuBLAS.
 *   g++   gemm_vN_simt: the SIMT runtime (docs/SIMT.md) runs the kernel on
 *         the CPU. Default shapes 67 x 45 x 39 (odd: partial tiles, scalar
 *         loads) and 100 x 68 x 36 (multiples of 4: the float4 paths of v5
 *         and v6, still partial tiles). Its times are the emulator's and say
 *         nothing about a GPU; what it shows is that the kernel is correct
 *         (ctest runs every step this way, label simt).
 * Options: --m M --n N --k K (one shape instead of the defaults), --threads T
 * (the block size: each step maps it to its larger configuration when T is
 * at least that configuration's threads, else to its smaller one, and says
 * which), --repeat R.
 * Exit status: 0 when every shape matched the reference, 1 otherwise, 2 when
 * it could not run (no GPU for a _cuda build, bad options).
 */
#pragma once
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/launch.h"

#if defined(__CUDACC__)
#include <cublas_v2.h>
#endif

// `#pragma unroll` under nvcc; g++ (the SIMT build) spells it `#pragma GCC unroll`.
#if defined(__CUDACC__)
#define LADDER_UNROLL _Pragma("unroll")
#else
#define LADDER_UNROLL _Pragma("GCC unroll 8")
#endif

namespace gemm_ladder {

#if defined(__CUDACC__)
constexpr bool kOnGpu = true;
inline void check_cuda(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "%s:%d: %s failed: %s\n", file, line, what, cudaGetErrorString(err));
    std::exit(2);
  }
}
inline void check_cublas(cublasStatus_t st, const char* what, const char* file, int line) {
  if (st != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s:%d: %s failed: %s\n", file, line, what, cublasGetStatusString(st));
    std::exit(2);
  }
}
#define LADDER_CUDA(call) ::gemm_ladder::check_cuda((call), #call, __FILE__, __LINE__)
#define LADDER_CUBLAS(call) ::gemm_ladder::check_cublas((call), #call, __FILE__, __LINE__)
#else
constexpr bool kOnGpu = false;
#endif

// Device memory of n floats (host memory under SIMT).
class Buffer {
 public:
  explicit Buffer(size_t n) : n_(n) {
#if defined(__CUDACC__)
    LADDER_CUDA(cudaMalloc(&p_, n * sizeof(float)));
#else
    p_ = new float[n];
#endif
  }
  ~Buffer() {
#if defined(__CUDACC__)
    cudaFree(p_);
#else
    delete[] p_;
#endif
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  float* get() const { return p_; }
  void upload(const std::vector<float>& v) {
#if defined(__CUDACC__)
    LADDER_CUDA(cudaMemcpy(p_, v.data(), n_ * sizeof(float), cudaMemcpyHostToDevice));
#else
    std::memcpy(p_, v.data(), n_ * sizeof(float));
#endif
  }
  std::vector<float> download() const {
    std::vector<float> v(n_);
#if defined(__CUDACC__)
    LADDER_CUDA(cudaMemcpy(v.data(), p_, n_ * sizeof(float), cudaMemcpyDeviceToHost));
#else
    std::memcpy(v.data(), p_, n_ * sizeof(float));
#endif
    return v;
  }
  // NaN bytes everywhere, so that an element of C the kernel failed to write shows.
  void poison() {
#if defined(__CUDACC__)
    LADDER_CUDA(cudaMemset(p_, 0xFF, n_ * sizeof(float)));
#else
    std::memset(p_, 0xFF, n_ * sizeof(float));
#endif
  }

 private:
  size_t n_;
  float* p_ = nullptr;
};

// Milliseconds of one run of `launch`: cudaEvents around it on a GPU (after
// flushing L2, so every run reads A and B from DRAM), wall time under SIMT.
template <class Launch>
double time_ms(Launch launch) {
#if defined(__CUDACC__)
  constexpr size_t kFlushFloats = 64u << 20;  // 256 MiB: larger than any GPU's L2 (H100: 50 MB)
  static Buffer flush(kFlushFloats);
  LADDER_CUDA(cudaMemset(flush.get(), 0, kFlushFloats * sizeof(float)));
  cudaEvent_t start, stop;
  LADDER_CUDA(cudaEventCreate(&start));
  LADDER_CUDA(cudaEventCreate(&stop));
  LADDER_CUDA(cudaEventRecord(start));
  launch();
  LADDER_CUDA(cudaEventRecord(stop));
  LADDER_CUDA(cudaEventSynchronize(stop));
  float ms = 0;
  LADDER_CUDA(cudaEventElapsedTime(&ms, start, stop));
  LADDER_CUDA(cudaEventDestroy(start));
  LADDER_CUDA(cudaEventDestroy(stop));
  return ms;
#else
  auto t0 = std::chrono::steady_clock::now();
  launch();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
#endif
}

// A reproducible input in [-1, 1) (a 32-bit LCG).
inline std::vector<float> make_input(size_t count, uint32_t seed) {
  std::vector<float> x(count);
  uint32_t s = seed * 2654435761u + 1;
  for (float& v : x) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  return x;
}

// The definition, in double: C[m][n] = sum_k A[m][k] B[k][n].
inline std::vector<double> reference(const std::vector<float>& A, const std::vector<float>& B, int M, int N, int K) {
  std::vector<double> C(static_cast<size_t>(M) * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) {
      const double a = A[static_cast<size_t>(m) * K + k];
      for (int n = 0; n < N; ++n) C[static_cast<size_t>(m) * N + n] += a * B[static_cast<size_t>(k) * N + n];
    }
  return C;
}

#if defined(__CUDACC__)
// cuBLAS SGEMM on the row-major problem: C^T = B^T A^T read column-major,
// i.e. the operands swapped and no transposes.
inline void cublas_gemm(cublasHandle_t h, const float* A, const float* B, float* C, int M, int N, int K) {
  const float one = 1.f, zero = 0.f;
  LADDER_CUBLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, M, K, &one, B, N, A, K, &zero, C, N));
}
#endif

struct Shape {
  int M, N, K;
};

struct Options {
  std::vector<Shape> shapes;
  int threads = 256;
  int repeat = 5;
};

inline Options parse(int argc, char** argv) {
  Options o;
  int M = 0, N = 0, K = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--m") M = value();
    else if (a == "--n") N = value();
    else if (a == "--k") K = value();
    else if (a == "--threads") o.threads = value();
    else if (a == "--repeat") o.repeat = value();
    else {
      std::fprintf(stderr, "usage: %s [--m M --n N --k K] [--threads T] [--repeat R]\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.threads < 32 || o.threads > 1024) {
    std::fprintf(stderr, "--threads must be in [32, 1024], got %d\n", o.threads);
    std::exit(2);
  }
  if (M > 0 && N > 0 && K > 0) o.shapes = {{M, N, K}};
  else if (kOnGpu) o.shapes = {{1024, 1024, 1024}, {2048, 2048, 2048}, {4096, 4096, 4096}};
  else o.shapes = {{67, 45, 39}, {100, 68, 36}};
  if (!kOnGpu && o.repeat > 2) o.repeat = 2;  // emulated times mean little; keep ctest quick
  return o;
}

// What every step provides: C = A B for row-major A (M, K), B (K, N), C (M,
// N), launched with about `threads` threads per block. Returns a short
// description of the configuration it chose (block shape, tile), for the report.
using Launcher = std::string (*)(const float* A, const float* B, float* C, int M, int N, int K, int threads);

// Checks one step on every shape and times it; returns the exit status.
inline int run_ladder_step(const char* name, Launcher launch, int argc, char** argv) {
  const Options o = parse(argc, argv);
#if defined(__CUDACC__)
  int devices = 0;
  if (const cudaError_t err = cudaGetDeviceCount(&devices); err != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "%s: no GPU (%s); the _simt build of this step runs anywhere\n", name,
                 err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device found");
    return 2;
  }
  cublasHandle_t handle;
  LADDER_CUBLAS(cublasCreate(&handle));
  cudaDeviceProp prop;
  LADDER_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("%s on %s\n", name, prop.name);
#else
  std::printf("%s on the SIMT runtime (times are the emulator's, not a GPU's)\n", name);
#endif
  int status = 0;
  for (const Shape& s : o.shapes) {
    const size_t size_a = static_cast<size_t>(s.M) * s.K, size_b = static_cast<size_t>(s.K) * s.N,
                 size_c = static_cast<size_t>(s.M) * s.N;
    const std::vector<float> A = make_input(size_a, 1 + s.M), B = make_input(size_b, 2 + s.N);
    Buffer dA(size_a), dB(size_b), dC(size_c);
    dA.upload(A);
    dB.upload(B);
    dC.poison();
    const std::string config = launch(dA.get(), dB.get(), dC.get(), s.M, s.N, s.K, o.threads);
#if defined(__CUDACC__)
    LADDER_CUDA(cudaGetLastError());
    LADDER_CUDA(cudaDeviceSynchronize());
#endif
    const std::vector<float> got = dC.download();
    // The reference: the CPU in double where that takes seconds at most,
    // else cuBLAS (on a GPU only; SIMT shapes are always small).
    const bool on_cpu = static_cast<double>(s.M) * s.N * s.K <= double(1 << 30);
    std::vector<double> want;
    if (on_cpu) {
      want = reference(A, B, s.M, s.N, s.K);
    } else {
#if defined(__CUDACC__)
      Buffer dRef(size_c);
      cublas_gemm(handle, dA.get(), dB.get(), dRef.get(), s.M, s.N, s.K);
      const std::vector<float> r = dRef.download();
      want.assign(r.begin(), r.end());
#endif
    }
    // Inputs in [-1, 1): C's elements are sums of K products of magnitude
    // <= 1, each add rounding at most half an ulp of a partial sum <= K; the
    // errors behave like a random walk, so 1e-6 K (several times that) is
    // safe, and still far below one dropped or doubled term (~0.3 on average).
    const double tol = 1e-5 + 1e-6 * s.K;
    int bad = 0;
    for (size_t i = 0; i < size_c; ++i) {
      if (!(std::fabs(got[i] - want[i]) <= tol)) {
        if (bad < 3)
          std::printf("  C[%zu][%zu]: got %.7g, want %.7g (tolerance %.2g)\n", i / s.N, i % s.N, got[i], want[i],
                      tol);
        ++bad;
      }
    }
    double best = 1e300;
    for (int i = 0; i < o.repeat; ++i)
      best = std::fmin(best, time_ms([&] { launch(dA.get(), dB.get(), dC.get(), s.M, s.N, s.K, o.threads); }));
    const double flops = 2.0 * s.M * s.N * s.K;
    std::printf("  %5d x %5d x %5d  %-42s %s  %9.3f ms  %8.1f GFLOP/s", s.M, s.N, s.K, config.c_str(),
                bad ? "MISMATCH" : "ok      ", best, flops / (best * 1e-3) / 1e9);
#if defined(__CUDACC__)
    double best_cublas = 1e300;
    Buffer dC2(size_c);
    cublas_gemm(handle, dA.get(), dB.get(), dC2.get(), s.M, s.N, s.K);  // warm-up
    for (int i = 0; i < o.repeat; ++i)
      best_cublas = std::fmin(best_cublas, time_ms([&] { cublas_gemm(handle, dA.get(), dB.get(), dC2.get(), s.M, s.N, s.K); }));
    std::printf("  | cuBLAS %8.1f GFLOP/s  -> %5.1f%%", flops / (best_cublas * 1e-3) / 1e9, 100.0 * best_cublas / best);
#endif
    std::printf("%s\n", on_cpu ? "" : "  (checked against cuBLAS)");
    if (bad) {
      std::printf("  %d of %zu elements differ\n", bad, size_c);
      status = 1;
    }
  }
#if defined(__CUDACC__)
  cublasDestroy(handle);
#endif
  return status;
}

}  // namespace gemm_ladder
