/*
 * elementwise.cpp: CPU twins of kernels/elementwise.h, the specification of
 * what the CUDA versions compute. Each op is a small functor; the loops are
 * templates over the functor, so the switch on the op runs once per call and
 * the inner loops are plain enough for the compiler to vectorise.
 */
#include "kernels/elementwise.h"

#include <cmath>
#include <algorithm>

namespace gesso::kernels {

namespace {

// out = f(a_i, b_i) over a BinaryLayout; the innermost dimension is the
// vectorised loop, the outer index is decomposed once per row.
template <class T, class F>
void binary_loop(const T* a, const T* b, T* out, const BinaryLayout& L, F f) {
  int nd = L.ndim;
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= L.size[d];
  if (n == 0) return;
  if (nd == 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  int64_t inner = L.size[nd - 1], sa = L.stride_a[nd - 1], sb = L.stride_b[nd - 1];
  int64_t rows = n / inner;
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t oa = 0, ob = 0, rem = r;
    for (int d = nd - 2; d >= 0; --d) {
      int64_t i = rem % L.size[d];
      rem /= L.size[d];
      oa += i * L.stride_a[d];
      ob += i * L.stride_b[d];
    }
    const T* pa = a + oa;
    const T* pb = b + ob;
    T* po = out + r * inner;
    if (sa == 1 && sb == 1) {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], pb[i]);
    } else if (sa == 1 && sb == 0) {
      const T vb = pb[0];
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i], vb);
    } else if (sa == 0 && sb == 1) {
      const T va = pa[0];
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) po[i] = f(va, pb[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) po[i] = f(pa[i * sa], pb[i * sb]);
    }
  }
}

template <class T, class F>
void unary_loop(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel if (n > kParallelGrain)
  {
    // Each thread's own copy of the functor: read through the shared one, its
    // captures (leaky_relu's slope) might change at any store to y, and GCC
    // keeps the loop scalar (with -fno-trapping-math, see CMakeLists.txt, the
    // copy lets it vectorise the select).
    const F fn = f;
#pragma omp for simd
    for (int64_t i = 0; i < n; ++i) y[i] = fn(x[i]);
  }
}

}  // namespace

template <class T>
void binary_forward_cpu(BinaryOp op, const T* a, const T* b, T* out, const BinaryLayout& L) {
  switch (op) {
    case BinaryOp::add: binary_loop(a, b, out, L, [](T x, T y) { return x + y; }); break;
    case BinaryOp::sub: binary_loop(a, b, out, L, [](T x, T y) { return x - y; }); break;
    case BinaryOp::mul: binary_loop(a, b, out, L, [](T x, T y) { return x * y; }); break;
    case BinaryOp::div: binary_loop(a, b, out, L, [](T x, T y) { return x / y; }); break;
    case BinaryOp::pow: binary_loop(a, b, out, L, [](T x, T y) { return std::pow(x, y); }); break;
    case BinaryOp::eq: binary_loop(a, b, out, L, [](T x, T y) { return T(x == y); }); break;
    case BinaryOp::ne: binary_loop(a, b, out, L, [](T x, T y) { return T(x != y); }); break;
    case BinaryOp::lt: binary_loop(a, b, out, L, [](T x, T y) { return T(x < y); }); break;
    case BinaryOp::le: binary_loop(a, b, out, L, [](T x, T y) { return T(x <= y); }); break;
    case BinaryOp::gt: binary_loop(a, b, out, L, [](T x, T y) { return T(x > y); }); break;
    case BinaryOp::ge: binary_loop(a, b, out, L, [](T x, T y) { return T(x >= y); }); break;
  }
}

