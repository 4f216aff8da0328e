/*
 * parity_pool_norm.h: the pooling, upsampling, normalisation and resize
 * kernels of kernels/cuda/{pool,norm,resize}.cu on PARITY_DEVICE against
 * their CPU twins, through the autograd ops, at small odd shapes and at two
 * block sizes (parity::check: the launchers' default and 64 threads),
 * forward and gradients. Included by test_simt_pool_norm.cpp (simt, every CI
 * run) and test_gpu_pool_norm.cpp (cuda, on machines with a GPU).
 *
 * Tolerances (|device - cpu| <= atol + rtol * |cpu|), by kind of kernel:
 *   - max pooling and the index gather/scatter move values without
 *     arithmetic (scatter adds at most ceil(k/s)^2 of them): 1e-6;
 *   - average pooling and upsampling add a handful of float terms per
 *     output, in another order in the backward (a gather instead of the
 *     CPU's scatter), with or without FMA contraction: 1e-5;
 *   - norms sum a group in float on the device, in double on the CPU, so
 *     the statistics differ by float rounding times sqrt(group size); the
 *     outputs are O(1) after normalisation: 1e-4.
 */
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/kernel_impl.h"
#include "tensor/image.h"
#include "tests/device_parity.h"

#ifndef PARITY_DEVICE
#error "define PARITY_DEVICE before including parity_pool_norm.h"
#endif

namespace pool_norm_parity {
using gesso::Generator;
using gesso::Shape;
using gesso::Tensor;
using gesso::TensorOptions;
using gesso::UpsampleMode;

inline Tensor input(Shape s, uint64_t seed, bool grad = false) {
  Generator g(seed);
  return gesso::randn(s, g, TensorOptions().grad(grad));
}

// The gradient of op at x for the upstream gradient w, as a function of w:
// the op's backward kernel run as a forward (w -> A^T w), and its own
// backward, the op again (seed -> A seed). x is a constant here.
template <class Op>
Tensor backward_as_function(const Tensor& x_const, const Tensor& w, Op op) {
  Tensor x = x_const.detach().requires_grad_(true);
  Tensor y = op(x);
  return gesso::autograd::grad({y}, {x}, {w}, /*retain_graph=*/false, /*create_graph=*/true)[0];
}

struct PoolCase {
  Shape shape;
  int kernel, stride, pad;
};
inline std::string describe(const PoolCase& c) {
  return gesso::shape_str(c.shape) + " k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " p" +
         std::to_string(c.pad);
}
// Non-overlapping windows, overlapping ones (pixels shared by up to 9
// windows: colliding atomics in max pooling's scatter) and padded ones.
inline const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {{2, 3, 9, 7}, 3, 2, 1}, {{1, 2, 7, 11}, 2, 2, 0}, {{2, 1, 5, 9}, 3, 1, 1}, {{1, 3, 6, 5}, 5, 3, 2}};
  return cases;
}

// Output sizes for upsampling a 5 x 7 image: exact 2x (nearest's shift path),
// non-integer up, down, mixed, and to one pixel.
struct UpsampleCase {
  int out_h, out_w;
};
inline const std::vector<UpsampleCase>& upsample_cases() {
  static const std::vector<UpsampleCase> cases = {{10, 14}, {8, 11}, {3, 4}, {13, 3}, {1, 1}};
  return cases;
}

}  // namespace pool_norm_parity

TEST_CASE("max_pool2d: forward and gradient") {
  using namespace pool_norm_parity;
  int seed = 10;
  for (const PoolCase& c : pool_cases()) {
    parity::check(("max_pool2d " + describe(c)).c_str(), PARITY_DEVICE,
                  [c](const auto& v) { return gesso::max_pool2d(v[0], c.kernel, c.stride, c.pad); },
                  {input(c.shape, ++seed, true)}, 1e-6, 1e-6);
  }
}

TEST_CASE("max_pool2d: the backward as a function (index scatter) and its backward (index gather)") {
  using namespace pool_norm_parity;
  int seed = 20;
  for (const PoolCase& c : pool_cases()) {
    const Tensor x = input(c.shape, ++seed);
    const Tensor y = gesso::max_pool2d(x, c.kernel, c.stride, c.pad);
    parity::check(("max_pool2d backward " + describe(c)).c_str(), PARITY_DEVICE,
                  [c](const auto& v) {
                    return backward_as_function(v[0], v[1], [c](const Tensor& t) {
                      return gesso::max_pool2d(t, c.kernel, c.stride, c.pad);
                    });
                  },
                  {x, input(y.shape(), ++seed, true)}, 1e-6, 1e-6);
  }
}

