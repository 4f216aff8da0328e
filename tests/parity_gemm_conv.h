/*
 * parity_gemm_conv.h: the CUDA GEMM and convolution kernels
 * (kernels/cuda/gemm.cu, conv.cu) on PARITY_DEVICE against the CPU, at small
 * odd shapes and two block sizes (256 threads -> the GEMM's 128x128 tiles, 64
 * -> 64x64 tiles and 64-thread blocks for the conv helpers):
 *   - the raw GEMM twin: all four transpose cases, alpha/beta (beta == 0 with
 *     NaN in C, which must not be read; alpha == 0; K == 0), tight and padded
 *     leading dimensions (scalar and float4 paths), a misaligned operand,
 *     batches with a shared operand, the padding of C left untouched;
 *   - matmul, bmm, linear with gradients, transposed views included;
 *   - conv2d forward and both gradients (stride, zero and reflection padding,
 *     dilation, non-square kernels, 1x1, bias), the conv twins' chunking
 *     (several images per chunk, parts of an image, one position) and the
 *     weight gradient's split-K, conv_transpose2d, reflection_pad2d.
 * Included by test_simt_gemm_conv.cpp (PARITY_DEVICE = simt, every CI run)
 * and test_gpu_gemm_conv.cpp (cuda; it also defines PARITY_VENDOR, which adds
 * the same checks with GESSO_KERNELS=vendor, i.e. cuBLAS and cuDNN, and
 * handwritten against vendor directly).
 *
 * Tolerances: the CPU references accumulate in double (the raw GEMM's) or in
 * float in another order (the ops'), the device kernels in float with FMA;
 * each sum of n products of N(0,1) values carries an error of about
 * sqrt(n) float ulps of its magnitude, so atol grows with the longest sum of
 * a case (stated at each).
 */
#pragma once
#include "tests/device_parity.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "autograd/ops/device_gemm_conv.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/kernel_impl.h"

#ifndef PARITY_DEVICE
#error "define PARITY_DEVICE before including parity_gemm_conv.h"
#endif

namespace gemm_conv_parity {

using gesso::Device;
using gesso::Generator;
using gesso::Tensor;
using gesso::TensorOptions;

inline Tensor input(gesso::Shape s, uint64_t seed, bool grad = false) {
  Generator g(seed);
  return gesso::randn(s, g, TensorOptions().grad(grad));
}

inline std::vector<float> random_floats(size_t n, uint64_t seed) {
  Generator g(seed);
  return gesso::randn({static_cast<int64_t>(n)}, g).to_vector<float>();
}

// A float buffer on PARITY_DEVICE holding `v`, and back.
inline Tensor on_device(const std::vector<float>& v) {
  return gesso::from_vector(v, {static_cast<int64_t>(v.size())}).to(PARITY_DEVICE);
}

// The conv twins' scratch budget on PARITY_DEVICE, restored at scope exit.
class ScopedColBudget {
 public:
  explicit ScopedColBudget(int64_t elements) : previous_(get()) { set(elements); }
  ~ScopedColBudget() { set(previous_); }

