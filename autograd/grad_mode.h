/*
 * grad_mode.h: whether ops record the graph. Off inside NoGradGuard (for
 * optimizer updates, evaluation) and while backward() runs without
 * create_graph; on while backward() runs with create_graph, which is how a
 * gradient gets a graph of its own (WGAN-GP differentiates it again).
 */
#pragma once

namespace gesso::autograd {

struct GradMode {
  static bool enabled();
  static void set(bool on);
};

class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : prev_(GradMode::enabled()) { GradMode::set(on); }
  ~GradModeGuard() { GradMode::set(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
 private:
  bool prev_;
};

struct NoGradGuard : GradModeGuard {
  NoGradGuard() : GradModeGuard(false) {}
};

}  // namespace gesso::autograd

namespace gesso { using autograd::NoGradGuard; }
