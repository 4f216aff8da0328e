/*
 * gemm.cu: single-precision GEMM on the GPU and, compiled as C++, on the SIMT
 * runtime; the CUDA twin of kernels/gemm.h's gemm_cpu / gemm_batched_cpu.
 *
 *   C = alpha * op(A) * op(B) + beta * C       (row-major, as on the CPU)
 *   op(A) is M x K: A stored M x K (trans_a = false, A[m * lda + k]) or K x M (A[k * lda + m])
 *   op(B) is K x N: B stored K x N (trans_b = false, B[k * ldb + n]) or N x K (B[n * ldb + k])
 *   C is M x N, C[m * ldc + n]; C is not read when beta == 0, and C = beta * C
 *   when K == 0 or alpha == 0 (BLAS's rules, as on the CPU).
 *
 * Versions: the numbers are the steps of the ladder in bench/ladders/gemm/,
 * where each one is a file with a CPU check and a timing; read those first.
 *   v1  one thread per element of C                                (ladder only)
 *   v2  32x32 tiles of A and B staged in shared memory             (ladder only)
 *   v3  each thread computes 8 elements of a column (1-d tiling)   (ladder only)
 *   v4  each thread computes an 8x8 block (2-d register tiling)    (ladder only)
 *   v5  float4 loads, A stored k-major in shared memory, the 8x8 block split
 *       into four 4x4 blocks so that shared reads are conflict-free (ladder only)
 *   kernel6 (here) v5 plus double buffering: the next tile's global loads
 *       are issued into registers before the current tile's FMAs, and two
 *       shared buffers leave one barrier per tile instead of two. This file
 *       adds what the ladder leaves out: the four transpose cases, alpha and
 *       beta, leading dimensions, batches, and a scalar path for operands
 *       that are not 16-byte aligned.
 *
 * Block tile BM x BN, depth BK = 8, each thread an 8x8 block of C held in 64
 * registers. Two configurations: 128x128 with 256 threads (large problems)
 * and 64x64 with 64 threads (problems whose 128-tiles would leave most SMs
 * idle); block_threads(preferred) can force either, so the parity tests run
 * both (256 -> 128x128, anything smaller -> 64x64).
 *
 * Per k-step a thread reads 8 values of A and 8 of B from shared memory for
 * 64 FMAs (4 FMAs per shared load), and per tile a block reads
 * (BM + BN) * BK floats from global memory for BM * BN * BK FMAs. That ratio
 * is what lifts the kernel from v1's ~1 FMA per global load to compute-bound.
 *
 * Design target (bench/bench_cuda_gemm.cpp): 70% or more of cuBLAS FP32 at
 * 4096^3 on an A100/H100. No tensor cores, no cp.async, no inline PTX: the
 * kernel must run under the SIMT runtime (docs/SIMT.md), which is how
 * `ctest -L simt` checks it on machines without a GPU.
 *
 * Built into gesso_cuda by nvcc and into gesso_simt_kernels by g++.
 */
#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/cuda/launch.h"
#include "kernels/gemm.h"

// `#pragma unroll` under nvcc; g++ (the SIMT build) spells it `#pragma GCC unroll`.
#if defined(__CUDACC__)
#define GESSO_UNROLL _Pragma("unroll")
#else
#define GESSO_UNROLL _Pragma("GCC unroll 8")
#endif

