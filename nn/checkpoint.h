/*
 * checkpoint.h: everything a resumed training run needs, in ONE safetensors
 * file that other tools can still open:
 *
 *   tensors   "model.<name>", "optim.<name>", "extra.<name>"
 *   metadata  "gesso.format" = "gesso-checkpoint-1", "gesso.step",
 *             "gesso.rng_seed", "gesso.rng_offset" (decimal integers),
 *             "gesso.config" (the run's config as a JSON string)
 *
 * Written atomically, like every safetensors file gesso writes.
 */
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "nn/state_dict.h"
#include "tensor/random.h"

namespace gesso::nn {

struct Checkpoint {
  StateDict model;
  StateDict optimizer;
  StateDict extra;  // anything else a trainer wants back (EMA weights, fixed noise, ...)
  int64_t step = 0;
  Generator rng;
  nlohmann::json config;
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws, naming the file, when it is not a gesso checkpoint.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace gesso::nn
