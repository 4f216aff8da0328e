/*
 * device_parity_cases.h: one TEST_CASE per op family, comparing the CUDA
 * kernels on PARITY_DEVICE with the CPU twins through parity::check at small
 * odd shapes. Included by test_simt_ops.cpp (PARITY_DEVICE = simt, every CI
 * run) and test_gpu_ops.cpp (cuda, on machines with a GPU).
 */
#pragma once
#include "tests/device_parity.h"

#ifndef PARITY_DEVICE
#error "define PARITY_DEVICE before including device_parity_cases.h"
#endif

namespace {
using gesso::Generator;
using gesso::Tensor;
using gesso::TensorOptions;

Tensor input(gesso::Shape s, uint64_t seed, bool grad = false) {
  Generator g(seed);
  return gesso::randn(s, g, TensorOptions().grad(grad));
}
}  // namespace

TEST_CASE("gram") {
  // Sums of HW products of N(0,1) values: float error grows like sqrt(HW) ulps.
  parity::check("gram", PARITY_DEVICE, [](const auto& v) { return gesso::gram(v[0], 0.25); },
                {input({2, 5, 7, 9}, 1)}, 1e-4, 1e-4, /*backward=*/false);
  parity::check("gram 19 channels", PARITY_DEVICE, [](const auto& v) { return gesso::gram(v[0], 1.0 / 33); },
                {input({1, 19, 3, 11}, 2)}, 1e-4, 1e-4, false);
}