TEST_CASE("max_pool2d: NaN wins its windows on the device as on the CPU") {
  using namespace pool_norm_parity;
  std::vector<float> v = input({1, 1, 5, 6}, 30).to_vector<float>();
  v[3 * 6 + 3] = NAN;
  const Tensor x = gesso::from_vector(v, {1, 1, 5, 6});
  const std::vector<float> want = gesso::max_pool2d(x, 3, 2, 1).to_vector<float>();
  const std::vector<float> got = gesso::max_pool2d(x.to(PARITY_DEVICE), 3, 2, 1).to(gesso::Device::cpu).to_vector<float>();
  REQUIRE(got.size() == want.size());
  int nans = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(std::isnan(got[i]) == std::isnan(want[i]));
    if (!std::isnan(want[i])) CHECK(got[i] == want[i]);
    nans += std::isnan(want[i]) ? 1 : 0;
  }
  CHECK(nans == 4);  // pixel (3, 3) lies in the windows of outputs (1, 1), (1, 2), (2, 1), (2, 2)
}

TEST_CASE("avg_pool2d: forward, gradient, and the backward as a function") {
  using namespace pool_norm_parity;
  int seed = 40;
  for (const PoolCase& c : pool_cases()) {
    parity::check(("avg_pool2d " + describe(c)).c_str(), PARITY_DEVICE,
                  [c](const auto& v) { return gesso::avg_pool2d(v[0], c.kernel, c.stride, c.pad); },
                  {input(c.shape, ++seed, true)}, 1e-5, 1e-5);
    const Tensor x = input(c.shape, ++seed);
    const Tensor y = gesso::avg_pool2d(x, c.kernel, c.stride, c.pad);
    parity::check(("avg_pool2d backward " + describe(c)).c_str(), PARITY_DEVICE,
                  [c](const auto& v) {
                    return backward_as_function(v[0], v[1], [c](const Tensor& t) {
                      return gesso::avg_pool2d(t, c.kernel, c.stride, c.pad);
                    });
                  },
                  {x, input(y.shape(), ++seed, true)}, 1e-5, 1e-5);
  }
}

TEST_CASE("upsample2d: nearest and bilinear (both corner rules), forward and gradient") {
  using namespace pool_norm_parity;
  int seed = 60;
  struct Mode {
    UpsampleMode mode;
    bool align;
    const char* name;
  };
  for (const Mode m : {Mode{UpsampleMode::nearest, false, "nearest"}, Mode{UpsampleMode::bilinear, false, "bilinear"},
                       Mode{UpsampleMode::bilinear, true, "bilinear align_corners"}}) {
    for (const UpsampleCase& c : upsample_cases()) {
      const std::string name = std::string("upsample2d ") + m.name + " 5x7 -> " + std::to_string(c.out_h) + "x" +
                               std::to_string(c.out_w);
      parity::check(name.c_str(), PARITY_DEVICE,
                    [m, c](const auto& v) { return gesso::upsample2d(v[0], c.out_h, c.out_w, m.mode, m.align); },
                    {input({2, 3, 5, 7}, ++seed, true)}, 1e-5, 1e-5);
    }
  }
  // A one-pixel image (every output reads pixel 0 through both taps).
  parity::check("upsample2d bilinear 1x1 -> 3x4", PARITY_DEVICE,
                [](const auto& v) { return gesso::upsample2d(v[0], 3, 4, UpsampleMode::bilinear, false); },
                {input({1, 2, 1, 1}, 70, true)}, 1e-5, 1e-5);
}

