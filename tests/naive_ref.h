/*
 * naive_ref.h: what the op tests share to build plain references: walking
 * every multi-index of a shape, reading one element through a tensor's own
 * strides (no kernel, no layout coalescing involved), NumPy broadcasting of
 * an index, and comparing with `atol + rtol * |ref|`.
 * Header-only, included by tests/test_*.cpp; not a test binary itself.
 */
#pragma once
#include <doctest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace naive {

using gesso::Shape;
using gesso::Tensor;

// Calls fn(index) for every multi-index of `shape`, last dimension fastest
// (once, with an empty index, for the shape () of a scalar).
inline void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& fn) {
  for (int64_t s : shape)
    if (s == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    fn(idx);
    int d = static_cast<int>(shape.size()) - 1;
    while (d >= 0 && ++idx[d] == shape[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

// Element of t (CPU) at `idx` (one entry per dim of t), read through t's strides.
inline double read_at(const Tensor& t, const std::vector<int64_t>& idx) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  if (t.dtype() == gesso::DType::f32) return t.data<float>()[off];
  return t.data<double>()[off];
}

// Element of t broadcast to an output index of more or equal dims (NumPy rules).
inline double read_broadcast(const Tensor& t, const std::vector<int64_t>& out_idx) {
  size_t lead = out_idx.size() - t.shape().size();
  std::vector<int64_t> idx(t.shape().size());
  for (size_t d = 0; d < idx.size(); ++d) idx[d] = t.shape()[d] == 1 ? 0 : out_idx[d + lead];
  return read_at(t, idx);
}

// Every element of t in logical (row-major) order, through its strides.
inline std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for_each_index(t.shape(), [&](const std::vector<int64_t>& i) { v.push_back(read_at(t, i)); });
  return v;
}

// Checks |got - ref| <= atol + rtol |ref| elementwise; NaN matches NaN.
inline void check_close(const std::vector<double>& got, const std::vector<double>& ref, double atol, double rtol,
                        const std::string& what) {
  REQUIRE_MESSAGE(got.size() == ref.size(), what, ": ", got.size(), " values, expected ", ref.size());
  int bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    bool ok = (std::isnan(ref[i]) && std::isnan(got[i])) || std::abs(got[i] - ref[i]) <= atol + rtol * std::abs(ref[i]);
    if (!ok && bad++ < 4) first << " [" << i << "] got " << got[i] << " ref " << ref[i] << ";";
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " of ", got.size(), " values off:", first.str());
}

inline void check_close(const Tensor& got, const std::vector<double>& ref, double atol, double rtol,
                        const std::string& what) {
  check_close(values(got), ref, atol, rtol, what);
}

}  // namespace naive
