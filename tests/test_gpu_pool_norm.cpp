// test_gpu_pool_norm.cpp: the pooling, upsampling, norm and resize CUDA
// kernels on a real GPU against their CPU twins, and cuDNN's batch norm
// (GESSO_KERNELS=vendor) against them too (ctest label gpu). Without a GPU it
// prints why and exits 77, which ctest reports as skipped, never silently
// passed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tensor/device.h"

namespace {
const bool gpu_present = [] {
  std::string why;
  if (!gesso::cuda_available(&why)) {
    std::printf("test_gpu_pool_norm: skipped: no GPU (%s)\n", why.c_str());
    std::fflush(stdout);
    std::exit(77);
  }
  return true;
}();
}  // namespace

#define PARITY_DEVICE gesso::Device::cuda
#include "tests/parity_pool_norm.h"
