/*
 * optim.cpp: the optimizers, schedules and clipping of nn/optim.h.
 *
 * SGD and Adam hand each parameter to one update kernel (kernels/optim.h).
 * L-BFGS works on the parameters as one flat vector built with tensor ops
 * (concat, mul, add, sum), so it runs on whatever device the parameters
 * live on; its scalars (dot products, step lengths) are doubles on the host.
 */
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "kernels/optim.h"

namespace gesso::nn {

namespace {

Tensor scalar_f64(double v) { return scalar_tensor(v, TensorOptions(DType::f64)); }

double read_scalar(const StateDict& state, const std::string& name, const char* who) {
  auto it = state.find(name);
  GESSO_CHECK(it != state.end(), who, "::load_state_dict: the state dict has no '", name, "'");
  GESSO_CHECK(it->second.defined() && it->second.numel() == 1, who, "::load_state_dict: '", name,
              "' must hold one value, got shape ", it->second.defined() ? it->second.shape() : Shape{});
  return it->second.item();
}

// A copy of src with the dtype and device of `like` (optimizer state lives beside its parameter).
Tensor copy_like(const Tensor& src, const Tensor& like) {
  Tensor out = Tensor::empty(src.shape(), TensorOptions(like.dtype()).with(like.device()));
  out.copy_(src);
  return out;
}

Tensor snapshot(const Tensor& t) {
  NoGradGuard no_grad;
  return t.detach().clone();
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

// ---- Optimizer

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  GESSO_CHECK(!params_.empty(), "optimizer: the parameter list is empty");
  for (size_t i = 0; i < params_.size(); ++i) {
    GESSO_CHECK(params_[i].defined(), "optimizer: parameter ", i, " is undefined");
    GESSO_CHECK(params_[i].is_leaf(), "optimizer: parameter ", i, " (shape ", params_[i].shape(),
                ") is not a leaf tensor; optimizers update leaves in place");
    GESSO_CHECK(params_[i].is_contiguous(), "optimizer: parameter ", i, " must be contiguous, got strides ",
                params_[i].strides());
    for (size_t j = 0; j < i; ++j)
      GESSO_CHECK(params_[j].impl_ptr() != params_[i].impl_ptr(), "optimizer: parameter ", i,
                  " appears twice in the list (also at ", j, ")");
  }
  set_lr(lr);
  state_.resize(params_.size());
  param_steps_.assign(params_.size(), 0);
}

void Optimizer::set_lr(double lr) {
  GESSO_CHECK(lr >= 0 && std::isfinite(lr), "optimizer: learning rate must be finite and >= 0, got ", lr);
  lr_ = lr;
}

Tensor Optimizer::step(const Closure& closure) {
  GESSO_CHECK(closure != nullptr, type_name(), "::step: the closure is empty");
  Tensor loss;
  {
    autograd::GradModeGuard grad_on(true);
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

Tensor Optimizer::grad_for_update(size_t i) const {
  const Tensor& p = params_[i];
  if (!p.requires_grad()) return Tensor();
  Tensor g = p.grad();
  if (!g.defined()) return Tensor();
  GESSO_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(), type_name(),
              "::step: the gradient of parameter ", i, " (", g.shape(), ", ", dtype_name(g.dtype()), ", ",
              device_name(g.device()), ") does not match the parameter (", p.shape(), ", ", dtype_name(p.dtype()),
              ", ", device_name(p.device()), ")");
  return g.is_contiguous() ? g.detach() : g.detach().contiguous();
}

Tensor& Optimizer::state(size_t i, const std::string& name, bool* created) {
  auto it = state_[i].find(name);
  if (created) *created = it == state_[i].end();
  if (it != state_[i].end()) return it->second;
  const Tensor& p = params_[i];
  return state_[i][name] = zeros(p.shape(), TensorOptions(p.dtype()).with(p.device()));
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  out["step"] = scalar_f64(static_cast<double>(step_count_));
  out["lr"] = scalar_f64(lr_);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (param_steps_[i] > 0) out[str("state.", i, ".step")] = scalar_f64(static_cast<double>(param_steps_[i]));
    for (const auto& [name, t] : state_[i]) out[str("state.", i, ".", name)] = snapshot(t);
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  const std::string who = type_name();
  const double step = read_scalar(state, "step", who.c_str());
  const double lr = read_scalar(state, "lr", who.c_str());
  std::vector<std::string> problems;
  std::vector<std::map<std::string, Tensor>> new_state(params_.size());
  std::vector<int64_t> new_steps(params_.size(), 0);
  const std::vector<std::string> names = state_names();
  for (const auto& [key, t] : state) {
    if (key == "step" || key == "lr") continue;
    // "state.<i>.<name>"
    size_t dot = key.find('.', 6);
    if (!starts_with(key, "state.") || dot == std::string::npos) {
      problems.push_back(str("unexpected entry '", key, "'"));
      continue;
    }
    std::string index = key.substr(6, dot - 6), name = key.substr(dot + 1);
    bool numeric = !index.empty() && index.size() < 10 &&
                   std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    size_t i = numeric ? std::stoul(index) : params_.size();
    if (i >= params_.size()) {
      problems.push_back(str("'", key, "' names parameter ", index, ", but this optimizer has ", params_.size()));
      continue;
    }
    if (name == "step") {
      new_steps[i] = static_cast<int64_t>(t.item());
      continue;
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      problems.push_back(str("unexpected entry '", key, "' (", who, " keeps no '", name, "')"));
      continue;
    }
    if (t.shape() != params_[i].shape()) {
      problems.push_back(str("'", key, "' has shape ", t.shape(), ", parameter ", i, " has shape ", params_[i].shape()));
      continue;
    }
    new_state[i][name] = copy_like(t, params_[i]);
  }
  if (!problems.empty()) {
    std::ostringstream msg;
    msg << who << "::load_state_dict: the state dict does not match this optimizer:";
    for (const std::string& p : problems) msg << "\n  " << p;
    msg << "\nnothing was loaded";
    throw Error(msg.str());
  }
  step_count_ = static_cast<int64_t>(step);
  set_lr(lr);
  state_ = std::move(new_state);
  param_steps_ = std::move(new_steps);
}

// ---- SGD

SGD::SGD(std::vector<Tensor> params, const SgdOptions& o) : Optimizer(std::move(params), o.lr_), options(o) {
  GESSO_CHECK(o.momentum_ >= 0, "SGD: 'momentum' must be >= 0, got ", o.momentum_);
  GESSO_CHECK(o.weight_decay_ >= 0, "SGD: 'weight_decay' must be >= 0, got ", o.weight_decay_);
  GESSO_CHECK(!o.nesterov_ || (o.momentum_ > 0 && o.dampening_ == 0),
              "SGD: Nesterov momentum needs momentum > 0 and dampening 0, got momentum ", o.momentum_,
              ", dampening ", o.dampening_);
}

void SGD::step() {
  NoGradGuard no_grad;
  ++step_count_;
  kernels::SgdHyper h;
  h.lr = lr_;
  h.momentum = options.momentum_;
  h.dampening = options.dampening_;
  h.weight_decay = options.weight_decay_;
  h.nesterov = options.nesterov_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = grad_for_update(i);
    if (!g.defined()) continue;
    const Tensor& p = params_[i];
    bool first = false;
    Tensor buf = h.momentum != 0 ? state(i, "momentum_buffer", &first) : Tensor();
    ++param_steps_[i];
    switch (p.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(p.dtype(), kernels::sgd_update_cpu(p.data<scalar_t>(), g.data<scalar_t>(),
                                                                 buf.defined() ? buf.data<scalar_t>() : nullptr,
                                                                 p.numel(), h, first));
        break;
      case Device::cuda:
      case Device::simt:
        ops_detail::check_float32_on_device(p, "SGD::step");
        GESSO_RUN_CUDA_TWIN(p.device(), "SGD::step", sgd_update_cuda, p.data<float>(), g.data<float>(),
                            buf.defined() ? buf.data<float>() : nullptr, p.numel(), h, first);
        break;
    }
  }
}

// ---- Adam / AdamW

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam(std::move(params), o, false) {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(params), o.lr_), options(o), decoupled_(decoupled) {
  const char* who = decoupled ? "AdamW" : "Adam";
  GESSO_CHECK(o.beta1_ >= 0 && o.beta1_ < 1, who, ": 'beta1' must be in [0, 1), got ", o.beta1_);
  GESSO_CHECK(o.beta2_ >= 0 && o.beta2_ < 1, who, ": 'beta2' must be in [0, 1), got ", o.beta2_);
  GESSO_CHECK(o.eps_ >= 0, who, ": 'eps' must be >= 0, got ", o.eps_);
  GESSO_CHECK(o.weight_decay_ >= 0, who, ": 'weight_decay' must be >= 0, got ", o.weight_decay_);
}

AdamW::AdamW(std::vector<Tensor> params, const AdamOptions& o) : Adam(std::move(params), o, true) {}

void Adam::step() {
  NoGradGuard no_grad;
  ++step_count_;
  kernels::AdamHyper h;
  h.lr = lr_;
  h.beta1 = options.beta1_;
  h.beta2 = options.beta2_;
  h.eps = options.eps_;
  h.weight_decay = options.weight_decay_;
  h.decoupled_weight_decay = decoupled_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = grad_for_update(i);
    if (!g.defined()) continue;
    const Tensor& p = params_[i];
    Tensor m = state(i, "exp_avg"), v = state(i, "exp_avg_sq");
    h.step = ++param_steps_[i];
    switch (p.device()) {
      case Device::cpu:
        GESSO_DISPATCH_FLOAT(p.dtype(), kernels::adam_update_cpu(p.data<scalar_t>(), g.data<scalar_t>(),
                                                                  m.data<scalar_t>(), v.data<scalar_t>(), p.numel(), h));
        break;
      case Device::cuda:
      case Device::simt: {
        const std::string who = type_name() + "::step";
        ops_detail::check_float32_on_device(p, who.c_str());
        GESSO_RUN_CUDA_TWIN(p.device(), who.c_str(), adam_update_cuda, p.data<float>(), g.data<float>(),
                            m.data<float>(), v.data<float>(), p.numel(), h);
        break;
      }
    }
  }
}

// ---- L-BFGS

namespace {

// The flat-vector arithmetic of L-BFGS, in tensor ops outside the graph.
double dot(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item(); }
double max_abs(const Tensor& a) { return a.numel() ? max(abs(a)).item() : 0.0; }

// Minimiser of the cubic interpolating (x1, f1, g1) and (x2, f2, g2),
// clamped to [lo, hi] (Nocedal & Wright eq. 3.59); the midpoint when the
// cubic has no minimiser.
double cubic_minimizer(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
  double d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
  double disc = d1 * d1 - g1 * g2;
  if (disc < 0) return (lo + hi) / 2.0;
  double d2 = std::sqrt(disc);
  double x = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
                      : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2));
  if (!std::isfinite(x)) return (lo + hi) / 2.0;
  return std::min(std::max(x, lo), hi);
}
double cubic_minimizer(double x1, double f1, double g1, double x2, double f2, double g2) {
  return cubic_minimizer(x1, f1, g1, x2, f2, g2, std::min(x1, x2), std::max(x1, x2));
}