 private:
  static int64_t get() {
#ifdef GESSO_HAVE_CUDA
    if (PARITY_DEVICE == Device::cuda) return gesso::kernels::cuda::conv_col_budget_cuda();
#endif
    return gesso::kernels::simt::conv_col_budget_cuda();
  }
  static void set(int64_t e) {
#ifdef GESSO_HAVE_CUDA
    if (PARITY_DEVICE == Device::cuda) return gesso::kernels::cuda::set_conv_col_budget_cuda(e);
#endif
    gesso::kernels::simt::set_conv_col_budget_cuda(e);
  }
  int64_t previous_;
};

// One raw GEMM problem: C = alpha op(A) op(B) + beta C, stored with leading
// dimensions that are either tight (ld = columns) or padded to a multiple of
// 4 (the float4 path); `offset` floats before each matrix misalign it.
struct GemmCase {
  bool ta = false, tb = false;
  int64_t M = 1, N = 1, K = 1;
  float alpha = 1, beta = 0;
  bool padded = false;
  int64_t offset = 0;
  int64_t batch = 1;
  bool share_a = false;  // stride_a = 0: one A for every product
};

inline int64_t leading_dim(int64_t cols, bool padded) {
  return padded ? (cols + 1 + 3) / 4 * 4 : std::max<int64_t>(1, cols);
}

inline std::string describe(const GemmCase& c) {
  return gesso::str("gemm ta=", c.ta, " tb=", c.tb, " M=", c.M, " N=", c.N, " K=", c.K, " alpha=", c.alpha,
                    " beta=", c.beta, c.padded ? " padded" : " tight", " offset=", c.offset, " batch=", c.batch,
                    c.share_a ? " shared A" : "");
}

// Runs the case on PARITY_DEVICE (with the current kernel implementation)
// and checks every element of every C, padding included, against a double
// reference.
inline void check_gemm(const GemmCase& c, const std::string& what) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = leading_dim(a_cols, c.padded), ldb = leading_dim(b_cols, c.padded),
                ldc = leading_dim(c.N, c.padded);
  const int64_t size_a = std::max<int64_t>(1, a_rows * lda), size_b = std::max<int64_t>(1, b_rows * ldb),
                size_c = c.M * ldc;
  const int64_t stride_a = c.share_a ? 0 : size_a, stride_b = size_b, stride_c = size_c;
  const int64_t batches_a = c.share_a ? 1 : c.batch;
  std::vector<float> A = random_floats(c.offset + batches_a * size_a, 11), B = random_floats(c.offset + c.batch * size_b, 12);
  std::vector<float> C = random_floats(c.offset + c.batch * size_c, 13);
  const float sentinel = 777.f;  // in C's padding columns: must come back untouched
  for (int64_t z = 0; z < c.batch; ++z)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < ldc; ++n) {
        float& v = C[c.offset + z * stride_c + m * ldc + n];
        if (n >= c.N) v = sentinel;
        else if (c.beta == 0) v = std::numeric_limits<float>::quiet_NaN();  // must not be read
      }
  Tensor dA = on_device(A), dB = on_device(B), dC = on_device(C);
  gesso::ops_detail::device_gemm_batched(PARITY_DEVICE, c.batch, c.ta, c.tb, c.M, c.N, c.K, c.alpha,
                                         dA.data<float>() + c.offset, lda, stride_a, dB.data<float>() + c.offset, ldb,
                                         stride_b, c.beta, dC.data<float>() + c.offset, ldc, stride_c);
  const std::vector<float> got = dC.to(Device::cpu).to_vector<float>();
  // Sums of K products of N(0,1) values, in float on the device.
  const double atol = 1e-5 * (1 + std::sqrt(static_cast<double>(c.K))), rtol = 1e-5;
  int bad = 0;
  std::string first;
  for (int64_t z = 0; z < c.batch; ++z)
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < ldc; ++n) {
        const size_t at = static_cast<size_t>(c.offset + z * stride_c + m * ldc + n);
        double want = sentinel;
        if (n < c.N) {
          double acc = 0;
          for (int64_t k = 0; k < c.K; ++k) {
            const double a = A[c.offset + (c.share_a ? 0 : z * stride_a) + (c.ta ? k * lda + m : m * lda + k)];
            const double b = B[c.offset + z * stride_b + (c.tb ? n * ldb + k : k * ldb + n)];
            acc += a * b;
          }
          want = c.alpha * acc + (c.beta != 0 ? c.beta * static_cast<double>(C[at]) : 0.0);
        }
        const double err = std::abs(got[at] - want);
        if (!(err <= atol + rtol * std::abs(want))) {
          if (bad++ == 0) first = gesso::str(" first at batch ", z, " (", m, ", ", n, "): got ", got[at], " want ", want);
        }
      }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " elements differ;", first);
}

