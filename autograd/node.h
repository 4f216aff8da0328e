/*
 * node.h: a node of the autograd graph and the one helper that ops use to
 * record it.
 *
 * Every op has exactly one output. Its node keeps the op's inputs (the
 * graph's edges: each input carries its own grad_fn, or is a leaf) and a
 * backward closure that maps the gradient of the output to one gradient per
 * input. Closures are written in differentiable tensor ops, so running them
 * with grad mode on (create_graph) records the graph of the gradient itself.
 *
 * Memory: an edge to an input made by another op is a handle with the
 * input's shape, dtype, device and grad_fn but not its data, so a node keeps
 * exactly the tensors its closure captures. Capture only what the backward
 * reads: an op whose backward needs only the input's shape captures the
 * shape (a Shape, not the Tensor), and one whose backward can be written
 * from its output captures a detached alias of the output (out.detach(): the
 * output itself would make the node own its own output, a cycle). Leaves are
 * kept whole: backward() accumulates into their .grad.
 *
 * Writing an op (see autograd/ops/elementwise.cpp for the pattern):
 *
 *   Tensor mul(const Tensor& a, const Tensor& b) {
 *     Tensor out = ...run the kernel...;
 *     return record(out, OpKind::Mul, {a, b}, [a, b](const Tensor& g) -> Grads {
 *       return {sum_to(g * b, a.shape()), sum_to(g * a, b.shape())};
 *     });
 *   }
 *
 * A closure may return an undefined Tensor for an input that needs no
 * gradient (check `x.requires_grad()` to skip work).
 */
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/op_kind.h"
#include "tensor/tensor.h"

namespace gesso::autograd {

using Grads = std::vector<Tensor>;
using BackwardFn = std::function<Grads(const Tensor& grad_output)>;

struct Node {
  OpKind op;
  std::vector<Tensor> inputs;  // the edges (data-less handles for non-leaf inputs, see above)
  BackwardFn backward;         // cleared once the graph is freed
  Shape out_shape;
  DType out_dtype = DType::f32;
  Device out_device = Device::cpu;
  const char* name() const { return op_name(op); }
};

// True when grad mode is on and some input requires grad.
bool needs_grad(const std::vector<Tensor>& inputs);

// Records `op` as the producer of `out` when needs_grad(inputs); returns out.
Tensor record(Tensor out, OpKind op, std::vector<Tensor> inputs, BackwardFn backward);

}  // namespace gesso::autograd
