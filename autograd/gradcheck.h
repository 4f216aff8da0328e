/*
 * gradcheck.h: compares autograd's gradients with central finite differences,
 * in double precision.
 *
 * gradcheck(f, inputs): with a fixed random projection w of f's output,
 * L(x) = sum(f(x) * w); checks dL/dx from backward against
 * (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) for every element of every
 * input that requires grad, within atol + rtol * |numeric|.
 *
 * gradgradcheck(f, inputs): the same for the second order. With random v,
 * H(x) = sum_j <dL/dx_j (computed with create_graph), v_j>; its gradient from
 * a second backward is checked against finite differences of H, which
 * exercises every backward closure's own backward.
 *
 * Inputs must be float64 leaves with requires_grad set where wanted.
 */
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "tensor/tensor.h"

namespace gesso::autograd {

using TestFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;  // over all checked elements
  std::string report;        // the first mismatches, for the test log
};

GradcheckResult gradcheck(const TestFn& f, const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-6, double rtol = 1e-4);
GradcheckResult gradgradcheck(const TestFn& f, const std::vector<Tensor>& inputs, double eps = 1e-6,
                              double atol = 1e-5, double rtol = 1e-3);

}  // namespace gesso::autograd
