/*
 * elementwise.cpp: arithmetic with broadcasting, unary math, where and the
 * comparisons. Each forward picks the kernel twin by device; each backward,
 * right below, is written in these same ops, so it is differentiable again.
 * Broadcast inputs get their gradient summed back with sum_to().
 */
#include "autograd/ops/dispatch.h"
#include "kernels/elementwise.h"
#include "tensor/layout.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using kernels::BinaryOp;
using kernels::UnaryOp;
using ops_detail::check_float32_on_device;
using ops_detail::dense;

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::pow: return "pow";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
  }
  return "?";
}

// Runs a broadcast binary kernel; records nothing.
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  GESSO_CHECK(a.defined() && b.defined(), name, ": an argument is undefined");
  check_same_device_dtype({a, b}, name);
  Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(out_shape, TensorOptions(a.dtype()).with(a.device()));
  kernels::BinaryLayout L = make_binary_layout(out_shape, a.shape(), a.strides(), b.shape(), b.strides());
  switch (a.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(a.dtype(),
                           kernels::binary_forward_cpu(op, a.data<scalar_t>(), b.data<scalar_t>(),
                                                       out.data<scalar_t>(), L));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(a, name);
      GESSO_RUN_CUDA_TWIN(a.device(), name, binary_forward_cuda, op, a.data<float>(), b.data<float>(),
                          out.data<float>(), L);
      break;
  }
  return out;
}

// Runs a unary kernel on a contiguous copy of x; records nothing.
Tensor unary_raw(UnaryOp op, const Tensor& x, double alpha, double beta, const char* name) {
  GESSO_CHECK(x.defined(), name, ": argument is undefined");
  Tensor xc = dense(x);
  Tensor out = Tensor::empty(x.shape(), TensorOptions(x.dtype()).with(x.device()));
  switch (x.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(x.dtype(), kernels::unary_forward_cpu(op, xc.data<scalar_t>(), out.data<scalar_t>(),
                                                                  x.numel(), alpha, beta));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(x, name);
      GESSO_RUN_CUDA_TWIN(x.device(), name, unary_forward_cuda, op, xc.data<float>(), out.data<float>(), x.numel(),
                          alpha, beta);
      break;
  }
  return out;
}

}  // namespace

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  GESSO_CHECK(static_cast<size_t>(g.dim()) >= shape.size(), "sum_to: cannot reduce shape ", g.shape(),
              " to the larger shape ", shape);
  size_t lead = g.dim() - shape.size();
  std::vector<int64_t> axes;
  for (size_t d = 0; d < static_cast<size_t>(g.dim()); ++d) {
    if (d < lead) axes.push_back(static_cast<int64_t>(d));
    else if (shape[d - lead] == 1 && g.shape()[d] != 1) axes.push_back(static_cast<int64_t>(d));
    else GESSO_CHECK(shape[d - lead] == g.shape()[d], "sum_to: shape ", g.shape(), " does not broadcast from ", shape);
  }
  Tensor s = axes.empty() ? g : sum(g, axes, /*keepdim=*/true);
  return s.reshape(shape);
}