// One trial point of a line search: step t, loss f, flat gradient g, slope g.d.
struct Trial {
  double t, f;
  Tensor g;
  double gtd;
};

struct LineSearchResult {
  double f, t;
  Tensor g;
  int evals;
};

// Strong-Wolfe line search along d from (f0, g0, gtd0): finds t with
//   f(t) <= f0 + c1 t gtd0   (sufficient decrease)
//   |g(t).d| <= -c2 gtd0      (curvature)
// by bracketing (N&W Alg. 3.5) then zooming (Alg. 3.6) with cubic steps.
// `evaluate(t)` returns (f, flat grad) at x0 + t d.
LineSearchResult strong_wolfe(const std::function<std::pair<double, Tensor>(double)>& evaluate, double t,
                              const Tensor& d, double f0, const Tensor& g0, double gtd0, double tolerance_change,
                              int max_ls = 25, double c1 = 1e-4, double c2 = 0.9) {
  const double d_norm = max_abs(d);
  auto trial_at = [&](double step) {
    auto [f, g] = evaluate(step);
    return Trial{step, f, g, dot(g, d)};
  };
  Trial prev{0.0, f0, g0, gtd0};
  Trial cur = trial_at(t);
  int evals = 1, ls_iter = 0;
  bool done = false;
  std::vector<Trial> bracket;

  // Phase 1: grow the step until the interval [prev, cur] brackets a Wolfe point.
  while (ls_iter < max_ls) {
    if (cur.f > f0 + c1 * cur.t * gtd0 || (ls_iter > 1 && cur.f >= prev.f)) {
      bracket = {prev, cur};
      break;
    }
    if (std::abs(cur.gtd) <= -c2 * gtd0) {
      bracket = {cur};
      done = true;
      break;
    }
    if (cur.gtd >= 0) {
      bracket = {prev, cur};
      break;
    }
    // Extrapolate: a cubic step between 1.01x and 10x of the current one.
    double lo = cur.t + 0.01 * (cur.t - prev.t), hi = cur.t * 10.0;
    double next = cubic_minimizer(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, lo, hi);
    prev = cur;
    cur = trial_at(next);
    ++evals;
    ++ls_iter;
  }
  if (bracket.empty()) bracket = {Trial{0.0, f0, g0, gtd0}, cur};  // ran out of evaluations

  // Phase 2: zoom into the bracket. `low` holds the lowest loss so far.
  bool insufficient_progress = false;
  size_t low = 0, high = 1;
  if (bracket.size() == 2 && bracket[1].f < bracket[0].f) std::swap(low, high);
  while (!done && ls_iter < max_ls && bracket.size() == 2) {
    double a = bracket[0].t, b = bracket[1].t;
    if (std::abs(b - a) * d_norm < tolerance_change) break;
    double step = cubic_minimizer(a, bracket[0].f, bracket[0].gtd, b, bracket[1].f, bracket[1].gtd);
    // Keep away from the ends of the interval: a point too close to one end
    // makes little progress; after it happens twice, move to 10% inside.
    double lo = std::min(a, b), hi = std::max(a, b), margin = 0.1 * (hi - lo);
    if (std::min(hi - step, step - lo) < margin) {
      if (insufficient_progress || step >= hi || step <= lo) {
        step = std::abs(step - hi) < std::abs(step - lo) ? hi - margin : lo + margin;
        insufficient_progress = false;
      } else {
        insufficient_progress = true;
      }
    } else {
      insufficient_progress = false;
    }
    Trial trial = trial_at(step);
    ++evals;
    ++ls_iter;
    if (trial.f > f0 + c1 * trial.t * gtd0 || trial.f >= bracket[low].f) {
      bracket[high] = trial;  // not enough decrease: shrink from the high side
    } else {
      if (std::abs(trial.gtd) <= -c2 * gtd0) {
        done = true;
      } else if (trial.gtd * (bracket[high].t - bracket[low].t) >= 0) {
        bracket[high] = bracket[low];  // the minimiser lies on the other side of trial
      }
      bracket[low] = trial;
    }
    if (bracket[1].f < bracket[0].f) low = 1, high = 0;
    else low = 0, high = 1;
  }
  const Trial& best = bracket[bracket.size() == 1 ? 0 : low];
  return {best.f, best.t, best.g, evals};
}

}  // namespace

