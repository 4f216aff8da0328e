/*
 * view.cpp: shape ops. Views (reshape of a contiguous tensor, permute,
 * narrow, expand, squeeze/unsqueeze) share the input's storage and only
 * change shape, strides and offset; contiguous, clone, to and concat copy.
 * Each backward is the inverse shape op, so all are differentiable again.
 */
#include <algorithm>
#include <numeric>

#include "autograd/ops/dispatch.h"
#include "kernels/elementwise.h"
#include "tensor/layout.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

namespace {

// A new handle on x's storage with the given geometry (no autograd state).
Tensor make_view(const Tensor& x, Shape shape, Strides strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl().storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

Shape infer_shape(const Shape& requested, int64_t numel, const char* what) {
  Shape s = requested;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      GESSO_CHECK(infer < 0, what, ": only one size may be -1, got ", requested);
      infer = static_cast<int>(i);
    } else {
      GESSO_CHECK(s[i] >= 0, what, ": sizes must be >= 0 or -1, got ", requested);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    GESSO_CHECK(known > 0 && numel % known == 0, what, ": cannot infer -1 in ", requested, " for ", numel,
                " elements");
    s[infer] = numel / known;
  }
  GESSO_CHECK(numel_of(s) == numel, what, ": shape ", requested, " does not hold ", numel, " elements");
  return s;
}

}  // namespace

Tensor Tensor::view(const Shape& s) const {
  Shape shape = infer_shape(s, numel(), "view");
  GESSO_CHECK(is_contiguous(), "view: the tensor is not contiguous (strides ", strides(),
              "); use reshape(), which copies");
  Tensor out = make_view(*this, shape, contiguous_strides(shape), offset());
  Shape in_shape = this->shape();
  return record(out, OpKind::Reshape, {*this}, [in_shape](const Tensor& g) -> Grads { return {g.reshape(in_shape)}; });
}

