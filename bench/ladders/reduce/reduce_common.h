/*
 * reduce_common.h: what every step of the reduction ladder shares (as
 * llm.c's dev/cuda/common.h): device buffers, a timer, the input, the check
 * against the CPU reference, and the report. Each reduce_vN.cu holds its
 * kernel, its launcher, the CPU reference and a main() that calls run_ladder_step.
 *
 * The problem: row sums of a row-major (rows, n) float matrix,
 *   out[r] = sum_k x[r * n + k],
 * the middle-axis reduction of kernels/reduce.h with inner = 1, in the two
 * regimes that matter: many short rows (sum over the last axis of a batch)
 * and a few long rows (a whole-tensor sum, a loss).
 *
 * Two builds of each step, from the same file:
 *   nvcc  reduce_vN_cuda: real GPU; timed with cudaEvent, the L2 cache
 *         flushed (a 256 MiB memset) before each timed run, GB/s = bytes
 *         read / time. Defaults: 16384 x 1024 and 4 x 4194304 (64 MiB each).
 *   g++   reduce_vN_simt: the SIMT runtime (docs/SIMT.md) runs the kernel on
 *         the CPU. Defaults: small odd shapes. Its GB/s is the emulator's
 *         and says nothing about a GPU; what it shows is that the kernel is
 *         correct (ctest runs each step this way, label simt).
 * Options: --rows R --n N (one shape instead of the defaults), --threads T
 * (block size, a power of two in [32, 1024]), --repeat K.
 * Exit status: 0 when every shape matched the reference, 1 otherwise.
 */
#pragma once
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/launch.h"

namespace ladder {

#if defined(__CUDACC__)
constexpr bool kOnGpu = true;
inline void check_cuda(cudaError_t err, const char* what, int line) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "reduce ladder: %s (line %d) failed: %s\n", what, line, cudaGetErrorString(err));
    std::exit(2);
  }
}
#define LADDER_CUDA(call) ::ladder::check_cuda((call), #call, __LINE__)
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
  // Poisons the buffer (NaN bytes), so that an output the kernel failed to write shows.
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
// flushing L2, so every run reads x from DRAM), wall time under SIMT.
template <class Launch>
double time_ms(Launch launch) {
#if defined(__CUDACC__)
  static Buffer flush(64u << 20);  // 256 MiB: larger than any GPU's L2 (H100: 50 MB)
  LADDER_CUDA(cudaMemset(flush.get(), 0, (64u << 20) * sizeof(float)));
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

// A reproducible input in [-1, 1) (a 32-bit LCG; the values only need to
// differ from row to row and not cancel exactly).
inline std::vector<float> make_input(size_t count, uint32_t seed) {
  std::vector<float> x(count);
  uint32_t s = seed * 2654435761u + 1;
  for (float& v : x) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
  }
  return x;
}

struct Options {
  std::vector<std::pair<int, int>> shapes;  // (rows, n)
  int threads = 256;
  int repeat = 5;
};

inline Options parse(int argc, char** argv) {
  Options o;
  int rows = 0, n = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--rows") rows = value();
    else if (a == "--n") n = value();
    else if (a == "--threads") o.threads = value();
    else if (a == "--repeat") o.repeat = value();
    else {
      std::fprintf(stderr, "usage: %s [--rows R --n N] [--threads T] [--repeat K]\n", argv[0]);
      std::exit(2);
    }
  }
  if (o.threads < 32 || o.threads > 1024 || (o.threads & (o.threads - 1)) != 0) {
    std::fprintf(stderr, "--threads must be a power of two in [32, 1024], got %d\n", o.threads);
    std::exit(2);
  }
  if (rows > 0 && n > 0) o.shapes = {{rows, n}};
  else if (kOnGpu) o.shapes = {{16384, 1024}, {4, 4194304}};
  else o.shapes = {{7, 1001}, {2, 20001}, {33, 65}};
  return o;
}

// The launcher every step provides: out[r] = sum of row r, for all rows.
using Launcher = void (*)(const float* x, float* out, int rows, int n, int threads);
using Reference = void (*)(const float* x, double* out, int rows, int n);

// Checks one step on every shape and times it; returns the exit status.
inline int run_ladder_step(const char* name, Launcher launch, Reference reference, int argc, char** argv) {
  const Options o = parse(argc, argv);
  int status = 0;
  for (const auto& shape : o.shapes) {
    const int rows = shape.first, n = shape.second;  // named copies: lambdas below capture them
    const size_t count = static_cast<size_t>(rows) * n;
    const std::vector<float> x = make_input(count, static_cast<uint32_t>(rows * 31 + n));
    std::vector<double> want(rows);
    reference(x.data(), want.data(), rows, n);
    Buffer dx(count), dout(rows);
    dx.upload(x);
    dout.poison();
    launch(dx.get(), dout.get(), rows, n, o.threads);
#if defined(__CUDACC__)
    LADDER_CUDA(cudaDeviceSynchronize());
#endif
    const std::vector<float> got = dout.download();
    // A float sum of n terms in [-1, 1), in any order: each of the n adds
    // rounds at the ulp of a partial sum (which stays about sqrt(n) + |sum|),
    // and those errors add up like a random walk, about sqrt(n) of them.
    // The tolerance is 4x that: far below one dropped or doubled element at
    // the sizes ctest runs.
    int bad = 0;
    for (int r = 0; r < rows; ++r) {
      const double root_n = std::sqrt(static_cast<double>(n));
      const double tol = 1e-5 + 4.0 * 6e-8 * root_n * (root_n + std::fabs(want[r]));
      if (!(std::fabs(got[r] - want[r]) <= tol)) {
        if (bad < 3) std::printf("  row %d: got %.7g, want %.7g (tolerance %.2g)\n", r, got[r], want[r], tol);
        ++bad;
      }
    }
    double best = 1e300;
    for (int i = 0; i < o.repeat; ++i) best = std::fmin(best, time_ms([&] { launch(dx.get(), dout.get(), rows, n, o.threads); }));
    const double gbps = static_cast<double>(count + rows) * sizeof(float) / (best * 1e-3) / 1e9;
    std::printf("%s  rows %6d  n %8d  threads %4d  %s  %9.4f ms  %8.2f GB/s%s\n", name, rows, n, o.threads,
                bad ? "MISMATCH" : "ok      ", best, gbps, kOnGpu ? "" : "  (SIMT emulation, not a GPU figure)");
    if (bad) status = 1;
  }
  return status;
}

}  // namespace ladder