LBFGS::LBFGS(std::vector<Tensor> params, const LbfgsOptions& o) : Optimizer(std::move(params), o.lr_), options(o) {
  GESSO_CHECK(o.max_iter_ >= 1, "LBFGS: 'max_iter' must be >= 1, got ", o.max_iter_);
  GESSO_CHECK(o.max_eval_ >= 0, "LBFGS: 'max_eval' must be >= 0 (0: max_iter * 5 / 4), got ", o.max_eval_);
  GESSO_CHECK(o.history_size_ >= 1, "LBFGS: 'history_size' must be >= 1, got ", o.history_size_);
  if (options.max_eval_ == 0) options.max_eval_ = std::max(1, options.max_iter_ * 5 / 4);
  for (size_t i = 0; i < params_.size(); ++i) {
    GESSO_CHECK(params_[i].dtype() == params_[0].dtype() && params_[i].device() == params_[0].device(),
                "LBFGS: all parameters must share one dtype and device; parameter ", i, " is ",
                dtype_name(params_[i].dtype()), " on ", device_name(params_[i].device()), ", parameter 0 is ",
                dtype_name(params_[0].dtype()), " on ", device_name(params_[0].device()));
    numel_ += params_[i].numel();
  }
}

void LBFGS::step() {
  fail("LBFGS::step: L-BFGS re-evaluates the loss several times per step; call step(closure)");
}

