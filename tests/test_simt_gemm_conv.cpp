// test_simt_gemm_conv.cpp: the CUDA GEMM and convolution kernels, run on the
// CPU by the SIMT runtime, against their CPU twins (ctest label simt). The
// cases are in parity_gemm_conv.h, shared with the GPU run (test_gpu_gemm_conv.cpp).
#include "tensor/device.h"
#define PARITY_DEVICE gesso::Device::simt
#include "tests/parity_gemm_conv.h"