template <class T>
void unary_forward_cpu(UnaryOp op, const T* x, T* y, int64_t n, double alpha, double beta) {
  const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
  switch (op) {
    case UnaryOp::neg: unary_loop(x, y, n, [](T v) { return -v; }); break;
    case UnaryOp::exp: unary_loop(x, y, n, [](T v) { return std::exp(v); }); break;
    case UnaryOp::log: unary_loop(x, y, n, [](T v) { return std::log(v); }); break;
    case UnaryOp::sqrt: unary_loop(x, y, n, [](T v) { return std::sqrt(v); }); break;
    case UnaryOp::abs: unary_loop(x, y, n, [](T v) { return std::abs(v); }); break;
    case UnaryOp::relu: unary_loop(x, y, n, [](T v) { return v > T(0) ? v : T(0); }); break;
    case UnaryOp::tanh: unary_loop(x, y, n, [](T v) { return std::tanh(v); }); break;
    case UnaryOp::sigmoid:
      // Two branches so that exp never overflows: for v < 0 use e^v / (1 + e^v).
      unary_loop(x, y, n, [](T v) {
        T e = std::exp(-std::abs(v));
        return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
      });
      break;
    case UnaryOp::softplus:
      // log(1 + e^v) = max(v, 0) + log1p(e^-|v|): no overflow for large |v|.
      unary_loop(x, y, n, [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
      break;
    case UnaryOp::leaky_relu: unary_loop(x, y, n, [a](T v) { return v > T(0) ? v : a * v; }); break;
    case UnaryOp::clamp: unary_loop(x, y, n, [a, b](T v) { return std::min(std::max(v, a), b); }); break;
    case UnaryOp::pow_scalar: unary_loop(x, y, n, [a](T v) { return std::pow(v, a); }); break;
    case UnaryOp::affine: unary_loop(x, y, n, [a, b](T v) { return a * v + b; }); break;
    case UnaryOp::step: unary_loop(x, y, n, [a](T v) { return v > a ? T(1) : T(0); }); break;
  }
}

template <class T>
void where_forward_cpu(const T* cond, const T* a, const T* b, T* out, int64_t n) {
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = cond[i] != T(0) ? a[i] : b[i];
}

template <class Src, class Dst>
void strided_copy_cpu(const Src* src, const StridedLayout& L, Dst* dst) {
  int nd = L.ndim;
  int64_t n = 1;
  for (int d = 0; d < nd; ++d) n *= L.size[d];
  if (n == 0) return;
  if (nd == 0) {
    dst[0] = static_cast<Dst>(src[0]);
    return;
  }
  int64_t inner = L.size[nd - 1], s = L.stride[nd - 1];
  int64_t rows = n / inner;
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = 0, rem = r;
    for (int d = nd - 2; d >= 0; --d) {
      off += (rem % L.size[d]) * L.stride[d];
      rem /= L.size[d];
    }
    const Src* ps = src + off;
    Dst* pd = dst + r * inner;
    if (s == 1) {
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) pd[i] = static_cast<Dst>(ps[i]);
    } else {
      for (int64_t i = 0; i < inner; ++i) pd[i] = static_cast<Dst>(ps[i * s]);
    }
  }
}

template <class T>
void fill_cpu(T* out, int64_t n, double value) {
  const T v = static_cast<T>(value);
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = v;
}

#define GESSO_INSTANTIATE(T)                                                                 \
  template void binary_forward_cpu<T>(BinaryOp, const T*, const T*, T*, const BinaryLayout&); \
  template void unary_forward_cpu<T>(UnaryOp, const T*, T*, int64_t, double, double);       \
  template void where_forward_cpu<T>(const T*, const T*, const T*, T*, int64_t);            \
  template void fill_cpu<T>(T*, int64_t, double);
GESSO_INSTANTIATE(float)
GESSO_INSTANTIATE(double)
#undef GESSO_INSTANTIATE
template void strided_copy_cpu<float, float>(const float*, const StridedLayout&, float*);
template void strided_copy_cpu<float, double>(const float*, const StridedLayout&, double*);
template void strided_copy_cpu<double, float>(const double*, const StridedLayout&, float*);
template void strided_copy_cpu<double, double>(const double*, const StridedLayout&, double*);

}  // namespace gesso::kernels

namespace gesso::kernels {

template <class T>
void copy_rows_cpu(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = src + r * src_stride;
    T* d = dst + r * dst_stride;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) d[c] = s[c];
  }
}
template void copy_rows_cpu<float>(const float*, int64_t, float*, int64_t, int64_t, int64_t);
template void copy_rows_cpu<double>(const double*, int64_t, double*, int64_t, int64_t, int64_t);

}  // namespace gesso::kernels