Tensor LBFGS::step(const Closure& closure) {
  GESSO_CHECK(closure != nullptr, "LBFGS::step: the closure is empty");
  const LbfgsOptions& o = options;
  ++step_count_;

  // ---- flat views of parameters and gradients
  auto flat_grad = [&]() {
    NoGradGuard no_grad;
    std::vector<Tensor> parts;
    for (const Tensor& p : params_) {
      Tensor g = p.requires_grad() ? p.grad() : Tensor();
      parts.push_back(g.defined() ? g.detach().reshape({-1}) : zeros({p.numel()}, TensorOptions(p.dtype()).with(p.device())));
    }
    return parts.size() == 1 ? parts[0].contiguous().clone() : concat(parts, 0);
  };
  // p += t * d (frozen parameters stay put: their gradient part is 0, so is d's)
  auto add_step = [&](double t, const Tensor& d) {
    NoGradGuard no_grad;
    int64_t offset = 0;
    for (Tensor& p : params_) {
      Tensor part = d.narrow(0, offset, p.numel()).reshape(p.shape());
      p.copy_(add(p.detach(), mul(part, t)));
      offset += p.numel();
    }
  };
  auto save_params = [&]() {
    std::vector<Tensor> x;
    for (const Tensor& p : params_) x.push_back(snapshot(p));
    return x;
  };
  auto restore_params = [&](const std::vector<Tensor>& x) {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(x[i]);
  };
  auto evaluate = [&]() {
    autograd::GradModeGuard grad_on(true);
    Tensor loss = closure();
    GESSO_CHECK(loss.defined() && loss.numel() == 1, "LBFGS::step: the closure must return the scalar loss, got ",
                loss.defined() ? str("shape ", loss.shape()) : std::string("an undefined tensor"));
    return loss;
  };

  Tensor orig_loss = evaluate();
  double loss = orig_loss.item();
  int current_evals = 1;
  ++func_evals_;
  Tensor grad = flat_grad();
  if (max_abs(grad) <= o.tolerance_grad_) return orig_loss;  // already optimal

  NoGradGuard no_grad;  // re-enabled around each closure call by evaluate()
  int iter = 0;
  while (iter < o.max_iter_) {
    ++iter;
    ++n_iter_;
    // ---- direction: -H grad by the two-loop recursion over the history
    if (n_iter_ == 1) {
      d_ = neg(grad);
      old_dirs_.clear();
      old_steps_.clear();
      ro_.clear();
      h_diag_ = 1.0;
    } else {
      Tensor y = sub(grad, prev_flat_grad_);
      Tensor s = mul(d_, t_);
      double ys = dot(y, s);
      if (ys > 1e-10) {  // keep the pair only if it preserves positive definiteness
        if (static_cast<int>(old_dirs_.size()) == o.history_size_) {
          old_dirs_.erase(old_dirs_.begin());
          old_steps_.erase(old_steps_.begin());
          ro_.erase(ro_.begin());
        }
        old_dirs_.push_back(y);
        old_steps_.push_back(s);
        ro_.push_back(1.0 / ys);
        h_diag_ = ys / dot(y, y);  // the initial Hessian guess gamma_k (N&W eq. 7.20)
      }
      const size_t k = old_dirs_.size();
      std::vector<double> alpha(k);
      Tensor q = neg(grad);
      for (size_t j = k; j-- > 0;) {
        alpha[j] = dot(old_steps_[j], q) * ro_[j];
        q = sub(q, mul(old_dirs_[j], alpha[j]));
      }
      Tensor r = mul(q, h_diag_);
      for (size_t j = 0; j < k; ++j) {
        double beta = dot(old_dirs_[j], r) * ro_[j];
        r = add(r, mul(old_steps_[j], alpha[j] - beta));
      }
      d_ = r;
    }
    prev_flat_grad_ = grad.clone();
    prev_loss_ = loss;

    // ---- step length: the first ever step is scaled down to a unit move
    t_ = n_iter_ == 1 ? std::min(1.0, 1.0 / sum(abs(grad)).item()) * lr_ : lr_;
    double gtd = dot(grad, d_);
    if (gtd > -o.tolerance_change_) break;  // not a descent direction any more

    int ls_evals = 0;
    bool optimal = false;
    if (o.line_search_ == LineSearch::strong_wolfe) {
      std::vector<Tensor> x0 = save_params();
      auto at = [&](double t) {
        add_step(t, d_);
        double f = evaluate().item();
        Tensor g = flat_grad();
        restore_params(x0);
        return std::make_pair(f, g);
      };
      LineSearchResult ls = strong_wolfe(at, t_, d_, loss, grad, gtd, o.tolerance_change_);
      loss = ls.f;
      grad = ls.g;
      t_ = ls.t;
      ls_evals = ls.evals;
      add_step(t_, d_);
      optimal = max_abs(grad) <= o.tolerance_grad_;
    } else {
      add_step(t_, d_);
      if (iter != o.max_iter_) {
        loss = evaluate().item();
        grad = flat_grad();
        optimal = max_abs(grad) <= o.tolerance_grad_;
        ls_evals = 1;
      }
    }
    current_evals += ls_evals;
    func_evals_ += ls_evals;

    // ---- stopping tests
    if (iter == o.max_iter_ || current_evals >= o.max_eval_ || optimal) break;
    if (max_abs(d_) * std::abs(t_) <= o.tolerance_change_) break;  // the step no longer moves x
    if (std::abs(loss - prev_loss_) < o.tolerance_change_) break;  // nor the loss
  }
  return orig_loss;
}

