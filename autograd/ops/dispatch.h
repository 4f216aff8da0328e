/*
 * dispatch.h: what every op file shares: the error for a device without a
 * kernel, and a contiguous copy taken outside the graph (ops record their own
 * node; the copy they feed a kernel needs none).
 */
#pragma once
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace gesso::ops_detail {

[[noreturn]] inline void no_kernel(const char* op, Device d) {
  fail(op, ": no kernel for device ", device_name(d),
       " in this build (the CPU backend runs every op; move the tensors with .to(Device::cpu))");
}

// x itself when contiguous, else a contiguous copy; never records a node.
inline Tensor dense(const Tensor& x) {
  if (x.is_contiguous()) return x;
  NoGradGuard no_grad;
  return x.contiguous();
}

}  // namespace gesso::ops_detail
