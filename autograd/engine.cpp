/*
 * engine.cpp: reverse-mode differentiation.
 *
 * 1. Walk the graph from the roots (iteratively: graphs can be deep) and
 *    keep the nodes in reverse post-order, a topological order in which a
 *    node comes after every node that consumes its output.
 * 2. Visit the nodes in that order; each holds the sum of the gradients that
 *    reached it and hands its closure's results to its inputs: to the input's
 *    node, or, for a leaf, to its .grad (backward) or to the caller (grad).
 * Grad mode is on during the walk only with create_graph, so only then do
 * the closures' tensor ops record the graph of the gradient.
 */
#include "autograd/engine.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace gesso::autograd {

namespace {

// Returns owning pointers: freeing a node's inputs as the walk goes would
// otherwise destroy nodes still waiting their turn.
std::vector<std::shared_ptr<Node>> topological_order(const std::vector<std::shared_ptr<Node>>& roots) {
  std::vector<std::shared_ptr<Node>> post;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;  // node, next input to visit
  for (const auto& r : roots) {
    if (!r || !seen.insert(r.get()).second) continue;
    stack.push_back({r, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs.size()) {
        const Tensor& in = node->inputs[next++];
        const std::shared_ptr<Node>& child = in.defined() ? in.grad_fn() : nullptr;
        if (child && seen.insert(child.get()).second) stack.push_back({child, 0});
      } else {
        post.push_back(std::move(node));
        stack.pop_back();
      }
    }
  }
  return std::vector<std::shared_ptr<Node>>(post.rbegin(), post.rend());
}

void accumulate(Tensor& slot, const Tensor& g) { slot = slot.defined() ? add(slot, g) : g; }

// True when g may become a leaf's .grad as it is: nothing else holds its
// handle or its storage (so no other tensor sees the optimizer's in-place
// updates), and it is dense (in-place updates touch every element once).
bool can_steal(const Tensor& g) {
  const TensorImpl& impl = g.impl();
  return g.impl_ptr().use_count() == 1 && impl.storage.use_count() == 1 && impl.grad_fn == nullptr &&
         g.offset() == 0 && g.is_contiguous() &&
         impl.storage->bytes == static_cast<size_t>(g.numel()) * dtype_size(g.dtype());
}

// Adds the gradient g to the leaf's .grad. .grad never aliases another
// tensor: optimizers and clipping may change it in place. With create_graph
// it keeps its graph instead (and may alias).
void accumulate_leaf(const Tensor& leaf_in, const Tensor& g, bool create_graph) {
  Tensor leaf = leaf_in;
  if (leaf.grad().defined()) leaf.set_grad(add(leaf.grad(), g));  // a fresh tensor (with a graph if create_graph)
  else if (create_graph || can_steal(g)) leaf.set_grad(g);
  else leaf.set_grad(g.detach().clone());
}

Tensor root_gradient(const Tensor& root, const Tensor& given, const char* what) {
  if (given.defined()) {
    GESSO_CHECK(given.shape() == root.shape(), what, ": gradient shape ", given.shape(),
                " does not match output shape ", root.shape());
    return given;
  }
  GESSO_CHECK(root.numel() == 1, what, ": a gradient must be given for a non-scalar output of shape ",
              root.shape());
  return ones(root.shape(), TensorOptions(root.dtype()).with(root.device()));
}

// Runs the walk. When `capture` is non-null, gradients of the tensors it
// names are collected there (by node for non-leaves, by impl for leaves) and
// no .grad is touched; otherwise leaves accumulate into .grad.
struct Capture {
  std::unordered_map<const Node*, Tensor> by_node;
  std::unordered_map<const TensorImpl*, Tensor> by_leaf;
};

void run(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads, Capture* capture,
         bool retain_graph, bool create_graph) {
  GradModeGuard mode(create_graph);
  std::unordered_map<Node*, Tensor> grads;
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    GESSO_CHECK(r.requires_grad(), "backward: output ", i,
                " does not require grad (no input of the computation had requires_grad set)");
    if (r.grad_fn()) {
      accumulate(grads[r.grad_fn().get()], root_grads[i]);
      root_nodes.push_back(r.grad_fn());
    } else if (capture) {
      auto it = capture->by_leaf.find(r.impl_ptr().get());
      if (it != capture->by_leaf.end()) accumulate(it->second, root_grads[i]);
    } else {
      accumulate_leaf(r, root_grads[i], create_graph);
    }
  }
  for (const std::shared_ptr<Node>& owned : topological_order(root_nodes)) {
    Node* node = owned.get();
    auto it = grads.find(node);
    if (it == grads.end()) continue;  // no gradient reached this node
    Tensor g = it->second;
    grads.erase(it);
    if (capture) {
      auto c = capture->by_node.find(node);
      if (c != capture->by_node.end()) accumulate(c->second, g);
    }
    GESSO_CHECK(node->backward != nullptr, "backward through the graph a second time: node '", node->name(),
                "' was freed by an earlier backward; pass retain_graph=true to the first one");
    Grads in_grads = node->backward(g);
    g = Tensor();  // the closure is done with it: a gradient it passed on unchanged is then held once
    GESSO_CHECK(in_grads.size() == node->inputs.size(), "internal: backward of '", node->name(), "' returned ",
                in_grads.size(), " gradients for ", node->inputs.size(), " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      const Tensor& gi = in_grads[i];
      if (!in.defined() || !in.requires_grad() || !gi.defined()) continue;
      GESSO_CHECK(gi.shape() == in.shape(), "internal: backward of '", node->name(), "' gave input ", i,
                  " a gradient of shape ", gi.shape(), " for an input of shape ", in.shape());
      if (in.grad_fn()) {
        accumulate(grads[in.grad_fn().get()], gi);
      } else if (capture) {
        auto c = capture->by_leaf.find(in.impl_ptr().get());
        if (c != capture->by_leaf.end()) accumulate(c->second, gi);
      } else {
        accumulate_leaf(in, gi, create_graph);
      }
    }
    if (!retain_graph) {
      node->backward = nullptr;
      node->inputs.clear();
    }
  }
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_root, bool retain_graph, bool create_graph) {
  GESSO_CHECK(root.defined(), "backward: the output tensor is undefined");
  Tensor g = root_gradient(root, grad_root, "backward");
  run({root}, {g}, nullptr, retain_graph, create_graph);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  GESSO_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "grad: ", grad_outputs.size(),
              " grad_outputs given for ", outputs.size(), " outputs");
  std::vector<Tensor> root_grads;
  for (size_t i = 0; i < outputs.size(); ++i)
    root_grads.push_back(root_gradient(outputs[i], grad_outputs.empty() ? Tensor() : grad_outputs[i], "grad"));
  Capture cap;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    GESSO_CHECK(x.defined() && x.requires_grad(), "grad: input ", i, " does not require grad");
    if (x.grad_fn()) cap.by_node[x.grad_fn().get()] = Tensor();
    else cap.by_leaf[x.impl_ptr().get()] = Tensor();
  }
  run(outputs, root_grads, &cap, retain_graph, create_graph);
  std::vector<Tensor> result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    Tensor g = x.grad_fn() ? cap.by_node[x.grad_fn().get()] : cap.by_leaf[x.impl_ptr().get()];
    GESSO_CHECK(g.defined() || allow_unused, "grad: input ", i,
                " was not used to compute the outputs (pass allow_unused=true to get an undefined tensor)");
    result.push_back(g);
  }
  return result;
}

}  // namespace gesso::autograd
