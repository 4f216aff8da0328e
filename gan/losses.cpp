/*
 * losses.cpp: the adversarial losses and the WGAN-GP gradient penalty
 * (formulas in losses.h).
 */
#include "gan/losses.h"

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace gesso::gan {

LossKind parse_loss(const std::string& name) {
  if (name == "nonsaturating" || name == "bce") return LossKind::nonsaturating;
  if (name == "hinge") return LossKind::hinge;
  if (name == "lsgan") return LossKind::lsgan;
  if (name == "wgan-gp") return LossKind::wgan_gp;
  fail("GAN loss: expected one of nonsaturating (or bce), hinge, lsgan, wgan-gp; got '", name, "'");
}

const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::nonsaturating: return "nonsaturating";
    case LossKind::hinge: return "hinge";
    case LossKind::lsgan: return "lsgan";
    case LossKind::wgan_gp: return "wgan-gp";
  }
  return "?";
}

namespace {

void check_logits(const Tensor& t, const char* op, const char* arg) {
  GESSO_CHECK(t.defined() && t.dim() == 1 && t.numel() > 0, op, ": argument '", arg,
              "' must be a non-empty 1-d tensor of logits (N), got ", t.defined() ? t.shape() : Shape{});
}

Tensor half_mean_square(const Tensor& x) { return mul(mean(mul(x, x)), 0.5); }

}  // namespace

Tensor discriminator_loss(LossKind kind, const Tensor& real_logits, const Tensor& fake_logits) {
  check_logits(real_logits, "discriminator_loss", "real_logits");
  check_logits(fake_logits, "discriminator_loss", "fake_logits");
  switch (kind) {
    case LossKind::nonsaturating: return gan_d_loss_nonsaturating(real_logits, fake_logits);
    case LossKind::hinge: return gan_d_loss_hinge(real_logits, fake_logits);
    case LossKind::lsgan: return add(half_mean_square(add(real_logits, -1.0)), half_mean_square(fake_logits));
    case LossKind::wgan_gp: return sub(mean(fake_logits), mean(real_logits));
  }
  fail("discriminator_loss: unknown loss kind");
}

Tensor generator_loss(LossKind kind, const Tensor& fake_logits) {
  check_logits(fake_logits, "generator_loss", "fake_logits");
  switch (kind) {
    case LossKind::nonsaturating: return gan_g_loss_nonsaturating(fake_logits);
    case LossKind::hinge: return gan_g_loss_hinge(fake_logits);
    case LossKind::lsgan: return half_mean_square(add(fake_logits, -1.0));
    case LossKind::wgan_gp: return neg(mean(fake_logits));
  }
  fail("generator_loss: unknown loss kind");
}

double discriminator_score(LossKind kind, const Tensor& logits) {
  NoGradGuard ng;
  if (kind == LossKind::nonsaturating) return mean(sigmoid(logits.detach())).item();
  return mean(logits.detach()).item();
}

Tensor gradient_penalty(const Critic& critic, const Tensor& real, const Tensor& fake, const Tensor& alpha) {
  const char* op = "gradient_penalty";
  GESSO_CHECK(critic != nullptr, op, ": argument 'critic' is empty");
  check_dim(real, 4, op, "real");
  GESSO_CHECK(fake.defined() && fake.shape() == real.shape(), op, ": 'fake' must have the shape of 'real' ",
              real.shape(), ", got ", fake.defined() ? fake.shape() : Shape{});
  const int64_t n = real.size(0);
  GESSO_CHECK(alpha.defined() && alpha.dim() == 1 && alpha.size(0) == n, op, ": 'alpha' must be (", n,
              "), one weight per sample, got ", alpha.defined() ? alpha.shape() : Shape{});
  autograd::GradModeGuard grad_on(true);
  Tensor a = alpha.detach().reshape({n, 1, 1, 1});
  Tensor x_hat;
  {
    NoGradGuard ng;  // the interpolate is a fresh leaf: the penalty differentiates w.r.t. it alone
    x_hat = add(mul(a, real.detach()), mul(1.0 - a, fake.detach()));
  }
  x_hat.requires_grad_(true);
  Tensor out = critic(x_hat);
  GESSO_CHECK(out.defined() && out.numel() == n, op, ": the critic must give one score per sample (", n,
              "), got shape ", out.defined() ? out.shape() : Shape{});
  Tensor g = autograd::grad({sum(out)}, {x_hat}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  // The 1e-12 keeps the square root differentiable where a gradient vanishes.
  Tensor norms = sqrt(add(sum(mul(g, g), {1, 2, 3}), 1e-12));
  Tensor dev = add(norms, -1.0);
  return mean(mul(dev, dev));
}

}  // namespace gesso::gan