namespace gesso::kernels::GESSO_CUDA_NS {

namespace {

// One GEMM of a batch: sizes, scalars, and where its operands live. Matrix z
// of the batch starts at A + z * stride_a (and likewise for B and C).
struct GemmArgs {
  int M, N, K;
  float alpha, beta;
  const float* A;
  int64_t lda, stride_a;
  const float* B;
  int64_t ldb, stride_b;
  float* C;
  int64_t ldc, stride_c;
};

// Shared-memory rows are padded by 4 floats: a multiple of 4 keeps every row
// 16-byte aligned for float4 reads, and the shift of 4 banks per row makes
// the transposed (column-wise) stores of a warp hit 32 different banks.
constexpr int kPad = 4;

// Reads 4 consecutive floats of row r, columns c .. c+3, of a row-major
// matrix with `rows` x `cols` elements and leading dimension ld; elements
// outside it read as 0, so the tile loops need no bounds checks. VEC: the
// matrix and ld are 16-byte aligned, so an in-range group is one float4 load.
template <bool VEC>
__device__ __forceinline__ float4 load_group(const float* p, int64_t ld, int r, int c, int rows, int cols) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (r < rows) {
    const float* q = p + static_cast<int64_t>(r) * ld + c;
    if (VEC && c + 3 < cols) {
      v = *reinterpret_cast<const float4*>(q);
    } else {
      if (c < cols) v.x = q[0];
      if (c + 1 < cols) v.y = q[1];
      if (c + 2 < cols) v.z = q[2];
      if (c + 3 < cols) v.w = q[3];
    }
  }
  return v;
}

// Writes alpha * acc + beta * C to row r, columns c .. c+3 (those < cols).
template <bool VEC>
__device__ __forceinline__ void store_group(float* C, int64_t ldc, int r, int c, int rows, int cols, float alpha,
                                            float beta, float a0, float a1, float a2, float a3) {
  if (r >= rows) return;  // no barrier follows: the epilogue is the kernel's last step
  float* q = C + static_cast<int64_t>(r) * ldc + c;
  if (VEC && c + 3 < cols) {
    float4 v = make_float4(alpha * a0, alpha * a1, alpha * a2, alpha * a3);
    if (beta != 0.f) {
      const float4 old = *reinterpret_cast<const float4*>(q);
      v.x += beta * old.x;
      v.y += beta * old.y;
      v.z += beta * old.z;
      v.w += beta * old.w;
    }
    *reinterpret_cast<float4*>(q) = v;
  } else {
    const float a[4] = {a0, a1, a2, a3};
    for (int j = 0; j < 4; ++j)
      if (c + j < cols) q[j] = beta != 0.f ? alpha * a[j] + beta * q[j] : alpha * a[j];
  }
}

// Block (bx, by, z) computes C_z[by*BM .. +BM][bx*BN .. +BN]; thread (tx, ty)
// (tx = tid % (BN/8)) owns rows {ty*4 .. +4} and {BM/2 + ty*4 .. +4} and
// columns {tx*4 .. +4} and {BN/2 + tx*4 .. +4} of it: four 4x4 blocks.
template <int BM, int BN, int BK, bool TRANS_A, bool TRANS_B, bool VEC>
__global__ void __launch_bounds__((BM / 8) * (BN / 8), 2)
    gemm_kernel6(GemmArgs g) {
  constexpr int kThreads = (BM / 8) * (BN / 8);
  // float4 groups of the A tile (BM x BK) and the B tile (BK x BN) per thread.
  constexpr int kGroupsA = BM * BK / 4 / kThreads;
  constexpr int kGroupsB = BN * BK / 4 / kThreads;
  static_assert(kGroupsA * 4 * kThreads == BM * BK && kGroupsB * 4 * kThreads == BN * BK,
                "the tiles split into whole float4 groups per thread");

  // As[buf][k][m] = op(A)[m0 + m][k0 + k]: k-major, so that a thread reads
  // its 8 values of A for one k as two float4. Bs[buf][k][n] = op(B)[k0 + k][n0 + n].
  // Two buffers: the FMAs read one while the next tile is stored into the other.
  __shared__ __align__(16) float As[2][BK][BM + kPad];
  __shared__ __align__(16) float Bs[2][BK][BN + kPad];

  const int tid = threadIdx.x;
  const int tx = tid % (BN / 8), ty = tid / (BN / 8);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const float* A = g.A + blockIdx.z * g.stride_a;
  const float* B = g.B + blockIdx.z * g.stride_b;
  float* C = g.C + blockIdx.z * g.stride_c;

  // The next tile's groups, held in registers between their global load and
  // their store to shared memory.
  float4 next_a[kGroupsA], next_b[kGroupsB];

  // Global -> registers for the tile starting at k0. Consecutive threads read
  // consecutive float4 groups of the stored matrix (coalesced): along k when
  // A is M x K, along m when it is stored K x M; likewise for B.
  auto load_tile = [&](int k0) {
GESSO_UNROLL
    for (int i = 0; i < kGroupsA; ++i) {
      const int l = tid + i * kThreads;
      if (!TRANS_A) next_a[i] = load_group<VEC>(A, g.lda, m0 + l / (BK / 4), k0 + (l % (BK / 4)) * 4, g.M, g.K);
      else next_a[i] = load_group<VEC>(A, g.lda, k0 + l / (BM / 4), m0 + (l % (BM / 4)) * 4, g.K, g.M);
    }
GESSO_UNROLL
    for (int i = 0; i < kGroupsB; ++i) {
      const int l = tid + i * kThreads;
      if (!TRANS_B) next_b[i] = load_group<VEC>(B, g.ldb, k0 + l / (BN / 4), n0 + (l % (BN / 4)) * 4, g.K, g.N);
      else next_b[i] = load_group<VEC>(B, g.ldb, n0 + l / (BK / 4), k0 + (l % (BK / 4)) * 4, g.N, g.K);
    }
  };
  // Registers -> shared buffer `buf`: a group read along k is transposed
  // into a column of As (or Bs); one read along m (or n) is one float4 store.
  auto store_tile = [&](int buf) {
GESSO_UNROLL
    for (int i = 0; i < kGroupsA; ++i) {
      const int l = tid + i * kThreads;
      if (!TRANS_A) {
        const int m = l / (BK / 4), k = (l % (BK / 4)) * 4;
        As[buf][k + 0][m] = next_a[i].x;
        As[buf][k + 1][m] = next_a[i].y;
        As[buf][k + 2][m] = next_a[i].z;
        As[buf][k + 3][m] = next_a[i].w;
      } else {
        *reinterpret_cast<float4*>(&As[buf][l / (BM / 4)][(l % (BM / 4)) * 4]) = next_a[i];
      }
    }
GESSO_UNROLL
    for (int i = 0; i < kGroupsB; ++i) {
      const int l = tid + i * kThreads;
      if (!TRANS_B) {
        *reinterpret_cast<float4*>(&Bs[buf][l / (BN / 4)][(l % (BN / 4)) * 4]) = next_b[i];
      } else {
        const int n = l / (BK / 4), k = (l % (BK / 4)) * 4;
        Bs[buf][k + 0][n] = next_b[i].x;
        Bs[buf][k + 1][n] = next_b[i].y;
        Bs[buf][k + 2][n] = next_b[i].z;
        Bs[buf][k + 3][n] = next_b[i].w;
      }
    }
  };

  float acc[8][8];
GESSO_UNROLL
  for (int i = 0; i < 8; ++i)
GESSO_UNROLL
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  const int tiles = (g.K + BK - 1) / BK;
  load_tile(0);
  store_tile(0);
  // Barrier: tile 0 is in buffer 0 before any thread reads it.
  __syncthreads();

  for (int t = 0; t < tiles; ++t) {
    const int buf = t & 1;
    const bool more = t + 1 < tiles;  // the same for every thread: the barrier below is uniform
    // Issue tile t+1's global loads now; their latency hides behind the FMAs below.
    if (more) load_tile((t + 1) * BK);
GESSO_UNROLL
    for (int k = 0; k < BK; ++k) {
      // Within a warp the a reads are broadcasts (2 or 4 distinct addresses)
      // and the b reads cover consecutive float4s: no bank conflicts.
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[buf][k][BM / 2 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&Bs[buf][k][BN / 2 + tx * 4]);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
GESSO_UNROLL
      for (int i = 0; i < 8; ++i)
GESSO_UNROLL
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // Buffer buf ^ 1 was last read in iteration t-1, and every thread has
    // passed the barrier that ended it, so it is free to overwrite.
    if (more) store_tile(buf ^ 1);
    // Barrier: (1) tile t+1 is complete in buf ^ 1 before iteration t+1 reads
    // it; (2) every thread is done reading buf before iteration t+1 stores
    // tile t+2 into it.
    __syncthreads();
  }

GESSO_UNROLL
  for (int i = 0; i < 8; ++i) {
    const int r = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
    store_group<VEC>(C, g.ldc, r, n0 + tx * 4, g.M, g.N, g.alpha, g.beta, acc[i][0], acc[i][1], acc[i][2],
                     acc[i][3]);
    store_group<VEC>(C, g.ldc, r, n0 + BN / 2 + tx * 4, g.M, g.N, g.alpha, g.beta, acc[i][4], acc[i][5],
                     acc[i][6], acc[i][7]);
  }
}

// C = beta * C (0 when beta == 0, whatever C held): the whole GEMM when K == 0
// or alpha == 0, where BLAS reads neither A nor B. One thread per element of
// a row chunk; blockIdx.y is the row, blockIdx.z the batch entry.
__global__ void gemm_scale_kernel(float* C, int N, int64_t ldc, int64_t stride_c, float beta) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;  // no barrier in this kernel
  float* c = C + blockIdx.z * stride_c + static_cast<int64_t>(blockIdx.y) * ldc + n;
  *c = beta != 0.f ? beta * *c : 0.f;
}

constexpr int64_t kMaxGridYZ = 65535;

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <int BM, int BN, bool TRANS_A, bool TRANS_B, bool VEC>
void launch6(const GemmArgs& g, int batch, cudaStream_t stream) {
  constexpr int kBK = 8;
  const dim3 grid((g.N + BN - 1) / BN, (g.M + BM - 1) / BM, batch);
  const dim3 block((BM / 8) * (BN / 8));
  GESSO_LAUNCH((gemm_kernel6<BM, BN, kBK, TRANS_A, TRANS_B, VEC>), grid, block, 0, stream, g);
}

template <int BM, int BN>
void launch6(const GemmArgs& g, bool trans_a, bool trans_b, bool vec, int batch, cudaStream_t stream) {
  if (vec) {
    if (!trans_a && !trans_b) launch6<BM, BN, false, false, true>(g, batch, stream);
    else if (!trans_a) launch6<BM, BN, false, true, true>(g, batch, stream);
    else if (!trans_b) launch6<BM, BN, true, false, true>(g, batch, stream);
    else launch6<BM, BN, true, true, true>(g, batch, stream);
  } else {
    if (!trans_a && !trans_b) launch6<BM, BN, false, false, false>(g, batch, stream);
    else if (!trans_a) launch6<BM, BN, false, true, false>(g, batch, stream);
    else if (!trans_b) launch6<BM, BN, true, false, false>(g, batch, stream);
    else launch6<BM, BN, true, true, false>(g, batch, stream);
  }
}

// 128x128 tiles once they give at least this many blocks (about one per SM
// of an A100/H100); below it, 64x64 tiles keep four times as many SMs busy.
constexpr int64_t kBigTileMinBlocks = 96;

}  // namespace