Tensor Tensor::reshape(const Shape& s) const {
  if (is_contiguous()) return view(s);
  return contiguous().view(s);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  GESSO_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a tensor of ",
              dim(), " dims");
  std::vector<int64_t> axes(dims.size());
  std::vector<bool> used(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    axes[i] = normalize_axis(dims[i], dim(), "permute");
    GESSO_CHECK(!used[axes[i]], "permute: dimension ", axes[i], " repeated in ", dims);
    used[axes[i]] = true;
  }
  Shape shape(dims.size());
  Strides st(dims.size());
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    shape[i] = this->shape()[axes[i]];
    st[i] = strides()[axes[i]];
    inverse[axes[i]] = static_cast<int64_t>(i);
  }
  Tensor out = make_view(*this, shape, st, offset());
  return record(out, OpKind::Permute, {*this}, [inverse](const Tensor& g) -> Grads { return {g.permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> dims(dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_axis(d0, dim(), "transpose")], dims[normalize_axis(d1, dim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int axis = normalize_axis(d, dim(), "narrow");
  int64_t n = shape()[axis];
  GESSO_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ", start + length,
              ") is outside dimension ", axis, " of size ", n);
  Shape shape = this->shape();
  shape[axis] = length;
  Tensor out = make_view(*this, shape, strides(), offset() + start * strides()[axis]);
  Shape in_shape = this->shape();
  return record(out, OpKind::Narrow, {*this}, [in_shape, axis, start, length](const Tensor& g) -> Grads {
    // The adjoint of a slice: the gradient placed between zeros (concat is
    // differentiable, so this is too).
    std::vector<Tensor> parts;
    TensorOptions o = TensorOptions(g.dtype()).with(g.device());
    Shape before = in_shape, after = in_shape;
    before[axis] = start;
    after[axis] = in_shape[axis] - start - length;
    if (start > 0) parts.push_back(zeros(before, o));
    parts.push_back(g);
    if (after[axis] > 0) parts.push_back(zeros(after, o));
    return {parts.size() == 1 ? g : concat(parts, axis)};
  });
}

Tensor Tensor::expand(const Shape& s) const {
  GESSO_CHECK(static_cast<int64_t>(s.size()) >= dim(), "expand: cannot expand shape ", shape(), " to fewer dims ", s);
  size_t lead = s.size() - dim();
  Shape shape(s.size());
  Strides st(s.size(), 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (i < lead) {
      GESSO_CHECK(s[i] >= 0, "expand: new leading size must be >= 0, got ", s);
      shape[i] = s[i];
      continue;
    }
    int64_t have = this->shape()[i - lead];
    int64_t want = s[i] == -1 ? have : s[i];
    GESSO_CHECK(have == want || have == 1, "expand: dimension ", i, " of size ", have, " cannot expand to ", want,
                " (shape ", this->shape(), " to ", s, ")");
    shape[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  if (shape == this->shape()) return *this;
  Tensor out = make_view(*this, shape, st, offset());
  Shape in_shape = this->shape();
  return record(out, OpKind::Expand, {*this}, [in_shape](const Tensor& g) -> Grads { return {sum_to(g, in_shape)}; });
}

Tensor Tensor::squeeze(int64_t d) const {
  int axis = normalize_axis(d, dim(), "squeeze");
  GESSO_CHECK(shape()[axis] == 1, "squeeze: dimension ", axis, " has size ", shape()[axis], ", expected 1");
  Shape s = shape();
  s.erase(s.begin() + axis);
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int axis = normalize_axis(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + axis, 1);
  return reshape(s);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int a = normalize_axis(start_dim, dim(), "flatten"), b = normalize_axis(end_dim, dim(), "flatten");
  GESSO_CHECK(a <= b, "flatten: start_dim ", a, " is after end_dim ", b);
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(shape()[i]);
  int64_t m = 1;
  for (int i = a; i <= b; ++i) m *= shape()[i];
  s.push_back(m);
  for (int i = b + 1; i < dim(); ++i) s.push_back(shape()[i]);
  return reshape(s);
}

// ---- copies

namespace {
// A contiguous copy of x on the same device, converted to `dtype`; no node.
Tensor copy_raw(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), TensorOptions(dtype).with(x.device()));
  kernels::StridedLayout L = make_strided_layout(x.shape(), x.strides());
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), {
        if (dtype == DType::f32) kernels::strided_copy_cpu(x.data<scalar_t>(), L, out.data<float>());
        else kernels::strided_copy_cpu(x.data<scalar_t>(), L, out.data<double>());
      });
      break;
    case Device::cuda:
    case Device::simt:
      // Device tensors are float32 (Tensor::empty refuses float64 there), so
      // a device copy never converts.
      check_float32_on_device(x, "copy");
      GESSO_RUN_CUDA_TWIN(x.device(), "copy", strided_copy_cuda, x.data<float>(), L, out.data<float>());
      break;
  }
  return out;
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = copy_raw(*this, dtype());
  return record(out, OpKind::Contiguous, {*this}, [](const Tensor& g) -> Grads { return {g}; });
}

Tensor Tensor::clone() const {
  Tensor out = copy_raw(*this, dtype());
  return record(out, OpKind::Contiguous, {*this}, [](const Tensor& g) -> Grads { return {g}; });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  GESSO_CHECK(device() == Device::cpu || t == DType::f32, "to(float64): float64 tensors live on the CPU only, this one is on ",
              device_name(device()));
  Tensor out = copy_raw(*this, t);
  DType from = dtype();
  return record(out, OpKind::ToDtype, {*this}, [from](const Tensor& g) -> Grads { return {g.to(from)}; });
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  if (d == Device::simt)
    GESSO_CHECK(simt_available(), "to(simt): this build has no SIMT runtime (configure with the test build)");
  GESSO_CHECK(d == Device::cpu || dtype() == DType::f32, "to(", device_name(d),
              "): float64 tensors live on the CPU only; convert with .to(DType::f32) first");
  Tensor src = dense(*this);
  Tensor out = Tensor::empty(shape(), TensorOptions(dtype()).with(d));
  device_copy(d, out.raw_data(), src.device(), src.raw_data(), numel() * dtype_size(dtype()));
  Device from = device();
  return record(out, OpKind::ToDevice, {*this}, [from](const Tensor& g) -> Grads { return {g.to(from)}; });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis_in) {
  GESSO_CHECK(!xs.empty(), "concat: no tensors given");
  check_same_device_dtype(xs, "concat");
  const Tensor& first = xs[0];
  int axis = normalize_axis(axis_in, first.dim(), "concat");
  Shape shape = first.shape();
  shape[axis] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    GESSO_CHECK(xs[i].dim() == first.dim(), "concat: tensor ", i, " has shape ", xs[i].shape(),
                ", expected ", first.dim(), " dims like tensor 0 ", first.shape());
    for (int d = 0; d < first.dim(); ++d)
      GESSO_CHECK(d == axis || xs[i].shape()[d] == first.shape()[d], "concat: tensor ", i, " has shape ",
                  xs[i].shape(), " which differs from tensor 0 ", first.shape(), " outside axis ", axis);
    shape[axis] += xs[i].shape()[axis];
  }
  Tensor out = Tensor::empty(shape, TensorOptions(first.dtype()).with(first.device()));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (int d = axis + 1; d < first.dim(); ++d) inner *= shape[d];
  int64_t at = 0;
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) {
    Tensor xc = dense(x);
    int64_t cols = x.shape()[axis] * inner;
    switch (first.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(first.dtype(), kernels::copy_rows_cpu(xc.data<scalar_t>(), cols,
                                                                    out.data<scalar_t>() + at * inner,
                                                                    shape[axis] * inner, outer, cols));
        break;
      case Device::cuda:
      case Device::simt:
        check_float32_on_device(first, "concat");
        GESSO_RUN_CUDA_TWIN(first.device(), "concat", copy_rows_cuda, xc.data<float>(), cols,
                            out.data<float>() + at * inner, shape[axis] * inner, outer, cols);
        break;
    }
    at += x.shape()[axis];
    sizes.push_back(x.shape()[axis]);
  }
  return record(out, OpKind::Concat, xs, [sizes, axis](const Tensor& g) -> Grads {
    Grads gs;
    int64_t start = 0;
    for (int64_t n : sizes) {
      gs.push_back(g.narrow(axis, start, n));
      start += n;
    }
    return gs;
  });
}

}  // namespace gesso
