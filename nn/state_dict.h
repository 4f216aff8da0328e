/*
 * state_dict.h: a named set of tensors, the unit that is saved and loaded.
 * Names follow PyTorch's dotted paths ("features.0.weight",
 * "main.1.running_mean"), so files interoperate with the wider ecosystem.
 */
#pragma once
#include <map>
#include <string>
#include "tensor/tensor.h"

namespace gesso::nn {

using StateDict = std::map<std::string, Tensor>;

}  // namespace gesso::nn