// The CPU reference of f at inputs (forward and the gradients of the inputs
// that require them, for a fixed random seed), then the same on
// PARITY_DEVICE at each forced block size, compared with atol + rtol |ref|.
// Like parity::check, with the block sizes named (256 reaches the GEMM's
// 128x128 tiles, which parity::check's default leaves to the size heuristic).
inline void check_blocks(const char* name, const parity::Fn& f, const std::vector<Tensor>& inputs, double atol,
                         double rtol) {
  std::vector<Tensor> cpu_in, dev_in;
  for (const Tensor& x : inputs) {
    cpu_in.push_back(x.detach().clone().requires_grad_(x.requires_grad()));
    dev_in.push_back(x.detach().to(PARITY_DEVICE).requires_grad_(x.requires_grad()));
  }
  Tensor want = f(cpu_in);
  Generator seed_gen(78);
  Tensor seed = gesso::randn(want.shape(), seed_gen);
  std::vector<Tensor> wrt_cpu, wrt_dev;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) {
      wrt_cpu.push_back(cpu_in[i]);
      wrt_dev.push_back(dev_in[i]);
    }
  std::vector<Tensor> want_grads;
  if (!wrt_cpu.empty()) want_grads = gesso::autograd::grad({want}, wrt_cpu, {seed});
  for (int threads : {256, 64}) {
    gesso::kernels::ScopedBlockThreads block(threads);
    const std::string what = gesso::str(name, " on ", gesso::device_name(PARITY_DEVICE), " (", threads,
                                        " threads, ", gesso::kernels::kernel_impl_name(gesso::kernels::kernel_impl()),
                                        ")");
    Tensor got = f(dev_in);
    CHECK_MESSAGE(got.device() == PARITY_DEVICE, what, ": result left the device");
    parity::expect_close(got, want, atol, rtol, what + " forward");
    if (wrt_dev.empty()) continue;
    std::vector<Tensor> got_grads = gesso::autograd::grad({got}, wrt_dev, {seed.to(PARITY_DEVICE)});
    for (size_t i = 0; i < got_grads.size(); ++i)
      parity::expect_close(got_grads[i], want_grads[i], atol, rtol, what + " grad of input " + std::to_string(i));
  }
}

inline gesso::Conv2dParams conv_params(int stride_h, int stride_w, int pad_h, int pad_w, int dil_h = 1, int dil_w = 1,
                                       gesso::PaddingMode mode = gesso::PaddingMode::zeros) {
  gesso::Conv2dParams p;
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  p.pad_h = pad_h;
  p.pad_w = pad_w;
  p.dilation_h = dil_h;
  p.dilation_w = dil_w;
  p.padding_mode = mode;
  return p;
}

// ---- the cases, shared by the handwritten run and (on a GPU) the vendor run

inline void raw_gemm_cases() {
  struct Size {
    int64_t M, N, K;
  };
  // Odd sizes around and across both tile sizes; K == 0 is C = beta C.
  const Size sizes[] = {{1, 1, 1}, {7, 5, 3}, {37, 29, 19}, {67, 45, 39}, {130, 129, 9}, {5, 6, 0}};
  const float scalars[][2] = {{1.f, 0.f}, {0.75f, -1.25f}, {0.f, 0.5f}};
  for (int threads : {256, 64}) {
    gesso::kernels::ScopedBlockThreads block(threads);
    for (const Size& s : sizes)
      for (int t = 0; t < 4; ++t)
        for (const auto& ab : scalars)
          for (bool padded : {false, true}) {
            GemmCase c;
            c.ta = t & 1;
            c.tb = t & 2;
            c.M = s.M;
            c.N = s.N;
            c.K = s.K;
            c.alpha = ab[0];
            c.beta = ab[1];
            c.padded = padded;
            check_gemm(c, describe(c) + gesso::str(" threads=", threads));
          }
    // Padded leading dimensions but a misaligned start: the scalar path.
    for (int t = 0; t < 4; ++t) {
      GemmCase c;
      c.ta = t & 1;
      c.tb = t & 2;
      c.M = 33;
      c.N = 21;
      c.K = 17;
      c.alpha = 1.5f;
      c.beta = 0.5f;
      c.padded = true;
      c.offset = 1;
      check_gemm(c, describe(c) + gesso::str(" threads=", threads));
    }
    // Batches: own operands, then one A shared by all (stride 0).
    for (bool share : {false, true}) {
      GemmCase c;
      c.ta = share;
      c.M = 19;
      c.N = 23;
      c.K = 13;
      c.beta = share ? 0.f : 1.f;
      c.padded = share;
      c.batch = 3;
      c.share_a = share;
      check_gemm(c, describe(c) + gesso::str(" threads=", threads));
    }
  }
}

