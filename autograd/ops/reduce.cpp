/*
 * reduce.cpp: sum, mean, max, var and argmax, along axes or whole. One
 * kernel reduces the middle axis of a contiguous (outer, n, inner) view;
 * several axes are first permuted to the end and merged into one.
 * Backwards broadcast the gradient back over the reduced axes (expand),
 * so they are differentiable again.
 */
#include <algorithm>

#include "autograd/ops/dispatch.h"
#include "kernels/reduce.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using kernels::ReduceOp;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

namespace {

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t ndim, const char* what) {
  std::vector<int64_t> out;
  for (int64_t a : axes) out.push_back(normalize_axis(a, ndim, what));
  std::sort(out.begin(), out.end());
  GESSO_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), what, ": repeated axis in ", axes);
  return out;
}

Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& axes) {
  Shape k = s;
  for (int64_t a : axes) k[a] = 1;
  return k;
}

Shape dropped_shape(const Shape& s, const std::vector<int64_t>& axes) {
  Shape k;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) k.push_back(s[d]);
  return k;
}

// Reduces x over `axes` (sorted, unique) into a tensor of keepdim shape; no node.
Tensor reduce_raw(ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes, int ddof, const char* what) {
  GESSO_CHECK(x.defined(), what, ": argument is undefined");
  Shape kshape = keepdim_shape(x.shape(), axes);
  // Bring the reduced axes together at the end unless they already are one block.
  bool adjacent = axes.empty() || axes.back() - axes.front() + 1 == static_cast<int64_t>(axes.size());
  Tensor src = x.detach();
  int64_t first = axes.empty() ? x.dim() : axes.front(), last = axes.empty() ? x.dim() - 1 : axes.back();
  if (!adjacent) {
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!std::binary_search(axes.begin(), axes.end(), d)) perm.push_back(d);
    for (int64_t a : axes) perm.push_back(a);
    src = src.permute(perm);
    first = x.dim() - static_cast<int64_t>(axes.size());
    last = x.dim() - 1;
  }
  src = dense(src);
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < first; ++d) outer *= src.shape()[d];
  for (int64_t d = first; d <= last; ++d) n *= src.shape()[d];
  for (int64_t d = last + 1; d < src.dim(); ++d) inner *= src.shape()[d];
  GESSO_CHECK(n > 0 || op == ReduceOp::sum, what, ": cannot reduce over an empty axis (shape ", x.shape(), ")");
  Tensor out = Tensor::empty(kshape, TensorOptions(x.dtype()).with(x.device()));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::reduce_cpu(op, src.data<scalar_t>(), out.data<scalar_t>(), outer, n,
                                                           inner, ddof));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, what);
      GESSO_RUN_CUDA_TWIN(x.device(), what, reduce_cuda, op, src.data<float>(), out.data<float>(), outer, n, inner,
                          ddof);
      break;
  }
  return out;
}

std::vector<int64_t> all_axes(const Tensor& x) {
  std::vector<int64_t> a(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) a[i] = i;
  return a;
}

int64_t count_over(const Shape& s, const std::vector<int64_t>& axes) {
  int64_t n = 1;
  for (int64_t a : axes) n *= s[a];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> axes_in, bool keepdim) {
  std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), "sum");
  Tensor out = reduce_raw(ReduceOp::sum, x, axes, 0, "sum");
  if (!keepdim) out = out.view(dropped_shape(x.shape(), axes));
  Shape in_shape = x.shape(), kshape = keepdim_shape(x.shape(), axes);
  return record(out, OpKind::Sum, {x}, [in_shape, kshape](const Tensor& g) -> Grads {
    return {g.reshape(kshape).expand(in_shape)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, all_axes(x), false); }

Tensor mean(const Tensor& x, std::vector<int64_t> axes_in, bool keepdim) {
  std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), "mean");
  int64_t n = count_over(x.shape(), axes);
  GESSO_CHECK(n > 0, "mean: cannot average over an empty axis (shape ", x.shape(), ")");
  return mul(sum(x, axes, keepdim), 1.0 / static_cast<double>(n));
}

Tensor mean(const Tensor& x) { return mean(x, all_axes(x), false); }

Tensor max(const Tensor& x, int64_t axis_in, bool keepdim) {
  std::vector<int64_t> axes = {normalize_axis(axis_in, x.dim(), "max")};
  Tensor kout = reduce_raw(ReduceOp::max, x, axes, 0, "max");
  Tensor out = keepdim ? kout : kout.view(dropped_shape(x.shape(), axes));
  Shape kshape = kout.shape();
  return record(out, OpKind::Max, {x}, [x, kout, kshape, axes](const Tensor& g) -> Grads {
    // Ties share the gradient equally, as the subgradient that keeps sums exact.
    Tensor mask = eq(x.detach(), kout);
    Tensor count = sum(mask, axes, true);
    return {mul(g.reshape(kshape), div(mask, count))};
  });
}

Tensor max(const Tensor& x) {
  Tensor flat = x.reshape({x.numel()});
  return max(flat, 0, false);
}

Tensor var(const Tensor& x, std::vector<int64_t> axes_in, bool unbiased, bool keepdim) {
  std::vector<int64_t> axes = normalize_axes(axes_in, x.dim(), "var");
  int ddof = unbiased ? 1 : 0;
  Tensor out = reduce_raw(ReduceOp::var, x, axes, ddof, "var");
  if (!keepdim) out = out.view(dropped_shape(x.shape(), axes));
  Shape kshape = keepdim_shape(x.shape(), axes);
  double denom = static_cast<double>(count_over(x.shape(), axes) - ddof);
  return record(out, OpKind::Var, {x}, [x, axes, kshape, denom](const Tensor& g) -> Grads {
    // d var / dx = 2 (x - mean) / (n - ddof)
    Tensor centred = sub(x, mean(x, axes, true));
    return {mul(mul(g.reshape(kshape), centred), 2.0 / denom)};
  });
}

Tensor argmax(const Tensor& x, int64_t axis_in) {
  std::vector<int64_t> axes = {normalize_axis(axis_in, x.dim(), "argmax")};
  return reduce_raw(ReduceOp::argmax, x, axes, 0, "argmax").view(dropped_shape(x.shape(), axes));
}

}  // namespace gesso
