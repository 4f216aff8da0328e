/*
 * module.h: the Module base class: a tree of named parameters, buffers and
 * child modules, as in PyTorch.
 *
 *   parameters  trainable tensors (requires_grad set when registered)
 *   buffers     state that is saved but not trained (running statistics)
 *   children    sub-modules; their tensors appear under dotted names,
 *               "0.weight", "main.1.running_mean"
 *
 * Names come out in registration order (optimizers index parameters by
 * that order, so it must be stable). Tensors are handles: a layer keeps its
 * `weight` member and the registry holds the same tensor, so in-place
 * changes (load_state_dict, to(), an optimizer step) are seen by both.
 *
 * A StateDict (nn/state_dict.h) holds every parameter and buffer by dotted
 * name; its tensors share storage with the module (clone to snapshot).
 * load_state_dict checks everything first and copies only if all checks
 * pass, so a bad file never leaves a half-loaded model.
 */
#pragma once
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/state_dict.h"
#include "tensor/tensor.h"

namespace gesso::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct LoadOptions {
  // Missing or unexpected names are errors (shape or dtype mismatches always are).
  bool strict = true;
  // When set, only names starting with it are considered, on both sides
  // (names are not stripped: "features.0.weight" loads "features.0.weight"),
  // and `strict` applies to that part only.
  std::string prefix = "";
};

struct LoadResult {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     // in the module, not in the state dict (non-strict only)
  std::vector<std::string> unexpected;  // in the state dict, not in the module (non-strict only)
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The layer's type ("Conv2d"), for messages and printing.
  virtual std::string type_name() const { return "Module"; }
  // The layer's settings in one line ("3, 64, kernel=(4, 4), stride=(2, 2)").
  virtual std::string extra_repr() const { return ""; }
  // Single-input forward; modules without one throw.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration (names: non-empty, no '.', unique within this module)
  Tensor register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }

  // ---- traversal (recursive, registration order, dotted names)
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // This module (name "") and every descendant, parents before children.
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t num_parameters() const;

  // ---- mode
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Drops the .grad of every parameter.
  void zero_grad();
  // Moves (converts) every parameter and buffer in place: the same tensor
  // handles now live on `d` (hold `t`), so references kept elsewhere follow.
  void to(Device d);
  void to(DType t);

  // ---- state
  StateDict state_dict() const;
  LoadResult load_state_dict(const StateDict& state, const LoadOptions& options = {});

  // Sets requires_grad = false (and drops .grad) on every parameter whose
  // dotted name starts with `prefix` ("" = all); returns how many. Throws
  // when none matches (a typo would otherwise freeze nothing, silently).
  int freeze(const std::string& prefix = "");
  int unfreeze(const std::string& prefix = "");

  // PyTorch-style multi-line description of the tree.
  std::string repr() const;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const;
  int set_requires_grad(const std::string& prefix, bool on, const char* what);

  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace gesso::nn
