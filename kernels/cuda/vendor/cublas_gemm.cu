/*
 * cublas_gemm.cu: cuBLAS's SGEMM as the vendor twin of gemm_batched_cuda
 * (vendor.h), the yardstick of kernels/cuda/gemm.cu.
 *
 * cuBLAS is column-major. A row-major M x N matrix with leading dimension ld
 * is, in the same memory, the column-major N x M matrix of its transpose, so
 *   C = op(A) op(B)  (row-major)   <=>   C^T = op(B)^T op(A)^T  (column-major)
 * and one cublasSgemmStridedBatched call with the operands swapped (B first),
 * M and N swapped, and the same transpose flags computes it without a copy.
 */
#include <climits>

#include "kernels/cuda/vendor/handles.h"
#include "kernels/cuda/vendor/vendor.h"

namespace gesso::kernels::vendor {

void gemm_batched_cublas(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                         float beta, float* C, int64_t ldc, int64_t stride_c, cudaStream_t stream) {
  const char* fn = "gemm_batched_cublas";
  GESSO_CHECK(batch >= 0 && M >= 0 && N >= 0 && K >= 0, fn, ": sizes must be >= 0, got batch=", batch, " M=", M,
              " N=", N, " K=", K);
  GESSO_CHECK(batch <= INT_MAX && M <= INT_MAX && N <= INT_MAX && K <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
                  ldc <= INT_MAX,
              fn, ": cuBLAS takes int sizes and leading dimensions, got M=", M, " N=", N, " K=", K);
  if (batch == 0 || M == 0 || N == 0) return;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  GESSO_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(stream), op_b, op_a, static_cast<int>(N),
                                               static_cast<int>(M), static_cast<int>(K), &alpha, B,
                                               static_cast<int>(ldb), stride_b, A, static_cast<int>(lda), stride_a,
                                               &beta, C, static_cast<int>(ldc), stride_c, static_cast<int>(batch)));
}

}  // namespace gesso::kernels::vendor