TEST_CASE("batch_norm training: forward and the gradients of x, weight and bias") {
  using namespace pool_norm_parity;
  const auto bn = [](const auto& v) {
    return gesso::batch_norm(v[0], v.size() > 1 ? v[1] : Tensor(), v.size() > 2 ? v[2] : Tensor(), Tensor(), Tensor(),
                             /*training=*/true, 0.1, 1e-5);
  };
  // 84 values per channel (one or two warps' worth per block at either size).
  parity::check("batch_norm affine (4,5,3,7)", PARITY_DEVICE, bn,
                {input({4, 5, 3, 7}, 80, true), input({5}, 81, true), input({5}, 82, true)}, 1e-4, 1e-4);
  parity::check("batch_norm no affine (3,2,5,3)", PARITY_DEVICE, bn, {input({3, 2, 5, 3}, 83, true)}, 1e-4, 1e-4);
  // 1083 values per channel: a 256-thread block by default, several values per thread.
  parity::check("batch_norm (3,4,19,19)", PARITY_DEVICE, bn,
                {input({3, 4, 19, 19}, 84, true), input({4}, 85, true), input({4}, 86, true)}, 1e-4, 1e-4);
  // (N, C) input: HW = 1, a group of N values strided by C.
  parity::check("batch_norm (7,3)", PARITY_DEVICE, bn, {input({7, 3}, 87, true), input({3}, 88, true)}, 1e-4, 1e-4);
}

TEST_CASE("batch_norm training: a large common offset does not cancel the variance") {
  using namespace pool_norm_parity;
  // Values 1000 + N(0, 1): summed about the group's first value, the float
  // statistics keep their precision; E[x^2] - E[x]^2 in float would not.
  const Tensor x = gesso::add(input({4, 3, 5, 5}, 90), 1000.0).detach().requires_grad_(true);
  parity::check("batch_norm offset 1000", PARITY_DEVICE,
                [](const auto& v) { return gesso::batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); },
                {x}, 2e-3, 1e-3);  // x itself carries float rounding of 1000 (6e-5) into xhat
}

TEST_CASE("batch_norm eval: fixed statistics, forward and gradients") {
  using namespace pool_norm_parity;
  const Tensor mean = input({5}, 91);
  const Tensor var = gesso::add(gesso::mul(input({5}, 92), input({5}, 92)), 0.5).detach();
  parity::check("batch_norm eval (3,5,4,3)", PARITY_DEVICE,
                [](const auto& v) { return gesso::batch_norm(v[0], v[1], v[2], v[3], v[4], false, 0.1, 1e-5); },
                {input({3, 5, 4, 3}, 93, true), input({5}, 94, true), input({5}, 95, true), mean, var}, 1e-4, 1e-4);
}

TEST_CASE("batch_norm training: running statistics follow the CPU's") {
  using namespace pool_norm_parity;
  const Tensor x = input({3, 5, 4, 7}, 100);
  const Tensor mean0 = input({5}, 101), var0 = gesso::add(gesso::mul(mean0, mean0), 1.0).detach();
  Tensor cpu_mean = mean0.clone(), cpu_var = var0.clone();
  for (int step = 0; step < 2; ++step) gesso::batch_norm(x, Tensor(), Tensor(), cpu_mean, cpu_var, true, 0.25, 1e-5);
  for (int threads : {0, 64}) {
    gesso::kernels::ScopedBlockThreads block(threads);
    Tensor dev_mean = mean0.to(PARITY_DEVICE), dev_var = var0.to(PARITY_DEVICE);
    const Tensor xd = x.to(PARITY_DEVICE);
    for (int step = 0; step < 2; ++step) gesso::batch_norm(xd, Tensor(), Tensor(), dev_mean, dev_var, true, 0.25, 1e-5);
    const std::string what = "running stats (block threads " + std::to_string(threads) + ")";
    parity::expect_close(dev_mean, cpu_mean, 1e-5, 1e-5, what + " mean");
    parity::expect_close(dev_var, cpu_var, 1e-5, 1e-5, what + " var");
  }
}

