// launch_config.cpp: the block-size override behind kernels::block_threads().
#include <atomic>
#include "kernels/common.h"

namespace gesso::kernels {

namespace {
std::atomic<int> g_block_threads{0};  // 0: use each launcher's preferred size
}

int block_threads(int preferred) {
  int forced = g_block_threads.load(std::memory_order_relaxed);
  return forced > 0 ? forced : preferred;
}

ScopedBlockThreads::ScopedBlockThreads(int threads) : previous_(g_block_threads.exchange(threads)) {}
ScopedBlockThreads::~ScopedBlockThreads() { g_block_threads.store(previous_); }

}  // namespace gesso::kernels
