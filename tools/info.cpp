// info.cpp: `gesso info`, what this build has and what this machine offers.
#include "tools/commands.h"

#include <omp.h>
#include <cstdio>

#include "kernels/gemm.h"
#include "tensor/device.h"

namespace gesso::tools {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "print the build's backends and the devices this machine offers");
  cmd->callback([]() {
    std::string why;
    bool cuda = cuda_available(&why);
#ifdef GESSO_HAVE_CUDA
    const char* cuda_built = "yes";
#else
    const char* cuda_built = "no";
#endif
#ifdef GESSO_HAVE_OPENBLAS
    const char* blas = "yes";
#else
    const char* blas = "no";
#endif
    std::printf("gesso build: CUDA backend %s, SIMT runtime %s, OpenBLAS %s\n", cuda_built,
                simt_available() ? "yes" : "no", blas);
    std::printf("CPU GEMM: %s (GESSO_GEMM=handwritten|openblas to choose)\n",
                kernels::gemm_backend_name(kernels::gemm_backend()));
    std::printf("CPU threads: %d (OMP_NUM_THREADS to choose)\n", omp_get_max_threads());
    if (cuda) std::printf("GPU: available\n");
    else std::printf("GPU: none (%s)\n", why.c_str());
  });
}

}  // namespace gesso::tools
