// test_simt_ops.cpp: every CUDA kernel, run on the CPU by the SIMT runtime,
// against its CPU twin (ctest label simt). The cases are in
// device_parity_cases.h, shared with the GPU run (test_gpu_ops.cpp).
#include "tensor/device.h"
#define PARITY_DEVICE gesso::Device::simt
#include "tests/device_parity_cases.h"
