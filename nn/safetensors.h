/*
 * safetensors.h: reading and writing the safetensors format, the file format
 * of gesso's weights and checkpoints, which the wider ecosystem reads too.
 *
 *   bytes 0..7    N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N  JSON: {"__metadata__": {str: str},
 *                        "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 *                 padded with spaces so that the data section starts at a multiple of 8
 *   the rest      the data section: raw little-endian, C-order values;
 *                 data_offsets are byte offsets relative to its start
 *
 * gesso writes F32 and F64 (tensors are moved to the CPU and made contiguous
 * first), laid out contiguously in name order, "__metadata__" first and left
 * out when empty. It reads F32 and F64, and also F16 and BF16, converted to
 * float32 (pretrained weights are sometimes published that way). Files are
 * written atomically (see tensor/atomic_file.h). Every malformed file is
 * reported naming the file and what was expected against what was found.
 */
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/state_dict.h"

namespace gesso::nn {

// One header entry, as stored in the file.
struct TensorInfo {
  std::string name;
  std::string dtype;  // "F32", "F64", "F16" or "BF16"
  Shape shape;
  uint64_t data_begin = 0;  // byte offsets relative to the data section
  uint64_t data_end = 0;
};

struct SafetensorsFile {
  StateDict tensors;
  std::map<std::string, std::string> metadata;
};

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Loads every tensor onto the CPU (F16/BF16 become float32).
SafetensorsFile load_safetensors(const std::string& path);

// Reads and checks the header only (fast on large files), in data order.
// The metadata is stored into *metadata when it is given.
std::vector<TensorInfo> read_safetensors_header(const std::string& path,
                                                std::map<std::string, std::string>* metadata = nullptr);

}  // namespace gesso::nn
