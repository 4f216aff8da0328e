// layout.cpp: building and coalescing kernel layouts.
#include "tensor/layout.h"
#include "tensor/error.h"

namespace gesso {

using kernels::kMaxDims;

kernels::StridedLayout make_strided_layout(const Shape& shape, const Strides& strides) {
  // Drop size-1 dims, then merge neighbours that are contiguous with each other.
  std::vector<int64_t> sz, st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!sz.empty() && st.back() == strides[d] * shape[d]) {
      sz.back() *= shape[d];
      st.back() = strides[d];
    } else {
      sz.push_back(shape[d]);
      st.push_back(strides[d]);
    }
  }
  if (numel_of(shape) == 0) { sz = {0}; st = {1}; }
  GESSO_CHECK(static_cast<int>(sz.size()) <= kMaxDims, "tensors of more than ", kMaxDims,
              " non-mergeable dims are not supported; got shape ", shape);
  kernels::StridedLayout L;
  L.ndim = static_cast<int>(sz.size());
  for (int d = 0; d < L.ndim; ++d) { L.size[d] = sz[d]; L.stride[d] = st[d]; }
  return L;
}

kernels::BinaryLayout make_binary_layout(const Shape& out, const Shape& a_shape, const Strides& a_strides,
                                         const Shape& b_shape, const Strides& b_strides) {
  size_t nd = out.size();
  auto aligned = [&](const Shape& s, const Strides& st) {
    Strides r(nd, 0);
    size_t lead = nd - s.size();
    for (size_t d = 0; d < s.size(); ++d) r[lead + d] = s[d] == 1 ? 0 : st[d];
    return r;
  };
  Strides sa = aligned(a_shape, a_strides), sb = aligned(b_shape, b_strides);
  std::vector<int64_t> sz, xa, xb;
  for (size_t d = 0; d < nd; ++d) {
    if (out[d] == 1) continue;
    if (!sz.empty() && xa.back() == sa[d] * out[d] && xb.back() == sb[d] * out[d]) {
      sz.back() *= out[d];
      xa.back() = sa[d];
      xb.back() = sb[d];
    } else {
      sz.push_back(out[d]);
      xa.push_back(sa[d]);
      xb.push_back(sb[d]);
    }
  }
  if (numel_of(out) == 0) { sz = {0}; xa = {1}; xb = {1}; }
  GESSO_CHECK(static_cast<int>(sz.size()) <= kMaxDims, "broadcast of more than ", kMaxDims,
              " non-mergeable dims is not supported; got shape ", out);
  kernels::BinaryLayout L;
  L.ndim = static_cast<int>(sz.size());
  for (int d = 0; d < L.ndim; ++d) { L.size[d] = sz[d]; L.stride_a[d] = xa[d]; L.stride_b[d] = xb[d]; }
  return L;
}

}  // namespace gesso
