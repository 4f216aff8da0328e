// kernel_impl.cpp: GESSO_KERNELS and the handwritten/vendor switch (kernel_impl.h).
#include "kernels/kernel_impl.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "tensor/error.h"

namespace gesso::kernels {

namespace {
std::once_flag g_env_once;
std::atomic<int> g_impl{-1};  // -1: not read yet
std::once_flag g_simt_note_once;
}  // namespace

const char* kernel_impl_name(KernelImpl k) { return k == KernelImpl::handwritten ? "handwritten" : "vendor"; }

KernelImpl kernel_impl_from_env() {
  const char* v = std::getenv("GESSO_KERNELS");
  const std::string s = v ? v : "";
  if (s.empty() || s == "handwritten") return KernelImpl::handwritten;
  if (s == "vendor") return KernelImpl::vendor;
  fail("GESSO_KERNELS: expected handwritten or vendor (or unset, meaning handwritten), got '", s, "'");
}

KernelImpl kernel_impl() {
  // The environment is read once; set_kernel_impl() before the first call wins over it.
  std::call_once(g_env_once, [] {
    int unset = -1;
    g_impl.compare_exchange_strong(unset, static_cast<int>(kernel_impl_from_env()));
  });
  return static_cast<KernelImpl>(g_impl.load());
}

void set_kernel_impl(KernelImpl k) {
  std::call_once(g_env_once, [] {});  // an explicit choice replaces the environment's
  g_impl.store(static_cast<int>(k));
}

ScopedKernelImpl::ScopedKernelImpl(KernelImpl k) : previous_(kernel_impl()) { set_kernel_impl(k); }
ScopedKernelImpl::~ScopedKernelImpl() { set_kernel_impl(previous_); }

bool cublas_built() {
#ifdef GESSO_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

bool cudnn_built() {
#ifdef GESSO_HAVE_CUDNN
  return true;
#else
  return false;
#endif
}

KernelImpl simt_kernel_impl(const char* op) {
  if (kernel_impl() == KernelImpl::vendor)
    std::call_once(g_simt_note_once, [op] {
      std::fprintf(stderr,
                   "gesso: GESSO_KERNELS=vendor: cuBLAS/cuDNN need a GPU; %s and every other op on the simt device "
                   "run the handwritten kernels\n",
                   op);
    });
  return KernelImpl::handwritten;
}

}  // namespace gesso::kernels