inline void matmul_cases() {
  // Sums of at most 17 products: float error well below 1e-5 at these magnitudes.
  const double atol = 1e-5, rtol = 1e-5;
  check_blocks("matmul", [](const auto& v) { return gesso::matmul(v[0], v[1]); },
               {input({13, 17}, 1, true), input({17, 11}, 2, true)}, atol, rtol);
  // Transposed views reach the GEMM as transpose flags, not copies.
  check_blocks("matmul of transposes",
               [](const auto& v) { return gesso::matmul(v[0].transpose(0, 1), v[1].transpose(0, 1)); },
               {input({9, 7}, 3, true), input({5, 9}, 4, true)}, atol, rtol);
  check_blocks("bmm", [](const auto& v) { return gesso::bmm(v[0], v[1]); },
               {input({3, 9, 14}, 5, true), input({3, 14, 5}, 6, true)}, atol, rtol);
  check_blocks("bmm of transposes",
               [](const auto& v) { return gesso::bmm(v[0].transpose(1, 2), v[1]); },
               {input({2, 11, 7}, 7, true), input({2, 11, 3}, 8, true)}, atol, rtol);
  check_blocks("linear", [](const auto& v) { return gesso::linear(v[0], v[1], v[2]); },
               {input({2, 3, 7}, 9, true), input({5, 7}, 10, true), input({5}, 11, true)}, atol, rtol);
  check_blocks("linear without bias", [](const auto& v) { return gesso::linear(v[0], v[1]); },
               {input({4, 13}, 12, true), input({3, 13}, 13, true)}, atol, rtol);
}

// Forward sums run over C_in*kH*kW <= 64 products; the weight gradient over
// N*OH*OW <= ~700 positions: float error up to ~1e-4 of values of size ~30.
constexpr double kConvAtol = 3e-4, kConvRtol = 1e-4;

inline void conv_case(const char* name, gesso::Shape x, gesso::Shape w, const gesso::Conv2dParams& p, bool bias,
                      uint64_t seed) {
  std::vector<Tensor> in = {input(x, seed, true), input(w, seed + 1, true)};
  if (bias) in.push_back(input({w[0]}, seed + 2, true));
  check_blocks(
      name,
      [p, bias](const auto& v) { return gesso::conv2d(v[0], v[1], bias ? v[2] : Tensor(), p); }, in, kConvAtol,
      kConvRtol);
}

inline void conv2d_cases() {
  conv_case("conv2d 3x3 pad 1", {2, 3, 9, 11}, {5, 3, 3, 3}, conv_params(1, 1, 1, 1), true, 20);
  conv_case("conv2d 4x4 stride 2 pad 1 (DCGAN)", {2, 4, 10, 9}, {6, 4, 4, 4}, conv_params(2, 2, 1, 1), false, 23);
  conv_case("conv2d 3x2 dilation (2,3) stride (1,2) pad (2,1)", {1, 3, 11, 13}, {4, 3, 3, 2},
            conv_params(1, 2, 2, 1, 2, 3), true, 26);
  conv_case("conv2d 1x1", {3, 5, 7, 5}, {7, 5, 1, 1}, conv_params(1, 1, 0, 0), false, 29);
  conv_case("conv2d stride 3 larger than the kernel", {2, 2, 11, 10}, {3, 2, 2, 2}, conv_params(3, 3, 0, 1), true,
            32);
  conv_case("conv2d reflection padding (2,1)", {2, 3, 8, 7}, {4, 3, 3, 3},
            conv_params(1, 1, 2, 1, 1, 1, gesso::PaddingMode::reflect), true, 35);
  conv_case("conv2d reflection padding, stride 2", {1, 2, 9, 9}, {3, 2, 4, 4},
            conv_params(2, 2, 3, 3, 1, 1, gesso::PaddingMode::reflect), false, 38);
}

