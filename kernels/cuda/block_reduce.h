/*
 * block_reduce.h: the warp and block reductions that kernels/cuda/reduce.cu
 * and loss.cu share (the structure is rung v3 of the ladder in
 * bench/ladders/reduce/: shuffles within a warp, shared memory between
 * warps).
 *
 * An Op says how to combine accumulators:
 *   struct Op {
 *     using Acc = ...;                                  // trivially copyable
 *     __device__ Acc identity() const;                  // combine(identity, a) == a
 *     __device__ Acc combine(Acc a, Acc b) const;       // associative
 *     __device__ Acc shfl_down(Acc a, int delta) const; // __shfl_down_sync of each field, full mask
 *   };
 * Shuffles move built-in types only under nvcc, hence shfl_down per Op (an
 * Acc of two fields does two shuffles).
 *
 * Preconditions (the launchers check them): blockDim.x is a multiple of 32
 * and at most 1024, blockDim.y == blockDim.z == 1, and every thread of the
 * block calls block_reduce at the same place (it holds barriers).
 */
#pragma once
#include "kernels/cuda/launch.h"

namespace gesso::kernels::GESSO_CUDA_NS {

constexpr unsigned kFullWarpMask = 0xffffffffu;

// Lane 0 ends with the combination of the warp's 32 values (the others hold
// partial results).
template <class Op>
__device__ __forceinline__ typename Op::Acc warp_reduce(const Op& op, typename Op::Acc v) {
  for (int delta = 16; delta > 0; delta >>= 1) v = op.combine(v, op.shfl_down(v, delta));
  return v;
}

// Every thread of the block gets the combination of the block's values.
template <class Op>
__device__ typename Op::Acc block_reduce(const Op& op, typename Op::Acc v) {
  using Acc = typename Op::Acc;
  // One partial per warp (a block has at most 32 warps); slot 0 then carries
  // the block's total to every thread.
  __shared__ Acc warp_partials[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce(op, v);
  if (lane == 0) warp_partials[warp] = v;
  // Barrier: warp 0 reads the partials that the other warps' lane 0 wrote.
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? warp_partials[lane] : op.identity();
    v = warp_reduce(op, v);
    if (lane == 0) warp_partials[0] = v;
  }
  // Barrier: the total in slot 0 is written before anyone reads it.
  __syncthreads();
  const Acc total = warp_partials[0];
  // Barrier: everyone has read slot 0 before a later block_reduce of this
  // kernel (same Op, same shared array) overwrites it.
  __syncthreads();
  return total;
}

// Addition of doubles: what the sums and losses accumulate in.
struct SumDoubleOp {
  using Acc = double;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc shfl_down(Acc a, int delta) const { return __shfl_down_sync(kFullWarpMask, a, delta); }
};

}  // namespace gesso::kernels::GESSO_CUDA_NS
