// node.cpp: grad mode, and recording a node with its edges (data-less handles for non-leaf inputs).
#include "autograd/node.h"

#include <map>
#include <mutex>

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

namespace {

// One storage of no bytes per device, shared by every edge handle.
const std::shared_ptr<Storage>& no_data(Device d) {
  static std::mutex mu;
  // Leaked on purpose: nodes with static lifetime may be freed after main().
  static auto* none = new std::map<Device, std::shared_ptr<Storage>>();
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<Storage>& s = (*none)[d];
  if (!s) s = std::make_shared<Storage>(d, 0);
  return s;
}

// What the graph keeps of an input: a leaf whole (its .grad is written), an
// op's output as a handle without its data (the closure holds what it needs).
Tensor edge_of(const Tensor& t) {
  if (!t.defined() || !t.grad_fn()) return t;
  auto edge = std::make_shared<TensorImpl>();
  edge->storage = no_data(t.device());
  edge->shape = t.shape();
  edge->strides = t.strides();
  edge->dtype = t.dtype();
  edge->requires_grad = true;
  edge->grad_fn = t.grad_fn();
  return Tensor(std::move(edge));
}

}  // namespace

Tensor record(Tensor out, OpKind op, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) node->inputs.push_back(edge_of(t));
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