inline void conv2d_chunk_cases() {
  // x (5, 2, 6, 7), w (3, 2, 3, 3), pad 1: CKK = 18, C_out = 3, so 21 budget
  // elements per output position and 42 positions per image.
  const gesso::Shape x = {5, 2, 6, 7}, w = {3, 2, 3, 3};
  {
    ScopedColBudget budget(21 * 84);  // two whole images per chunk (the last one alone)
    conv_case("conv2d, chunks of 2 images", x, w, conv_params(1, 1, 1, 1), true, 41);
  }
  {
    ScopedColBudget budget(21 * 10);  // at most 10 positions: chunks of 9, 9, 9, 9, 6 per image, gx accumulated
    conv_case("conv2d, chunks of at most 10 positions", x, w, conv_params(1, 1, 1, 1), false, 44);
  }
  {
    ScopedColBudget budget(1);  // one position per chunk
    conv_case("conv2d, chunks of 1 position", {2, 2, 4, 5}, {3, 2, 2, 3}, conv_params(2, 1, 1, 1), true, 47);
  }
  // x (4, 3, 12, 13), w (4, 3, 3, 3), pad 1: 624 positions in one chunk and
  // a single 64x64 tile of gw, so the weight gradient splits K into 9 slices
  // of 68 positions plus a rest of 12.
  conv_case("conv2d weight gradient split over K", {4, 3, 12, 13}, {4, 3, 3, 3}, conv_params(1, 1, 1, 1), false, 50);
}

inline void conv_transpose_cases() {
  check_blocks(
      "conv_transpose2d 4x4 stride 2 pad 1 (DCGAN)",
      [](const auto& v) { return gesso::conv_transpose2d(v[0], v[1], v[2], conv_params(2, 2, 1, 1)); },
      {input({2, 6, 4, 5}, 60, true), input({6, 3, 4, 4}, 61, true), input({3}, 62, true)}, kConvAtol, kConvRtol);
  check_blocks(
      "conv_transpose2d stride (2,3) output padding (1,2) dilation 2",
      [](const auto& v) {
        return gesso::conv_transpose2d(v[0], v[1], Tensor(), conv_params(2, 3, 1, 2, 2, 2), 1, 2);
      },
      {input({1, 4, 5, 3}, 63, true), input({4, 5, 3, 2}, 64, true)}, kConvAtol, kConvRtol);
}

inline void reflection_pad_cases() {
  // Copies and sums of at most 9 values.
  check_blocks("reflection_pad2d (2, 3)", [](const auto& v) { return gesso::reflection_pad2d(v[0], 2, 3); },
               {input({2, 3, 5, 6}, 70, true)}, 1e-6, 1e-6);
  // pad = size - 1: every border pixel of gx gathers from both sides.
  check_blocks("reflection_pad2d at its limit", [](const auto& v) { return gesso::reflection_pad2d(v[0], 2, 3); },
               {input({1, 2, 3, 4}, 71, true)}, 1e-6, 1e-6);
}

}  // namespace gemm_conv_parity

TEST_CASE("gemm twin: transposes, alpha/beta, leading dimensions, alignment, batches") {
  gemm_conv_parity::raw_gemm_cases();
}

TEST_CASE("gemm twin: bad arguments throw naming them") {
  using gesso::ops_detail::device_gemm_batched;
  std::vector<float> buf(64, 0.f);
  gesso::Tensor d = gemm_conv_parity::on_device(buf);
  float* p = d.data<float>();
  CHECK_THROWS_WITH_AS(device_gemm_batched(PARITY_DEVICE, 1, false, false, -1, 2, 2, 1.f, p, 2, 0, p, 2, 0, 0.f, p,
                                           2, 0),
                       doctest::Contains("sizes must be >= 0"), gesso::Error);
  CHECK_THROWS_WITH_AS(device_gemm_batched(PARITY_DEVICE, 1, false, false, 3, 2, 4, 1.f, p, 3, 0, p, 2, 0, 0.f, p,
                                           2, 0),
                       doctest::Contains("lda must be >= 4"), gesso::Error);
  CHECK_THROWS_WITH_AS(device_gemm_batched(PARITY_DEVICE, 2, false, false, 3, 2, 4, 1.f, p, 4, 12, p, 2, 8, 0.f, p,
                                           2, 0),
                       doctest::Contains("stride_c must be >= "), gesso::Error);
}

