/*
 * optim.h: optimizers, learning-rate schedules and gradient clipping.
 *
 *   SGD     momentum, dampening, Nesterov, L2 weight decay
 *   Adam    bias-corrected moments, L2 weight decay in the gradient
 *   AdamW   Adam with decoupled weight decay (p *= 1 - lr * wd)
 *   LBFGS   limited-memory BFGS (two-loop recursion, Nocedal & Wright
 *           Alg. 7.4) with an optional strong-Wolfe line search (Alg. 3.5
 *           and 3.6, cubic interpolation); step(closure) re-evaluates
 *   StepLR, CosineAnnealingLR, clip_grad_norm_
 *
 * Every optimizer updates its parameters in place on their storage, under
 * NoGradGuard, and skips parameters that have no gradient or do not require
 * one (frozen). The element-wise updates are kernels (kernels/optim.h).
 *
 * state_dict() is a snapshot (tensors are copies): "step" (number of
 * step() calls), "lr", and per parameter i "state.<i>.<name>", e.g.
 * "state.0.exp_avg", "state.0.step"; LBFGS keeps its history under
 * "state.lbfgs.*". load_state_dict() checks every name and shape before
 * touching anything, so a resumed run continues exactly.
 */
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/state_dict.h"
#include "tensor/tensor.h"

namespace gesso::nn {

// Re-evaluates the model: zero the grads, compute the loss, backward, and
// return the loss. Called with grad mode on.
using Closure = std::function<Tensor()>;

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;
  virtual void step() = 0;
  // Evaluates the closure once, then steps; returns the loss.
  virtual Tensor step(const Closure& closure);
  // Drops the .grad of every parameter.
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Tensor>& params() const { return params_; }
  int64_t steps() const { return step_count_; }

  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& state);

 protected:
  // Per-parameter state names this optimizer keeps (each shaped like its
  // parameter), checked by load_state_dict.
  virtual std::vector<std::string> state_names() const { return {}; }
  // The gradient of parameter i, contiguous, or undefined when it is to be skipped.
  Tensor grad_for_update(size_t i) const;
  // State tensor `name` of parameter i, created zero-filled when new; *created tells which.
  Tensor& state(size_t i, const std::string& name, bool* created = nullptr);

  std::vector<Tensor> params_;
  double lr_;
  int64_t step_count_ = 0;
  std::vector<std::map<std::string, Tensor>> state_;  // per parameter
  std::vector<int64_t> param_steps_;                  // per parameter: updates applied (Adam's t)
};

// ---- SGD

struct SgdOptions {
  explicit SgdOptions(double lr) : lr_(lr) {}
  SgdOptions& momentum(double v) { momentum_ = v; return *this; }
  SgdOptions& dampening(double v) { dampening_ = v; return *this; }
  SgdOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  SgdOptions& nesterov(bool v) { nesterov_ = v; return *this; }
  double lr_, momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
  bool nesterov_ = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SgdOptions& options);
  std::string type_name() const override { return "SGD"; }
  void step() override;
  using Optimizer::step;
  SgdOptions options;

 protected:
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
};

// ---- Adam and AdamW

struct AdamOptions {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  AdamOptions& betas(double b1, double b2) { beta1_ = b1; beta2_ = b2; return *this; }
  AdamOptions& eps(double v) { eps_ = v; return *this; }
  AdamOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = AdamOptions());
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  void step() override;
  using Optimizer::step;
  AdamOptions options;

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled);
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool decoupled_ = false;
};

// AdamW's weight decay defaults to 0.01, as in PyTorch; pass options to change it.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamOptions& options = AdamOptions().weight_decay(1e-2));
};

// ---- L-BFGS

enum class LineSearch { none, strong_wolfe };

struct LbfgsOptions {
  explicit LbfgsOptions(double lr = 1.0) : lr_(lr) {}
  LbfgsOptions& max_iter(int v) { max_iter_ = v; return *this; }
  LbfgsOptions& max_eval(int v) { max_eval_ = v; return *this; }  // 0: max_iter * 5 / 4
  LbfgsOptions& tolerance_grad(double v) { tolerance_grad_ = v; return *this; }
  LbfgsOptions& tolerance_change(double v) { tolerance_change_ = v; return *this; }
  LbfgsOptions& history_size(int v) { history_size_ = v; return *this; }
  LbfgsOptions& line_search(LineSearch v) { line_search_ = v; return *this; }
  double lr_;
  int max_iter_ = 20, max_eval_ = 0;
  double tolerance_grad_ = 1e-7, tolerance_change_ = 1e-9;
  int history_size_ = 100;
  LineSearch line_search_ = LineSearch::strong_wolfe;
};

// All parameters must share one dtype and device (they are handled as one
// flat vector). step(closure) runs up to max_iter iterations.
class LBFGS : public Optimizer {
 public:
  LBFGS(std::vector<Tensor> params, const LbfgsOptions& options = LbfgsOptions());
  std::string type_name() const override { return "LBFGS"; }
  void step() override;  // throws: L-BFGS needs a closure
  Tensor step(const Closure& closure) override;
  int64_t iterations() const { return n_iter_; }       // over all step() calls
  int64_t function_evals() const { return func_evals_; }
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& state) override;
  LbfgsOptions options;

 private:
  int64_t numel_ = 0;
  // Carried across step() calls, as PyTorch does.
  Tensor d_, prev_flat_grad_;
  double t_ = 0, prev_loss_ = 0, h_diag_ = 1;
  std::vector<Tensor> old_dirs_, old_steps_;  // y_k and s_k
  std::vector<double> ro_;                    // 1 / (y_k . s_k)
  int64_t n_iter_ = 0, func_evals_ = 0;
};

// ---- learning-rate schedules: step() once per epoch, after the optimizer's steps

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  void step();
  double last_lr() const { return optimizer_.lr(); }
  int64_t last_epoch() const { return last_epoch_; }
  StateDict state_dict() const;  // "last_epoch", "base_lr"
  void load_state_dict(const StateDict& state);

 protected:
  virtual double lr_at(int64_t epoch) const = 0;
  Optimizer& optimizer_;
  double base_lr_;
  int64_t last_epoch_ = 0;
};

// lr = base_lr * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch) const override;
  int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0.0);

 protected:
  double lr_at(int64_t epoch) const override;
  int64_t t_max_;
  double eta_min_;
};

// Scales all gradients by max_norm / (total_norm + 1e-6) when that is < 1;
// returns the total norm (the norm of the per-parameter norms) before
// clipping. norm_type may be INFINITY. Parameters without a grad are skipped.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

}  // namespace gesso::nn