StateDict LBFGS::state_dict() const {
  StateDict out;
  out["step"] = scalar_f64(static_cast<double>(step_count_));
  out["lr"] = scalar_f64(lr_);
  out["state.lbfgs.n_iter"] = scalar_f64(static_cast<double>(n_iter_));
  out["state.lbfgs.func_evals"] = scalar_f64(static_cast<double>(func_evals_));
  out["state.lbfgs.t"] = scalar_f64(t_);
  out["state.lbfgs.prev_loss"] = scalar_f64(prev_loss_);
  out["state.lbfgs.h_diag"] = scalar_f64(h_diag_);
  if (d_.defined()) out["state.lbfgs.d"] = snapshot(d_);
  if (prev_flat_grad_.defined()) out["state.lbfgs.prev_flat_grad"] = snapshot(prev_flat_grad_);
  for (size_t k = 0; k < old_dirs_.size(); ++k) {
    out[str("state.lbfgs.history.", k, ".y")] = snapshot(old_dirs_[k]);
    out[str("state.lbfgs.history.", k, ".s")] = snapshot(old_steps_[k]);
    out[str("state.lbfgs.history.", k, ".ro")] = scalar_f64(ro_[k]);
  }
  return out;
}

void LBFGS::load_state_dict(const StateDict& state) {
  const Tensor& like = params_[0];
  auto flat = [&](const std::string& name) -> Tensor {
    auto it = state.find(name);
    if (it == state.end()) return Tensor();
    GESSO_CHECK(it->second.shape() == Shape{numel_}, "LBFGS::load_state_dict: '", name, "' must have shape (",
                numel_, ",) (all parameters, flat), got ", it->second.shape());
    return copy_like(it->second, like);
  };
  std::vector<Tensor> dirs, steps;
  std::vector<double> ro;
  for (size_t k = 0; state.count(str("state.lbfgs.history.", k, ".y")); ++k) {
    dirs.push_back(flat(str("state.lbfgs.history.", k, ".y")));
    Tensor s = flat(str("state.lbfgs.history.", k, ".s"));
    GESSO_CHECK(s.defined(), "LBFGS::load_state_dict: history entry ", k, " has y but no s");
    steps.push_back(s);
    ro.push_back(read_scalar(state, str("state.lbfgs.history.", k, ".ro"), "LBFGS"));
  }
  std::set<std::string> known = {"step", "lr", "state.lbfgs.n_iter", "state.lbfgs.func_evals", "state.lbfgs.t",
                                 "state.lbfgs.prev_loss", "state.lbfgs.h_diag", "state.lbfgs.d",
                                 "state.lbfgs.prev_flat_grad"};
  for (size_t k = 0; k < dirs.size(); ++k)
    for (const char* part : {".y", ".s", ".ro"}) known.insert(str("state.lbfgs.history.", k, part));
  for (const auto& [name, t] : state)
    GESSO_CHECK(known.count(name), "LBFGS::load_state_dict: unexpected entry '", name, "'");
  Tensor d = flat("state.lbfgs.d"), prev = flat("state.lbfgs.prev_flat_grad");
  const double step = read_scalar(state, "step", "LBFGS"), lr = read_scalar(state, "lr", "LBFGS");
  const double n_iter = read_scalar(state, "state.lbfgs.n_iter", "LBFGS");
  const double evals = read_scalar(state, "state.lbfgs.func_evals", "LBFGS");
  const double t = read_scalar(state, "state.lbfgs.t", "LBFGS");
  const double prev_loss = read_scalar(state, "state.lbfgs.prev_loss", "LBFGS");
  const double h_diag = read_scalar(state, "state.lbfgs.h_diag", "LBFGS");
  GESSO_CHECK(n_iter == 0 || (d.defined() && prev.defined()),
              "LBFGS::load_state_dict: 'state.lbfgs.d' and 'state.lbfgs.prev_flat_grad' are needed after ", n_iter,
              " iterations");
  step_count_ = static_cast<int64_t>(step);
  set_lr(lr);
  n_iter_ = static_cast<int64_t>(n_iter);
  func_evals_ = static_cast<int64_t>(evals);
  t_ = t;
  prev_loss_ = prev_loss;
  h_diag_ = h_diag;
  d_ = d;
  prev_flat_grad_ = prev;
  old_dirs_ = std::move(dirs);
  old_steps_ = std::move(steps);
  ro_ = std::move(ro);
}