// ---- binary arithmetic

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::add, a, b);
  return record(out, OpKind::Add, {a, b}, [a, b](const Tensor& g) -> Grads {
    return {a.requires_grad() ? sum_to(g, a.shape()) : Tensor(), b.requires_grad() ? sum_to(g, b.shape()) : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::sub, a, b);
  return record(out, OpKind::Sub, {a, b}, [a, b](const Tensor& g) -> Grads {
    return {a.requires_grad() ? sum_to(g, a.shape()) : Tensor(), b.requires_grad() ? sum_to(neg(g), b.shape()) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::mul, a, b);
  return record(out, OpKind::Mul, {a, b}, [a, b](const Tensor& g) -> Grads {
    return {a.requires_grad() ? sum_to(mul(g, b), a.shape()) : Tensor(),
            b.requires_grad() ? sum_to(mul(g, a), b.shape()) : Tensor()};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::div, a, b);
  return record(out, OpKind::Div, {a, b}, [a, b](const Tensor& g) -> Grads {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
    return {a.requires_grad() ? sum_to(div(g, b), a.shape()) : Tensor(),
            b.requires_grad() ? sum_to(neg(div(mul(g, a), mul(b, b))), b.shape()) : Tensor()};
  });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::pow, a, b);
  return record(out, OpKind::Pow, {a, b}, [a, b](const Tensor& g) -> Grads {
    // d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a. Their limits are taken
    // where the formulas read 0 * inf: d/da = 0 where b == 0 (a^0 is constant,
    // even at a = 0), d/db = 0 where a == 0 and b >= 0 (0^b is constant there).
    Tensor zero = zeros({}, TensorOptions(a.dtype()).with(a.device()));
    Tensor ga, gb;
    if (a.requires_grad())
      ga = sum_to(where(eq(b.detach(), zero), zero, mul(g, mul(b, pow(a, add(b, -1.0))))), a.shape());
    if (b.requires_grad()) {
      Tensor zero_base = mul(eq(a.detach(), zero), ge(b.detach(), zero));
      gb = sum_to(where(zero_base, zero, mul(g, mul(pow(a, b), log(a)))), b.shape());
    }
    return {ga, gb};
  });
}

// ---- scalar forms (one kernel, no broadcast tensor)

Tensor add(const Tensor& a, double s) {
  Tensor out = unary_raw(UnaryOp::affine, a, 1.0, s, "add");
  return record(out, OpKind::Add, {a}, [](const Tensor& g) -> Grads { return {g}; });
}

Tensor mul(const Tensor& a, double s) {
  Tensor out = unary_raw(UnaryOp::affine, a, s, 0.0, "mul");
  return record(out, OpKind::Mul, {a}, [s](const Tensor& g) -> Grads { return {mul(g, s)}; });
}

Tensor pow(const Tensor& a, double e) {
  Tensor out = unary_raw(UnaryOp::pow_scalar, a, e, 0.0, "pow");
  return record(out, OpKind::PowScalar, {a}, [a, e](const Tensor& g) -> Grads {
    if (e == 1.0) return {g};
    // a^0 is constant, even at a = 0 where the formula reads 0 * inf.
    if (e == 0.0) return {zeros(a.shape(), TensorOptions(a.dtype()).with(a.device()))};
    return {mul(g, mul(pow(a, e - 1.0), e))};
  });
}

// ---- unary math

Tensor neg(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::neg, a, 0, 0, "neg");
  return record(out, OpKind::Neg, {a}, [](const Tensor& g) -> Grads { return {neg(g)}; });
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::exp, a, 0, 0, "exp");
  // Recomputed from the input rather than saved: saving the output would
  // make the node own its own output (a cycle).
  return record(out, OpKind::Exp, {a}, [a](const Tensor& g) -> Grads { return {mul(g, exp(a))}; });
}

Tensor log(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::log, a, 0, 0, "log");
  return record(out, OpKind::Log, {a}, [a](const Tensor& g) -> Grads { return {div(g, a)}; });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::sqrt, a, 0, 0, "sqrt");
  return record(out, OpKind::Sqrt, {a}, [a](const Tensor& g) -> Grads { return {div(mul(g, 0.5), sqrt(a))}; });
}

Tensor abs(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::abs, a, 0, 0, "abs");
  return record(out, OpKind::Abs, {a}, [a](const Tensor& g) -> Grads {
    Tensor sign = sub(gt(a, 0.0), lt(a, zeros({}, TensorOptions(a.dtype()).with(a.device()))));
    return {mul(g, sign)};
  });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  GESSO_CHECK(lo <= hi, "clamp: lo (", lo, ") must be <= hi (", hi, ")");
  Tensor out = unary_raw(UnaryOp::clamp, a, lo, hi, "clamp");
  return record(out, OpKind::Clamp, {a}, [a, lo, hi](const Tensor& g) -> Grads {
    // The gradient passes where lo <= a <= hi, as in PyTorch.
    TensorOptions o = TensorOptions(a.dtype()).with(a.device());
    Tensor inside = mul(ge(a, full({}, lo, o)), le(a, full({}, hi, o)));
    return {mul(g, inside)};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  GESSO_CHECK(cond.defined() && a.defined() && b.defined(), "where: an argument is undefined");
  check_same_device_dtype({cond, a, b}, "where");
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor c = dense(cond.expand(shape)), ae = dense(a.detach().expand(shape)), be = dense(b.detach().expand(shape));
  Tensor out = Tensor::empty(shape, TensorOptions(a.dtype()).with(a.device()));
  switch (a.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(a.dtype(), kernels::where_forward_cpu(c.data<scalar_t>(), ae.data<scalar_t>(),
                                                                  be.data<scalar_t>(), out.data<scalar_t>(),
                                                                  out.numel()));
      break;
    case Device::cuda:
    case Device::simt:
      check_float32_on_device(a, "where");
      GESSO_RUN_CUDA_TWIN(a.device(), "where", where_forward_cuda, c.data<float>(), ae.data<float>(),
                          be.data<float>(), out.data<float>(), out.numel());
      break;
  }
  Tensor cd = cond.detach();
  return record(out, OpKind::Where, {a, b}, [cd, a, b](const Tensor& g) -> Grads {
    Tensor z = zeros({}, TensorOptions(g.dtype()).with(g.device()));
    return {a.requires_grad() ? sum_to(where(cd, g, z), a.shape()) : Tensor(),
            b.requires_grad() ? sum_to(where(cd, z, g), b.shape()) : Tensor()};
  });
}

// ---- comparisons: masks, outside the graph

Tensor eq(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::ge, a, b); }
Tensor gt(const Tensor& a, double b) { return unary_raw(UnaryOp::step, a, b, 0.0, "gt"); }

// ---- operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }

}  // namespace gesso
