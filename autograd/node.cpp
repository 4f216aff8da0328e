// node.cpp: grad mode and recording a node.
#include "autograd/node.h"

namespace gesso::autograd {

namespace {
thread_local bool g_grad_enabled = true;
}

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set(bool on) { g_grad_enabled = on; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, OpKind op, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  node->out_shape = out.shape();
  node->out_dtype = out.dtype();
  node->out_device = out.device();
  // The output is a fresh handle: a view op may share storage with its input,
  // but never its autograd state.
  TensorImpl& impl = out.impl();
  impl.grad_fn = std::move(node);
  impl.requires_grad = true;
  return out;
}

}  // namespace gesso::autograd
