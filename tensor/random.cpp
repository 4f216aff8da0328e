// random.cpp: the process-wide default Philox generator.
#include "tensor/random.h"

namespace gesso {

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) {
  default_generator() = Generator(seed);
}

}  // namespace gesso