TEST_CASE("batch_norm with GESSO_KERNELS=vendor: cuDNN on a GPU, the handwritten kernels on simt") {
  using namespace pool_norm_parity;
  if (PARITY_DEVICE == gesso::Device::cuda && !gesso::kernels::cudnn_built()) {
    MESSAGE("this CUDA build has no cuDNN: the vendor batch norm is not built");
    return;
  }
  gesso::kernels::ScopedKernelImpl vendor(gesso::kernels::KernelImpl::vendor);
  const auto bn = [](const auto& v) {
    return gesso::batch_norm(v[0], v.size() > 1 ? v[1] : Tensor(), v.size() > 2 ? v[2] : Tensor(), Tensor(), Tensor(),
                             true, 0.1, 1e-5);
  };
  parity::check("batch_norm vendor affine (4,5,3,7)", PARITY_DEVICE, bn,
                {input({4, 5, 3, 7}, 110, true), input({5}, 111, true), input({5}, 112, true)}, 1e-4, 1e-4);
  parity::check("batch_norm vendor no affine (3,2,5,3)", PARITY_DEVICE, bn, {input({3, 2, 5, 3}, 113, true)}, 1e-4,
                1e-4);
  const Tensor mean = input({5}, 114);
  const Tensor var = gesso::add(gesso::mul(mean, mean), 0.5).detach();
  parity::check("batch_norm vendor eval (3,5,4,3)", PARITY_DEVICE,
                [](const auto& v) { return gesso::batch_norm(v[0], v[1], v[2], v[3], v[4], false, 0.1, 1e-5); },
                {input({3, 5, 4, 3}, 115, true), input({5}, 116, true), input({5}, 117, true), mean, var}, 1e-4, 1e-4);
  // Running statistics through cuDNN's fused update.
  const Tensor x = input({3, 5, 4, 7}, 118);
  Tensor cpu_mean = mean.clone(), cpu_var = var.clone();
  gesso::batch_norm(x, Tensor(), Tensor(), cpu_mean, cpu_var, true, 0.25, 1e-5);
  Tensor dev_mean = mean.to(PARITY_DEVICE), dev_var = var.to(PARITY_DEVICE);
  gesso::batch_norm(x.to(PARITY_DEVICE), Tensor(), Tensor(), dev_mean, dev_var, true, 0.25, 1e-5);
  parity::expect_close(dev_mean, cpu_mean, 1e-5, 1e-5, "vendor running mean");
  parity::expect_close(dev_var, cpu_var, 1e-5, 1e-5, "vendor running var");
}

TEST_CASE("instance_norm: forward and gradients") {
  using namespace pool_norm_parity;
  parity::check("instance_norm affine (3,4,5,7)", PARITY_DEVICE,
                [](const auto& v) { return gesso::instance_norm(v[0], v[1], v[2], 1e-5); },
                {input({3, 4, 5, 7}, 120, true), input({4}, 121, true), input({4}, 122, true)}, 1e-4, 1e-4);
  parity::check("instance_norm no affine (2,3,9,11)", PARITY_DEVICE,
                [](const auto& v) { return gesso::instance_norm(v[0], Tensor(), Tensor(), 1e-5); },
                {input({2, 3, 9, 11}, 123, true)}, 1e-4, 1e-4);
}

TEST_CASE("layer_norm: forward and gradients") {
  using namespace pool_norm_parity;
  parity::check("layer_norm (5,3,7) over (3,7)", PARITY_DEVICE,
                [](const auto& v) { return gesso::layer_norm(v[0], {3, 7}, v[1], v[2], 1e-5); },
                {input({5, 3, 7}, 130, true), input({3, 7}, 131, true), input({3, 7}, 132, true)}, 1e-4, 1e-4);
  parity::check("layer_norm (9,37) no affine", PARITY_DEVICE,
                [](const auto& v) { return gesso::layer_norm(v[0], {37}, Tensor(), Tensor(), 1e-5); },
                {input({9, 37}, 133, true)}, 1e-4, 1e-4);
  // 301 columns: several warps per row and ten 32-column tiles for the
  // parameter sums, the last one partial.
  parity::check("layer_norm (6,301)", PARITY_DEVICE,
                [](const auto& v) { return gesso::layer_norm(v[0], {301}, v[1], v[2], 1e-5); },
                {input({6, 301}, 134, true), input({301}, 135, true), input({301}, 136, true)}, 1e-4, 1e-4);
}

TEST_CASE("resize_image: bilinear up, area down, mixed, one pixel") {
  using namespace pool_norm_parity;
  struct Case {
    Shape shape;
    int out_h, out_w;
  };
  int seed = 140;
  for (const Case& c : {Case{{3, 5, 7}, 11, 16}, Case{{2, 3, 13, 17}, 4, 6}, Case{{3, 9, 4}, 3, 11},
                        Case{{1, 1, 1}, 3, 2}, Case{{3, 6, 8}, 6, 8}}) {
    const std::string name = "resize_image " + gesso::shape_str(c.shape) + " -> " + std::to_string(c.out_h) + "x" +
                             std::to_string(c.out_w);
    // Both twins sum in double; the difference is the last rounding to float.
    parity::check(name.c_str(), PARITY_DEVICE,
                  [c](const auto& v) { return gesso::resize_image(v[0], c.out_h, c.out_w); },
                  {input(c.shape, ++seed)}, 1e-6, 1e-6, /*backward=*/false);
  }
}
