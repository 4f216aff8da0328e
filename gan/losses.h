/*
 * losses.h: the adversarial losses, as scalars over a batch of logits (N).
 *
 *   nonsaturating  D: softplus(-D(x)) + softplus(D(G(z)))        G: softplus(-D(G(z)))
 *                  (binary cross-entropy on logits; Goodfellow et al., 2014)
 *   hinge          D: relu(1 - D(x)) + relu(1 + D(G(z)))          G: -D(G(z))
 *   lsgan          D: (D(x) - 1)^2 / 2 + D(G(z))^2 / 2            G: (D(G(z)) - 1)^2 / 2   (Mao et al., 2017)
 *   wgan-gp        D: D(G(z)) - D(x) + lambda * GP                G: -D(G(z))             (Gulrajani et al., 2017)
 *
 * each term a mean over the batch. GP = mean_i (||grad_x D(x_i)||_2 - 1)^2
 * at x_i = a_i x_real + (1 - a_i) x_fake, a_i ~ U(0, 1): the gradient is taken
 * with create_graph, so the penalty's own gradient flows back into D's
 * weights through a second backward (double backprop).
 */
#pragma once
#include <functional>
#include <string>

#include "tensor/tensor.h"

namespace gesso::gan {

enum class LossKind { nonsaturating, hinge, lsgan, wgan_gp };

// "nonsaturating" (alias "bce"), "hinge", "lsgan", "wgan-gp"; throws listing them otherwise.
LossKind parse_loss(const std::string& name);
const char* loss_name(LossKind kind);

Tensor discriminator_loss(LossKind kind, const Tensor& real_logits, const Tensor& fake_logits);
Tensor generator_loss(LossKind kind, const Tensor& fake_logits);

// How sure the discriminator is, for the progress line: the mean of
// sigmoid(logits) for the non-saturating loss (a probability), the mean
// logit otherwise (a score).
double discriminator_score(LossKind kind, const Tensor& logits);

using Critic = std::function<Tensor(const Tensor&)>;

// mean_i (||d critic(x)_i / d x_i|| - 1)^2 at the interpolates of real and
// fake with weights alpha (N) (fake is detached). Records the graph even
// inside a NoGradGuard: the penalty is a function of the critic's weights
// and is always meant to be differentiated.
Tensor gradient_penalty(const Critic& critic, const Tensor& real, const Tensor& fake, const Tensor& alpha);

}  // namespace gesso::gan