TEST_CASE("matmul, bmm, linear with gradients") { gemm_conv_parity::matmul_cases(); }

TEST_CASE("conv2d forward and both gradients") { gemm_conv_parity::conv2d_cases(); }

TEST_CASE("conv2d chunking and split-K") { gemm_conv_parity::conv2d_chunk_cases(); }

TEST_CASE("conv_transpose2d with gradients") { gemm_conv_parity::conv_transpose_cases(); }

TEST_CASE("reflection_pad2d with gradients") { gemm_conv_parity::reflection_pad_cases(); }

TEST_CASE("GESSO_KERNELS names an implementation") {
  using gesso::kernels::KernelImpl;
  const char* old = std::getenv("GESSO_KERNELS");
  const std::string saved = old ? old : "";
  setenv("GESSO_KERNELS", "cublas", 1);
  CHECK_THROWS_WITH_AS(gesso::kernels::kernel_impl_from_env(),
                       doctest::Contains("GESSO_KERNELS: expected handwritten or vendor"), gesso::Error);
  setenv("GESSO_KERNELS", "vendor", 1);
  CHECK(gesso::kernels::kernel_impl_from_env() == KernelImpl::vendor);
  setenv("GESSO_KERNELS", "", 1);
  CHECK(gesso::kernels::kernel_impl_from_env() == KernelImpl::handwritten);
  if (old) setenv("GESSO_KERNELS", saved.c_str(), 1);
  else unsetenv("GESSO_KERNELS");
}

#if defined(PARITY_VENDOR)
// cuBLAS and cuDNN against the CPU, by the same cases, then against the
// handwritten kernels directly at sizes where both use their fast paths.
TEST_CASE("vendor: cuBLAS gemm") {
  gesso::kernels::ScopedKernelImpl vendor(gesso::kernels::KernelImpl::vendor);
  gemm_conv_parity::raw_gemm_cases();
  gemm_conv_parity::matmul_cases();
}

TEST_CASE("vendor: cuDNN convolutions") {
  REQUIRE_MESSAGE(gesso::kernels::cudnn_built(), "this CUDA build has no cuDNN (see the configure output)");
  gesso::kernels::ScopedKernelImpl vendor(gesso::kernels::KernelImpl::vendor);
  gemm_conv_parity::conv2d_cases();
  gemm_conv_parity::conv_transpose_cases();
}

TEST_CASE("handwritten against vendor, larger shapes") {
  using gesso::kernels::KernelImpl;
  using gesso::kernels::ScopedKernelImpl;
  auto both = [](const parity::Fn& f, const std::vector<gesso::Tensor>& in, double atol,
                 double rtol, const char* what) {
    gesso::Tensor hand, vend;
    {
      ScopedKernelImpl k(KernelImpl::handwritten);
      hand = f(in);
    }
    {
      ScopedKernelImpl k(KernelImpl::vendor);
      vend = f(in);
    }
    parity::expect_close(hand, vend.to(gesso::Device::cpu), atol, rtol, what);
  };
  using gemm_conv_parity::input;
  const auto cuda = gesso::Device::cuda;
  // Sums of 1000 products of N(0,1): float error ~ sqrt(1000) ulps of ~30.
  both([](const auto& v) { return gesso::matmul(v[0], v[1]); },
       {input({517, 1000}, 80).to(cuda), input({1000, 391}, 81).to(cuda)}, 1e-3, 1e-4, "matmul 517x1000x391");
  both([](const auto& v) { return gesso::matmul(v[0].transpose(0, 1), v[1]); },
       {input({1024, 256}, 82).to(cuda), input({1024, 512}, 83).to(cuda)}, 1e-3, 1e-4, "matmul A^T 256x1024x512");
  // A DCGAN discriminator layer: 128 -> 256 channels, 4x4 stride 2, 16x16 -> 8x8.
  both([](const auto& v) { return gesso::conv2d(v[0], v[1], gesso::Tensor(), gemm_conv_parity::conv_params(2, 2, 1, 1)); },
       {input({8, 128, 16, 16}, 84).to(cuda), input({256, 128, 4, 4}, 85).to(cuda)}, 1e-3, 1e-4,
       "conv2d 8x128x16x16 -> 256");
}
#endif
