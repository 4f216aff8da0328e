/*
 * gemm.h: general matrix multiply on the CPU, the engine of matmul, linear
 * and convolution (im2col).
 *
 *   C = alpha * op(A) * op(B) + beta * C
 *
 * All matrices are row-major. op(A) is M x K and op(B) is K x N:
 *   trans_a = false: A is stored M x K, element (m, k) at A[m * lda + k], lda >= K
 *   trans_a = true:  A is stored K x M, element (m, k) at A[k * lda + m], lda >= M
 * and likewise for B (K x N, or N x K when trans_b) and C (M x N, ldc >= N).
 * As in BLAS, C is not read when beta == 0 (it may hold garbage or NaN), and
 * C = beta * C when K == 0 or alpha == 0. C writes with `=`: it is an output,
 * and callers who accumulate pass beta = 1.
 *
 * Two implementations, chosen at run time (both are always correct; neither
 * is a fallback for the other's bugs):
 *   handwritten  gemm_blocked_cpu, kernels/cpu/gemm.cpp: cache-blocked over
 *                N and K with packed panels and a register-tiled micro-kernel
 *                per ISA (AVX2 6 x 16, AVX-512 12 x 32 floats, written with
 *                intrinsics; kernels/cpu_isa.h picks one at run time,
 *                GESSO_CPU_ISA=avx2|avx512 overrides). Read it to learn how a
 *                GEMM reaches a good fraction of peak. The default: it
 *                measured at or above OpenBLAS at its best core type
 *                (bench/bench_gemm.cpp).
 *   openblas     cblas_sgemm / cblas_dgemm, when the build found OpenBLAS
 *                (GESSO_HAVE_OPENBLAS): the yardstick.
 * The environment variable GESSO_GEMM=handwritten|openblas overrides the
 * default at the first GEMM, and set_gemm_backend() at any time.
 *
 * Threads: both implementations use gesso's one OpenMP pool (OpenBLAS is
 * linked in its OpenMP flavour, or pinned to one thread when only the
 * pthread flavour exists). Called from inside an OpenMP parallel region,
 * gemm_cpu runs on the calling thread alone.
 */
#pragma once
#include <cstdint>

#include "kernels/common.h"

namespace gesso::kernels {

enum class GemmBackend { handwritten, openblas };

// Throws gesso::Error when `b` is openblas and this build has no OpenBLAS.
void set_gemm_backend(GemmBackend b);
// The backend in use; the first call reads GESSO_GEMM (see gemm_backend_from_env).
// Every call also settles kernels::cpu_isa(), so that a bad GESSO_CPU_ISA
// throws here (callers ask before their parallel regions), not inside a GEMM.
GemmBackend gemm_backend();
const char* gemm_backend_name(GemmBackend b);
// True when this build can run the openblas backend.
bool gemm_openblas_available();
// True when OpenBLAS runs its generic SSE3 kernels here (a CPU newer than the
// library knows): several times slower than its real ones (see gemm_openblas_core).
bool gemm_openblas_generic_core();
// The CPU kernel family OpenBLAS picked at load time ("Haswell", "SkylakeX"),
// or "" without OpenBLAS. OpenBLAS 0.3.21 falls back to "Prescott" (SSE3,
// several times slower) on CPUs newer than it knows; the environment variable
// OPENBLAS_CORETYPE=SkylakeX (or Haswell) overrides its choice.
const char* gemm_openblas_core();
// The backend GESSO_GEMM asks for, or the default when it is unset or empty.
// Throws gesso::Error naming the variable for an unknown value, or for
// openblas in a build without it.
GemmBackend gemm_backend_from_env();

// Dispatches to the current backend. Checks its arguments (sizes >= 0,
// leading dimensions large enough) and throws gesso::Error naming them.
template <class T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// `batch` independent products, matrix i of each operand starting at
// A + i * stride_a, B + i * stride_b, C + i * stride_c (a stride may be 0 to
// reuse one A or B for every product). Many small products run one per
// thread; a few large ones each use all threads.
template <class T>
void gemm_batched_cpu(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                      const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta,
                      T* C, int64_t ldc, int64_t stride_c);

// The handwritten kernel itself, whatever the backend setting (benchmarks
// and tests call it directly). Same contract as gemm_cpu, arguments unchecked.
template <class T>
void gemm_blocked_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                      int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace gesso::kernels

namespace gesso::kernels {
// The CUDA twins (kernels/cuda/gemm.cu): the same contract as gemm_cpu and
// gemm_batched_cpu, float only, pointers into device memory (host memory on
// the simt device); arguments checked, throwing gesso::Error. Products of a
// batch run concurrently, so with batch > 1 their C matrices must not overlap.
GESSO_DECLARE_CUDA_TWINS(
    void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream);
    void gemm_batched_cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                           int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                           cudaStream_t stream);)
}  // namespace gesso::kernels
