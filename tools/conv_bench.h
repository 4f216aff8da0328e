// conv_bench.h: `gesso gan bench --workload conv`: every convolution of the
// DCGAN-64 models timed alone (see tools/conv_bench.cpp); bench/compare_pytorch.py
// reads its JSON line and times the same shapes in PyTorch.
#pragma once
#include <cstdint>

#include <nlohmann/json.hpp>

namespace gesso::tools {

// Times forward and forward + backward (gradients to input and weight) of each
// DCGAN-64 convolution for `batch` images and widths `width`: `warmup` untimed
// runs, then the best of `steps` timed runs. Returns the JSON object printed.
nlohmann::json dcgan_conv_bench(int steps, int warmup, int64_t batch, int64_t width);

}  // namespace gesso::tools
