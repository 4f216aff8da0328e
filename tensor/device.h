/*
 * device.h: where a tensor's memory lives and which twin of a kernel runs.
 *   cpu   host memory, kernels/cpu (always built)
 *   cuda  GPU memory, kernels/cuda compiled by nvcc (built when nvcc is found,
 *         usable when a driver and a GPU answer)
 *   simt  host memory, kernels/cuda compiled as C++ and run by the SIMT
 *         runtime (test/debug build; see docs/SIMT.md)
 */
#pragma once
#include <string>

namespace gesso {

enum class Device { cpu, cuda, simt };

const char* device_name(Device d);

// Parses "cpu", "cuda", "simt" or "auto". "auto" picks cuda when a GPU
// answers, else cpu; `announce` prints one line saying which and why.
Device parse_device(const std::string& name, bool announce = true);

// True when this build has the CUDA backend and a GPU answers. When it
// returns false, *why (if given) says why in one line.
bool cuda_available(std::string* why = nullptr);

// True when this build has the SIMT runtime compiled in.
bool simt_available();

}  // namespace gesso