// ---- schedules

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}

void LRScheduler::step() {
  ++last_epoch_;
  optimizer_.set_lr(lr_at(last_epoch_));
}

StateDict LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_f64(static_cast<double>(last_epoch_))}, {"base_lr", scalar_f64(base_lr_)}};
}

void LRScheduler::load_state_dict(const StateDict& state) {
  double epoch = read_scalar(state, "last_epoch", "LRScheduler"), base = read_scalar(state, "base_lr", "LRScheduler");
  last_epoch_ = static_cast<int64_t>(epoch);
  base_lr_ = base;
  optimizer_.set_lr(lr_at(last_epoch_));
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  GESSO_CHECK(step_size > 0, "StepLR: 'step_size' must be > 0, got ", step_size);
  GESSO_CHECK(gamma > 0, "StepLR: 'gamma' must be > 0, got ", gamma);
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  GESSO_CHECK(t_max > 0, "CosineAnnealingLR: 'T_max' must be > 0, got ", t_max);
  GESSO_CHECK(eta_min >= 0, "CosineAnnealingLR: 'eta_min' must be >= 0, got ", eta_min);
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  const double pi = 3.14159265358979323846;
  return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(pi * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2.0;
}

// ---- clipping

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  GESSO_CHECK(max_norm >= 0, "clip_grad_norm_: 'max_norm' must be >= 0, got ", max_norm);
  GESSO_CHECK(norm_type > 0, "clip_grad_norm_: 'norm_type' must be > 0 (or INFINITY), got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  double total = 0.0;
  if (std::isinf(norm_type)) {
    for (const Tensor& g : grads) total = std::max(total, max_abs(g));
  } else {
    for (const Tensor& g : grads) total += sum(pow(abs(g), norm_type)).item();
    total = std::pow(total, 1.0 / norm_type);
  }
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (Tensor& g : grads) g.copy_(mul(g.detach(), coef));
  }
  return total;
}

}  // namespace gesso::nn
