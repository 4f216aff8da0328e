/*
 * module.cpp: registration, traversal, modes, device moves and
 * state_dict / load_state_dict of nn::Module.
 */
#include "nn/module.h"

#include <map>
#include <ostream>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace gesso::nn {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + ("'" + names[i] + "'");
  return out;
}

// Points every handle of `t` at a converted copy of its data (and grad).
template <class Convert>
void replace_in_place(const Tensor& t, Convert convert) {
  NoGradGuard no_grad;
  Tensor moved = convert(t.detach()).contiguous();
  TensorImpl& impl = t.impl();
  impl.storage = moved.impl().storage;
  impl.strides = moved.strides();
  impl.offset = moved.offset();
  impl.dtype = moved.dtype();
  if (impl.grad) impl.grad = convert(Tensor(impl.grad).detach()).contiguous().impl_ptr();
}

}  // namespace

Tensor Module::forward(const Tensor&) {
  fail(type_name(), ": this module has no single-input forward(); call its own methods instead");
}

void Module::check_new_name(const std::string& name, const char* what) const {
  GESSO_CHECK(!name.empty(), type_name(), "::", what, ": the name must not be empty");
  GESSO_CHECK(name.find('.') == std::string::npos, type_name(), "::", what, ": name '", name,
              "' must not contain '.' (dots separate the levels of the module tree)");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  GESSO_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(), "::", what, ": name '", name,
              "' is already registered in this module");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name, "register_parameter");
  GESSO_CHECK(value.defined(), type_name(), "::register_parameter: parameter '", name, "' is undefined");
  GESSO_CHECK(value.is_leaf(), type_name(), "::register_parameter: parameter '", name,
              "' must be a leaf tensor (detach() it first)");
  value.requires_grad_(requires_grad);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_new_name(name, "register_buffer");
  GESSO_CHECK(value.defined(), type_name(), "::register_buffer: buffer '", name, "' is undefined");
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "register_module");
  GESSO_CHECK(child != nullptr, type_name(), "::register_module: module '", name, "' is null");
  GESSO_CHECK(child.get() != this, type_name(), "::register_module: a module cannot contain itself");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers) const {
  if (params)
    for (const auto& [name, t] : params_) params->emplace_back(prefix + name, t);
  if (buffers)
    for (const auto& [name, t] : buffers_) buffers->emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", &out, nullptr);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", nullptr, &out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out = {{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

void Module::to(Device d) {
  NamedTensors params, buffers;
  collect("", &params, &buffers);
  for (auto* list : {&params, &buffers})
    for (auto& [name, t] : *list)
      if (t.device() != d) replace_in_place(t, [d](const Tensor& x) { return x.to(d); });
}

void Module::to(DType dt) {
  NamedTensors params, buffers;
  collect("", &params, &buffers);
  for (auto* list : {&params, &buffers})
    for (auto& [name, t] : *list)
      if (t.dtype() != dt) replace_in_place(t, [dt](const Tensor& x) { return x.to(dt); });
}

StateDict Module::state_dict() const {
  NamedTensors params, buffers;
  collect("", &params, &buffers);
  StateDict out;
  for (auto* list : {&params, &buffers})
    for (auto& [name, t] : *list) out[name] = t.detach();
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, const LoadOptions& options) {
  const std::string& prefix = options.prefix;
  NamedTensors params, buffers;
  collect("", &params, &buffers);
  std::map<std::string, Tensor> own;
  for (auto* list : {&params, &buffers})
    for (auto& [name, t] : *list)
      if (starts_with(name, prefix)) own[name] = t;
  GESSO_CHECK(prefix.empty() || !own.empty(), "load_state_dict: prefix '", prefix,
              "' matches no parameter or buffer of this ", type_name());

  LoadResult result;
  std::vector<std::string> mismatches;
  for (const auto& [name, t] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      result.missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      mismatches.push_back(str("'", name, "': the state dict's tensor is undefined"));
    } else if (src.shape() != t.shape()) {
      mismatches.push_back(str("'", name, "': shape ", src.shape(), " in the state dict, ", t.shape(),
                               " in the module"));
    } else if (src.dtype() != t.dtype()) {
      mismatches.push_back(str("'", name, "': dtype ", dtype_name(src.dtype()), " in the state dict, ",
                               dtype_name(t.dtype()), " in the module"));
    } else {
      result.loaded.push_back(name);
    }
  }
  for (const auto& [name, t] : state)
    if (starts_with(name, prefix) && !own.count(name)) result.unexpected.push_back(name);

  const bool name_errors = options.strict && (!result.missing.empty() || !result.unexpected.empty());
  if (name_errors || !mismatches.empty()) {
    std::ostringstream msg;
    msg << "load_state_dict: the state dict does not match this " << type_name();
    if (!prefix.empty()) msg << " (under prefix '" << prefix << "')";
    msg << ":";
    if (options.strict && !result.missing.empty())
      msg << "\n  missing (in the module, not in the state dict): " << join(result.missing);
    if (options.strict && !result.unexpected.empty())
      msg << "\n  unexpected (in the state dict, not in the module): " << join(result.unexpected);
    for (const std::string& m : mismatches) msg << "\n  mismatch " << m;
    msg << "\nnothing was loaded";
    throw Error(msg.str());
  }

  NoGradGuard no_grad;
  for (const std::string& name : result.loaded) own[name].copy_(state.at(name));
  return result;
}

int Module::set_requires_grad(const std::string& prefix, bool on, const char* what) {
  int count = 0;
  for (auto& [name, p] : named_parameters()) {
    if (!starts_with(name, prefix)) continue;
    p.requires_grad_(on);
    if (!on) p.zero_grad();
    ++count;
  }
  GESSO_CHECK(count > 0, what, ": prefix '", prefix, "' matches no parameter of this ", type_name());
  return count;
}

int Module::freeze(const std::string& prefix) { return set_requires_grad(prefix, false, "freeze"); }
int Module::unfreeze(const std::string& prefix) { return set_requires_grad(prefix, true, "unfreeze"); }

std::string Module::repr() const {
  std::string head = type_name() + "(" + extra_repr();
  if (children_.empty()) return head + ")";
  std::string out = head + "\n";
  for (const auto& [name, child] : children_) {
    std::string sub = child->repr();
    // Indent the child's continuation lines under its name.
    std::string indented;
    for (char ch : sub) {
      indented += ch;
      if (ch == '\n') indented += "  ";
    }
    out += "  (" + name + "): " + indented + "\n";
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace gesso::nn
