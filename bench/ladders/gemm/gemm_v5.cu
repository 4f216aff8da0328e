/*
 * gemm_v5.cu: C = A B, step 5 of the GEMM ladder: vectorised loads and a
 * conflict-free shared-memory layout. Same tiles as v4 (128x128, BK = 8,
 * 256 threads, an 8x8 block of C per thread).
 *
 * What it fixes in v4:
 *   - global loads are float4 (16 bytes per instruction, 4x fewer load
 *     instructions), when the rows are 16-byte aligned (K and N multiples of
 *     4); odd sizes take a scalar path through the same code (VEC = false);
 *   - A is stored transposed in shared memory, As[k][m] (k-major), so that a
 *     thread's 8 values of A for one k are two float4 reads instead of 8
 *     strided scalars; the transposed store is the price, paid once per tile;
 *   - a thread's 8x8 block is four 4x4 blocks, rows {ty*4 .. +4} and
 *     {BM/2 + ty*4 .. +4}, columns {tx*4 .. +4} and {BN/2 + tx*4 .. +4}: the
 *     B reads of a warp are then consecutive float4s (no bank conflicts; v4's
 *     8-float stride between lanes had them) and so are C's float4 stores;
 *   - rows of As and Bs are padded by 4 floats: still 16-byte aligned, and
 *     the transposed stores of a warp spread over all 32 banks.
 * What is still wrong (v6 fixes it): within a block, loading a tile and
 * computing on it alternate: load, barrier, compute, barrier. The global
 * load latency (hundreds of cycles) is hidden only by other resident blocks,
 * and with ~128 registers per thread only two fit on an SM.
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
__global__ void __launch_bounds__((BM / 8) * (BN / 8)) gemm_kernel5(const float* A, const float* B, float* C, int M,
                                                                     int N, int K) {
  constexpr int kThreads = (BM / 8) * (BN / 8);
  constexpr int kGroupsA = BM * BK / 4 / kThreads, kGroupsB = BN * BK / 4 / kThreads;
  // As[k][m] = A[m0 + m][k0 + k] (transposed), Bs[k][n] = B[k0 + k][n0 + n].
  __shared__ __align__(16) float As[BK][BM + 4];
  __shared__ __align__(16) float Bs[BK][BN + 4];
  const int t = threadIdx.x;
  const int tx = t % (BN / 8), ty = t / (BN / 8);
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[8][8] = {};
  for (int k0 = 0; k0 < K; k0 += BK) {
    // A: group l is row l / (BK/4), columns (l % (BK/4))*4 .. +4 of the tile,
    // stored down a column of As. B: group l is row l / (BN/4), one float4 of Bs.
    LADDER_UNROLL
    for (int i = 0; i < kGroupsA; ++i) {
      const int l = t + i * kThreads, m = l / (BK / 4), k = (l % (BK / 4)) * 4;
      const float4 v = load_group<VEC>(A, K, m0 + m, k0 + k, M, K);
      As[k + 0][m] = v.x;
      As[k + 1][m] = v.y;
      As[k + 2][m] = v.z;
      As[k + 3][m] = v.w;
    }
    LADDER_UNROLL
    for (int i = 0; i < kGroupsB; ++i) {
      const int l = t + i * kThreads, k = l / (BN / 4), n = (l % (BN / 4)) * 4;
      *reinterpret_cast<float4*>(&Bs[k][n]) = load_group<VEC>(B, N, k0 + k, n0 + n, K, N);
    }
    // Barrier: the tiles are complete before anyone reads them.
    __syncthreads();
    LADDER_UNROLL
    for (int k = 0; k < BK; ++k) {
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[k][BM / 2 + ty * 4]);
      const float4 b_lo = *reinterpret_cast<const float4*>(&Bs[k][tx * 4]);
      const float4 b_hi = *reinterpret_cast<const float4*>(&Bs[k][BN / 2 + tx * 4]);
      const float a[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
      LADDER_UNROLL
      for (int i = 0; i < 8; ++i)
        LADDER_UNROLL
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // Barrier: everyone has finished reading before the next step overwrites the tiles.
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
std::string launch5(const float* A, const float* B, float* C, int M, int N, int K) {
  constexpr int kThreads = (BM / 8) * (BN / 8);
  const dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM);
  // float4 needs every row of A, B and C to start 16-byte aligned (the
  // buffers themselves are: cudaMalloc and new[] of floats align to 16).
  const bool vec = K % 4 == 0 && N % 4 == 0;
  if (vec) GESSO_LAUNCH((gemm_kernel5<BM, BN, 8, true>), grid, kThreads, 0, nullptr, A, B, C, M, N, K);
  else GESSO_LAUNCH((gemm_kernel5<BM, BN, 8, false>), grid, kThreads, 0, nullptr, A, B, C, M, N, K);
  return "tile " + std::to_string(BM) + "x" + std::to_string(BN) + ", " + std::to_string(kThreads) + " threads, " +
         (vec ? "float4" : "scalar") + " loads";
}

// 128x128 tiles (256 threads) when --threads allows, else 64x64 (64 threads).
std::string gemm_v5(const float* A, const float* B, float* C, int M, int N, int K, int threads) {
  if (threads >= 256) return launch5<128, 128>(A, B, C, M, N, K);
  return launch5<64, 64>(A, B, C, M, N, K);
}

int main(int argc, char** argv) { return gemm_ladder::run_ladder_step("gemm_v5", gemm_v5, argc, argv); }
