/*
 * engine.h: reverse-mode differentiation over the recorded graph.
 *
 * backward() accumulates d(root)/d(leaf) into every leaf's .grad (adding to
 * what is there). grad() returns d(outputs)/d(inputs) for any tensors of the
 * graph, leaves or not, and touches no .grad: it is the call for gradient
 * penalties. With create_graph the gradients carry a graph of their own;
 * without retain_graph the graph's closures are freed as they run.
 */
#pragma once
#include <vector>
#include "tensor/tensor.h"

namespace gesso::autograd {

void backward(const Tensor& root, const Tensor& grad_root = Tensor(), bool retain_graph = false,
              bool create_graph = false);

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

}  // namespace gesso::autograd
