/*
 * random.h: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011), a counter-based generator: the value at a position
 * is a pure function of (seed, counter), so the CPU and CUDA twins produce
 * the same stream without sharing state, and any thread can start anywhere.
 *
 * Element i of a draw that starts at block `offset` comes from block
 * offset + i/4, lane i%4. Uniforms use the top 24 bits (exact in float);
 * normals pair lanes (0,1) and (2,3) through Box-Muller.
 */
#pragma once
#include <cmath>
#include <cstdint>
#include "kernels/common.h"

namespace gesso::kernels {

struct Philox4 { uint32_t v[4]; };

// The full generator: a 128-bit counter and a 64-bit key (Random123's
// philox4x32_10; its known-answer vectors are checked in tests/test_tensor.cpp).
GESSO_HD inline Philox4 philox4x32_10_raw(Philox4 ctr, uint32_t k0, uint32_t k1) {
  uint32_t c0 = ctr.v[0], c1 = ctr.v[1], c2 = ctr.v[2], c3 = ctr.v[3];
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// gesso's use: the block number is the counter's low 64 bits, the seed the key.
GESSO_HD inline Philox4 philox4x32_10(uint64_t counter, uint64_t seed) {
  Philox4 ctr{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u}};
  return philox4x32_10_raw(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits.
GESSO_HD inline double philox_unit(uint32_t bits) { return (bits >> 8) * (1.0 / 16777216.0); }

// The standard normal of one lane of a block: lanes (0,1) and (2,3) are
// Box-Muller pairs. Shared by philox_normal_at and the CUDA twin, which draws
// one block per thread and takes its four lanes.
GESSO_HD inline double philox_normal_lane(const Philox4& r, int lane) {
  int pair = lane & ~1;
  double u1 = ((r.v[pair] >> 8) + 1) * (1.0 / 16777216.0);  // (0, 1]: log is finite
  double u2 = philox_unit(r.v[pair + 1]);
  double radius = ::sqrt(-2.0 * ::log(u1));  // global names: gesso:: has Tensor overloads
  double angle = 6.283185307179586 * u2;
  return (lane & 1) ? radius * ::sin(angle) : radius * ::cos(angle);
}

GESSO_HD inline double philox_uniform_at(uint64_t seed, uint64_t offset, int64_t i) {
  Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(i) / 4, seed);
  return philox_unit(r.v[i % 4]);
}

GESSO_HD inline double philox_normal_at(uint64_t seed, uint64_t offset, int64_t i) {
  Philox4 r = philox4x32_10(offset + static_cast<uint64_t>(i) / 4, seed);
  return philox_normal_lane(r, static_cast<int>(i % 4));
}

// out[i] = lo + (hi - lo) * U_i, i in [0, n)
template <class T>
void philox_uniform_cpu(uint64_t seed, uint64_t offset, T* out, int64_t n, double lo, double hi);
// out[i] = mean + std * Z_i
template <class T>
void philox_normal_cpu(uint64_t seed, uint64_t offset, T* out, int64_t n, double mean, double std);

}  // namespace gesso::kernels

namespace gesso::kernels {
// CUDA twins (kernels/cuda/random.cu): the same numbers as the CPU twins for
// the same (seed, offset), float32. A uniform is the same float: the same
// double arithmetic, exact whenever (hi - lo) * U is (U has 24 bits: e.g.
// [0, 1), [-2, 3)); otherwise only a compiler's FMA contraction of
// lo + (hi - lo) * U could move a double's last bit and, very rarely, the
// float. A normal goes through the device's double log/sqrt/sin/cos, within
// an ulp or two of glibc's, so it agrees to about 1e-7 after rounding.
GESSO_DECLARE_CUDA_TWINS(
    void philox_uniform_cuda(uint64_t seed, uint64_t offset, float* out, int64_t n, double lo, double hi,
                             cudaStream_t stream);
    void philox_normal_cuda(uint64_t seed, uint64_t offset, float* out, int64_t n, double mean, double std,
                            cudaStream_t stream);)
}  // namespace gesso::kernels
