/*
 * matmul.cpp: matmul (2-d), bmm (3-d) and linear, all through kernels/gemm.h.
 *
 * A transposed view (strides (1, rows)) goes to the GEMM as a transpose flag,
 * not as a copy, so the backwards below, which multiply by transposes, copy
 * nothing. Each backward is written in matmul/bmm of transposes, so it is
 * differentiable again:
 *   C = A B   ->   dA = dC B^T,   dB = A^T dC.
 * linear is composed of reshape, matmul and add and records no node of its own.
 */
#include "autograd/ops/device_gemm_conv.h"
#include "autograd/ops/dispatch.h"
#include "kernels/gemm.h"

namespace gesso {

using autograd::Grads;
using autograd::OpKind;
using autograd::record;
using ops_detail::dense;
using ops_detail::no_kernel;

namespace {

// The last two dims of a tensor as a GEMM operand: stored row-major with
// leading dimension `ld` (trans = false), or stored transposed (trans = true).
// `holder` keeps alive the contiguous copy made when neither fits.
struct GemmOperand {
  Tensor holder;
  bool trans = false;
  int64_t ld = 1;
  int64_t batch_stride = 0;  // of dim 0 for 3-d tensors
};

GemmOperand gemm_operand(const Tensor& t) {
  const int64_t nd = t.dim();
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  const int64_t s_row = t.strides()[nd - 2], s_col = t.strides()[nd - 1];
  GemmOperand op;
  // Strides of size-1 dims carry no meaning, so they never rule a layout out.
  if ((cols <= 1 || s_col == 1) && (rows <= 1 || s_row >= std::max<int64_t>(1, cols))) {
    op.holder = t;
    op.ld = rows <= 1 ? std::max<int64_t>(1, cols) : s_row;
  } else if ((rows <= 1 || s_row == 1) && (cols <= 1 || s_col >= std::max<int64_t>(1, rows))) {
    op.holder = t;
    op.trans = true;
    op.ld = cols <= 1 ? std::max<int64_t>(1, rows) : s_col;
  } else {
    op.holder = dense(t.detach());
    op.ld = std::max<int64_t>(1, cols);
  }
  if (nd == 3) op.batch_stride = op.holder.strides()[0];
  return op;
}

// out (B, M, N) = a (B, M, K) @ b (B, K, N), or the 2-d case with B = 1; no node.
Tensor gemm_raw(const Tensor& a, const Tensor& b, const char* what) {
  const int64_t nd = a.dim();
  const int64_t batch = nd == 3 ? a.shape()[0] : 1;
  const int64_t M = a.shape()[nd - 2], K = a.shape()[nd - 1], N = b.shape()[nd - 1];
  Shape out_shape = nd == 3 ? Shape{batch, M, N} : Shape{M, N};
  Tensor out = Tensor::empty(out_shape, TensorOptions(a.dtype()).with(a.device()));
  GemmOperand A = gemm_operand(a), B = gemm_operand(b);
  switch (a.device()) {
    case Device::cpu:
      GESSO_DISPATCH_FLOAT(a.dtype(), kernels::gemm_batched_cpu<scalar_t>(
                                          batch, A.trans, B.trans, M, N, K, scalar_t(1), A.holder.data<scalar_t>(),
                                          A.ld, A.batch_stride, B.holder.data<scalar_t>(), B.ld, B.batch_stride,
                                          scalar_t(0), out.data<scalar_t>(), std::max<int64_t>(1, N), M * N));
      break;
    case Device::cuda:
    case Device::simt:  // kernels/cuda/gemm.cu (or cuBLAS with GESSO_KERNELS=vendor)
      ops_detail::check_float32_on_device(a, what);
      ops_detail::device_gemm_batched(a.device(), batch, A.trans, B.trans, M, N, K, 1.0f, A.holder.data<float>(), A.ld,
                                      A.batch_stride, B.holder.data<float>(), B.ld, B.batch_stride, 0.0f,
                                      out.data<float>(), std::max<int64_t>(1, N), M * N);
      break;
  }
  return out;
}

void check_operands(const Tensor& a, const Tensor& b, int64_t ndim, const char* what, const char* layout_a,
                    const char* layout_b) {
  GESSO_CHECK(a.defined(), what, ": argument 'a' is undefined");
  GESSO_CHECK(b.defined(), what, ": argument 'b' is undefined");
  GESSO_CHECK(a.dim() == ndim, what, ": argument 'a' must be ", ndim, "-d ", layout_a, ", got shape ", a.shape());
  GESSO_CHECK(b.dim() == ndim, what, ": argument 'b' must be ", ndim, "-d ", layout_b, ", got shape ", b.shape());
  check_same_device_dtype({a, b}, what);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, 2, "matmul", "(M, K)", "(K, N)");
  GESSO_CHECK(a.shape()[1] == b.shape()[0], "matmul: inner dimensions differ: a has shape ", a.shape(),
              " and b has shape ", b.shape(), " (a's dim 1 = ", a.shape()[1], " must equal b's dim 0 = ",
              b.shape()[0], ")");
  Tensor out = gemm_raw(a, b, "matmul");
  return record(out, OpKind::Matmul, {a, b}, [a, b](const Tensor& g) -> Grads {
    return {a.requires_grad() ? matmul(g, b.transpose(0, 1)) : Tensor(),
            b.requires_grad() ? matmul(a.transpose(0, 1), g) : Tensor()};
  });
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands(a, b, 3, "bmm", "(B, M, K)", "(B, K, N)");
  GESSO_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes differ: a has shape ", a.shape(), " and b has shape ",
              b.shape(), " (a's dim 0 = ", a.shape()[0], " must equal b's dim 0 = ", b.shape()[0], ")");
  GESSO_CHECK(a.shape()[2] == b.shape()[1], "bmm: inner dimensions differ: a has shape ", a.shape(),
              " and b has shape ", b.shape(), " (a's dim 2 = ", a.shape()[2], " must equal b's dim 1 = ",
              b.shape()[1], ")");
  Tensor out = gemm_raw(a, b, "bmm");
  return record(out, OpKind::Bmm, {a, b}, [a, b](const Tensor& g) -> Grads {
    return {a.requires_grad() ? bmm(g, b.transpose(1, 2)) : Tensor(),
            b.requires_grad() ? bmm(a.transpose(1, 2), g) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  GESSO_CHECK(x.defined(), "linear: argument 'x' is undefined");
  GESSO_CHECK(weight.defined(), "linear: argument 'weight' is undefined");
  GESSO_CHECK(x.dim() >= 1, "linear: argument 'x' must have at least 1 dim (..., in_features), got shape ",
              x.shape());
  GESSO_CHECK(weight.dim() == 2, "linear: argument 'weight' must be 2-d (out_features, in_features), got shape ",
              weight.shape());
  const int64_t in = weight.shape()[1], out_features = weight.shape()[0];
  GESSO_CHECK(x.shape().back() == in, "linear: inner dimensions differ: x has shape ", x.shape(),
              " and weight has shape ", weight.shape(), " (x's last dim = ", x.shape().back(),
              " must equal weight's dim 1 = ", in, ")");
  if (bias.defined())
    GESSO_CHECK(bias.dim() == 1 && bias.shape()[0] == out_features, "linear: argument 'bias' must have shape (",
                out_features, ",) to match weight ", weight.shape(), ", got shape ", bias.shape());
  check_same_device_dtype({x, weight, bias}, "linear");
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  Tensor rows = x.reshape({numel_of(lead), in});
  Tensor y = matmul(rows, weight.transpose(0, 1));
  if (bias.defined()) y = add(y, bias);
  Shape out_shape = lead;
  out_shape.push_back(out_features);
  return y.reshape(out_shape);
}

}  // namespace gesso
