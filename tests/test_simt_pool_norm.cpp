// test_simt_pool_norm.cpp: the pooling, upsampling, norm and resize CUDA
// kernels, run on the CPU by the SIMT runtime, against their CPU twins (ctest
// label simt). The cases are in parity_pool_norm.h, shared with the GPU run
// (test_gpu_pool_norm.cpp).
#include "tensor/device.h"
#define PARITY_DEVICE gesso::Device::simt
#include "tests/parity_pool_norm.h"
