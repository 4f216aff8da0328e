// device.cpp: device names, "auto" resolution, and whether a GPU answers.
#include "tensor/device.h"

#include <cstdio>
#include "tensor/error.h"
#ifdef GESSO_HAVE_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace gesso {

const char* device_name(Device d) {
  switch (d) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
    case Device::simt: return "simt";
  }
  return "?";
}

bool cuda_available(std::string* why) {
#ifdef GESSO_HAVE_CUDA
  static std::string reason;
  static int count = cuda::device_count(&reason);
  if (count == 0 && why) *why = reason;
  return count > 0;
#else
  if (why) *why = "this build of gesso has no CUDA backend (nvcc was not found at configure time)";
  return false;
#endif
}

bool simt_available() {
#ifdef GESSO_HAVE_SIMT
  return true;
#else
  return false;
#endif
}

Device parse_device(const std::string& name, bool announce) {
  if (name == "cpu") return Device::cpu;
  if (name == "cuda" || name == "gpu") {
    std::string why;
    GESSO_CHECK(cuda_available(&why), "--device cuda: no GPU is available (", why, ")");
    return Device::cuda;
  }
  if (name == "simt") {
    GESSO_CHECK(simt_available(), "--device simt: this build has no SIMT runtime");
    return Device::simt;
  }
  if (name == "auto") {
    std::string why;
    if (cuda_available(&why)) {
      if (announce) std::fprintf(stderr, "gesso: device auto -> cuda\n");
      return Device::cuda;
    }
    if (announce) std::fprintf(stderr, "gesso: device auto -> cpu (no GPU: %s)\n", why.c_str());
    return Device::cpu;
  }
  fail("--device: expected one of auto, cpu, cuda, simt; got '", name, "'");
}

}  // namespace gesso
