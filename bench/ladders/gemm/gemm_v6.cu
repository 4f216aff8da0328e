/*
 * gemm_v6.cu: C = A B, step 6 of the GEMM ladder: double buffering. The
 * kernel of kernels/cuda/gemm.cu (gemm_kernel6), which adds transposes,
 * alpha/beta, leading dimensions and batches around it.
 *
 * What it fixes in v5: the next tile's global loads are issued into
 * registers before the current tile's FMAs, so their latency hides behind
 * 512 FMAs per thread instead of stalling the block; they are stored into a
 * second shared buffer after the FMAs. With two buffers one barrier per
 * tile suffices (v5 needed two): the barrier that publishes tile t+1 also
 * proves that every thread is done reading tile t's buffer, which tile t+2
 * then overwrites.
 * Left for later steps (not in the tested kernel, see kernels/cuda/gemm.cu):
 * warp tiling (a warp's sub-tile kept compact for register-cache reuse),
 * cp.async / TMA copies straight to shared memory, and tensor cores (TF32),
 * which the SIMT runtime cannot run and the FP32 target does not need.
 */
#include "bench/ladders/gemm/gemm_common.h"

// 4 consecutive floats of row r, columns c .. c+3, of a rows x cols
// row-major matrix (leading dimension ld); 0 outside. VEC: rows are 16-byte
// aligned, so an in-range group is one float4 load.
template <bool VEC>
__device__ __forceinline__ float4 load_group(const float* p, int ld, int r, int c, int rows, int cols) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (r < rows) {
    const float* q = p + static_cast<size_t>(r) * ld + c;
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

// C[r][c .. c+3] = v (the elements inside the matrix).
template <bool VEC>
__device__ __forceinline__ void store_group(float* C, int ld, int r, int c, int rows, int cols, float4 v) {
  if (r >= rows) return;  // the kernel's last step: no barrier follows
  float* q = C + static_cast<size_t>(r) * ld + c;
  if (VEC && c + 3 < cols) {
    *reinterpret_cast<float4*>(q) = v;
  } else {
    if (c < cols) q[0] = v.x;
    if (c + 1 < cols) q[1] = v.y;
    if (c + 2 < cols) q[2] = v.z;
    if (c + 3 < cols) q[3] = v.w;
  }
}

template <int BM, int BN, int BK, bool VEC>
__global__ void __launch_bounds__((BM / 8) * (BN / 8)) gemm_kernel6(const float* A, const float* B, float* C, int M,
                                                                     int N, int K) {
  constexpr int kThreads = (BM / 8) * (BN / 8);
  constexpr int kGroupsA = BM * BK / 4 / kThreads, kGroupsB = BN * BK / 4 / kThreads;
  // As[buf][k][m] = A[m0 + m][k0 + k] (transposed), Bs[buf][k][n] = B[k0 + k][n0 + n]:
  // the FMAs read buffer buf while the next tile is stored into buf ^ 1.
  __shared__ __align__(16) float As[2][BK][BM + 4];
  __shared__ __align__(16) float Bs[2][BK][BN + 4];
  const int t = threadIdx.x;
  const int tx = t % (BN / 8), ty = t / (BN / 8);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float4 next_a[kGroupsA], next_b[kGroupsB];  // a tile between its global load and its shared store

  auto load_tile = [&](int k0) {
    LADDER_UNROLL
    for (int i = 0; i < kGroupsA; ++i) {
      const int l = t + i * kThreads;
      next_a[i] = load_group<VEC>(A, K, m0 + l / (BK / 4), k0 + (l % (BK / 4)) * 4, M, K);
    }
    LADDER_UNROLL
    for (int i = 0; i < kGroupsB; ++i) {
      const int l = t + i * kThreads;
      next_b[i] = load_group<VEC>(B, N, k0 + l / (BN / 4), n0 + (l % (BN / 4)) * 4, K, N);
    }
  };
  auto store_tile = [&](int buf) {
    LADDER_UNROLL
    for (int i = 0; i < kGroupsA; ++i) {
      const int l = t + i * kThreads, m = l / (BK / 4), k = (l % (BK / 4)) * 4;
      As[buf][k + 0][m] = next_a[i].x;
      As[buf][k + 1][m] = next_a[i].y;
      As[buf][k + 2][m] = next_a[i].z;
      As[buf][k + 3][m] = next_a[i].w;
    }
    LADDER_UNROLL
    for (int i = 0; i < kGroupsB; ++i) {
      const int l = t + i * kThreads;
      *reinterpret_cast<float4*>(&Bs[buf][l / (BN / 4)][(l % (BN / 4)) * 4]) = next_b[i];
    }
  };

  float acc[8][8] = {};
  const int tiles = (K + BK - 1) / BK;
  load_tile(0);
  store_tile(0);
  // Barrier: tile 0 is in buffer 0 before anyone reads it.
  __syncthreads();
  for (int tile = 0; tile < tiles; ++tile) {
    const int buf = tile & 1;
    const bool more = tile + 1 < tiles;  // the same in every thread: the barrier below is uniform
    if (more) load_tile((tile + 1) * BK);  // in flight during the FMAs
    LADDER_UNROLL
    for (int k = 0; k < BK; ++k) {
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[buf][k][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[buf][k][BM / 2 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&Bs[buf][k][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&Bs[buf][k][BN / 2 + tx * 4]);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
      LADDER_UNROLL
      for (int i = 0; i < 8; ++i)
        LADDER_UNROLL
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // buf ^ 1 was last read in the previous iteration, which every thread
    // finished before passing the barrier that ended it.
    if (more) store_tile(buf ^ 1);
    // Barrier: (1) tile + 1 is complete in buf ^ 1 before the next iteration
    // reads it; (2) everyone is done reading buf before the next iteration
    // stores tile + 2 into it.
    __syncthreads();
  }
  LADDER_UNROLL
  for (int i = 0; i < 8; ++i) {
    const int r = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
    store_group<VEC>(C, N, r, n0 + tx * 4, M, N, make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    store_group<VEC>(C, N, r, n0 + BN / 2 + tx * 4, M, N, make_float4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]));
  }
}

template <int BM, int BN>
std::string launch6(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kThreads = (BM / 8) * (BN / 8);
  const dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM);
  // float4 needs every row of A, B and C to start 16-byte aligned (the
  // buffers themselves are: cudaMalloc and new[] of floats align to 16).
  const bool vec = K % 4 == 0 && N % 4 == 0;
  if (vec) GESSO_LAUNCH((gemm_kernel6<BM, BN, 8, true>), grid, kThreads, 0, nullptr, A, B, C, M, N, K);
  else GESSO_LAUNCH((gemm_kernel6<BM, BN, 8, false>), grid, kThreads, 0, nullptr, A, B, C, M, N, K);
  return "tile " + std::to_string(BM) + "x" + std::to_string(BN) + ", " + std::to_string(kThreads) + " threads, " +
         (vec ? "float4" : "scalar") + " loads";
}

// 128x128 tiles (256 threads) when --threads allows, else 64x64 (64 threads).
std::string gemm_v6(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  if (threads >= 256) return launch6<128, 128>(A, B, C, M, N, K);
  return launch6<64, 64>(A, B, C, M, N, K);
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v6", gemm_v6, argc, argv); }