void gemm_batched_cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                       float beta, float* C, int64_t ldc, int64_t stride_c, cudaStream_t stream) {
  const char* fn = "gemm_batched_cuda";
  GESSO_CHECK(batch >= 0, fn, ": batch must be >= 0, got ", batch);
  GESSO_CHECK(M >= 0 && N >= 0 && K >= 0, fn, ": sizes must be >= 0, got M=", M, " N=", N, " K=", K);
  GESSO_CHECK(M <= INT_MAX && N <= INT_MAX && K <= INT_MAX, fn, ": sizes must fit in an int, got M=", M, " N=", N,
              " K=", K);
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  GESSO_CHECK(lda >= std::max<int64_t>(1, a_cols), fn, ": lda must be >= ", std::max<int64_t>(1, a_cols),
              " (columns of A as stored), got ", lda);
  GESSO_CHECK(ldb >= std::max<int64_t>(1, b_cols), fn, ": ldb must be >= ", std::max<int64_t>(1, b_cols),
              " (columns of B as stored), got ", ldb);
  GESSO_CHECK(ldc >= std::max<int64_t>(1, N), fn, ": ldc must be >= ", std::max<int64_t>(1, N), " (N), got ", ldc);
  GESSO_CHECK(stride_a >= 0 && stride_b >= 0 && stride_c >= 0, fn, ": strides must be >= 0, got ", stride_a, ", ",
              stride_b, ", ", stride_c);
  if (batch == 0 || M == 0 || N == 0) return;
  GESSO_CHECK(C != nullptr, fn, ": C must be non-null for a ", M, " x ", N, " product");
  // Products of one batch run at the same time, so they must not write the same elements.
  GESSO_CHECK(batch == 1 || stride_c >= (M - 1) * ldc + N, fn, ": stride_c must be >= (M - 1) * ldc + N = ",
              (M - 1) * ldc + N, " so that the ", batch, " products write disjoint matrices, got ", stride_c);

  if (K == 0 || alpha == 0.f) {
    const int threads = block_threads(256);
    for (int64_t b0 = 0; b0 < batch; b0 += kMaxGridYZ)
      for (int64_t r0 = 0; r0 < M; r0 += kMaxGridYZ) {
        const dim3 grid(static_cast<unsigned>((N + threads - 1) / threads),
                        static_cast<unsigned>(std::min(kMaxGridYZ, M - r0)),
                        static_cast<unsigned>(std::min(kMaxGridYZ, batch - b0)));
        GESSO_LAUNCH(gemm_scale_kernel, grid, threads, 0, stream, C + b0 * stride_c + r0 * ldc,
                     static_cast<int>(N), ldc, stride_c, beta);
      }
    return;
  }
  GESSO_CHECK(A != nullptr && B != nullptr, fn, ": A and B must be non-null when K > 0");

  GemmArgs g{static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, beta, A, lda, stride_a,
             B, ldb, stride_b, C, ldc, stride_c};
  // float4 loads and stores need every matrix of the batch 16-byte aligned.
  const bool vec = aligned16(A) && aligned16(B) && aligned16(C) && lda % 4 == 0 && ldb % 4 == 0 && ldc % 4 == 0 &&
                   (batch == 1 || (stride_a % 4 == 0 && stride_b % 4 == 0 && stride_c % 4 == 0));
  const int64_t big_blocks = ((M + 127) / 128) * ((N + 127) / 128) * batch;
  const bool big = block_threads(big_blocks >= kBigTileMinBlocks ? 256 : 64) >= 256;
  GESSO_CHECK((M + (big ? 127 : 63)) / (big ? 128 : 64) <= kMaxGridYZ, fn, ": M=", M,
              " needs more than 65535 row tiles");
  for (int64_t b0 = 0; b0 < batch; b0 += kMaxGridYZ) {
    GemmArgs gb = g;
    gb.A += b0 * stride_a;
    gb.B += b0 * stride_b;
    gb.C += b0 * stride_c;
    const int n = static_cast<int>(std::min(kMaxGridYZ, batch - b0));
    if (big) launch6<128, 128>(gb, trans_a, trans_b, vec, n, stream);
    else launch6<64, 64>(gb, trans_a, trans_b, vec, n, stream);
  }
}

void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream) {
  gemm_batched_cuda(1, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, stream);
}

}  // namespace gesso::kernels::GESSO_CUDA_NS
