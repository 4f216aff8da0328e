/*
 * kernel_impl.h: which implementation runs an op on a GPU: gesso's own
 * handwritten CUDA kernels (the .cu files of kernels/cuda, the default) or the
 * vendor libraries beside them, the yardsticks (kernels/cuda/vendor: cuBLAS for
 * GEMM, cuDNN for convolution and batch norm).
 *
 *   GESSO_KERNELS=handwritten|vendor     read once, at the first device op
 *                                        that has a vendor twin; unset or
 *                                        empty means handwritten, anything
 *                                        else is an error naming the variable
 *   set_kernel_impl() / ScopedKernelImpl change it at run time (tests, benchmarks)
 *
 * The choice concerns Device::cuda only. The simt device has no vendor
 * libraries (they need a GPU): there `vendor` falls back to the handwritten
 * kernels, and the first such op prints one note on stderr saying so, so the
 * simt tests still exercise gesso's own kernels. Asking for vendor on cuda in
 * a build without the library (cuDNN is optional at configure time) throws,
 * naming the op and the library.
 */
#pragma once

namespace gesso::kernels {

enum class KernelImpl { handwritten, vendor };

const char* kernel_impl_name(KernelImpl k);
// The implementation GESSO_KERNELS asks for (handwritten when unset or
// empty); throws gesso::Error naming the variable for any other value.
KernelImpl kernel_impl_from_env();
// The current choice; the first call reads GESSO_KERNELS.
KernelImpl kernel_impl();
void set_kernel_impl(KernelImpl k);

class ScopedKernelImpl {
 public:
  explicit ScopedKernelImpl(KernelImpl k);
  ~ScopedKernelImpl();
  ScopedKernelImpl(const ScopedKernelImpl&) = delete;
  ScopedKernelImpl& operator=(const ScopedKernelImpl&) = delete;

 private:
  KernelImpl previous_;
};

// What this build links: cuBLAS comes with every CUDA build; cuDNN when
// configure found it (it says so in one line either way).
bool cublas_built();
bool cudnn_built();

// The simt device's answer to `vendor`: prints the one-time note (once per
// process) and returns handwritten. `op` names the op that asked first.
KernelImpl simt_kernel_impl(const char* op);

}  // namespace gesso::kernels
