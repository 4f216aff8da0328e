/*
 * random.h: the Philox generator state. A Generator is a (seed, offset)
 * pair: the offset counts the 128-bit Philox blocks used so far, so the same
 * seed gives the same numbers on every device (the kernels in
 * kernels/random.h compute element i from (seed, offset + i/4) alone), and
 * the state saved in a checkpoint is just two integers.
 */
#pragma once
#include <cstdint>

namespace gesso {

struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;  // in Philox blocks of 4 x 32 bits
  explicit Generator(uint64_t s = 0) : seed(s) {}
  // Reserves enough blocks for `n` 32-bit draws and returns the first block.
  uint64_t advance(int64_t n) {
    uint64_t first = offset;
    offset += (static_cast<uint64_t>(n) + 3) / 4;
    return first;
  }
};

// The process-wide default generator (seed 0 until manual_seed is called).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace gesso
