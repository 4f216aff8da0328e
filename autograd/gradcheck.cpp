// gradcheck.cpp: finite-difference checks of first and second derivatives.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/ops.h"

namespace gesso::autograd {

namespace {

// Checks the gradient of the scalar function `scalar` (of the inputs)
// returned by `analytic` against central differences.
GradcheckResult compare(const std::function<double()>& scalar, const std::vector<Tensor>& inputs,
                        const std::vector<Tensor>& analytic, double eps, double atol, double rtol) {
  GradcheckResult r;
  std::ostringstream rep;
  int shown = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    GESSO_CHECK(x.dtype() == DType::f64 && x.is_contiguous() && x.device() == Device::cpu,
                "gradcheck: input ", k, " must be a contiguous float64 CPU tensor");
    std::vector<double> a = analytic[k].defined() ? analytic[k].to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double saved = p[i];
      p[i] = saved + eps;
      double fp = scalar();
      p[i] = saved - eps;
      double fm = scalar();
      p[i] = saved;
      double numeric = (fp - fm) / (2 * eps);
      double err = std::abs(numeric - a[i]);
      r.max_abs_error = std::max(r.max_abs_error, err);
      if (!(err <= atol + rtol * std::abs(numeric))) {
        r.ok = false;
        if (shown++ < 8)
          rep << "input " << k << " element " << i << ": analytic " << a[i] << " numeric " << numeric << "\n";
      }
    }
  }
  r.report = rep.str();
  return r;
}

Tensor projection_like(const Tensor& t, uint64_t seed) {
  Generator g(seed);
  return randn(t.shape(), g, TensorOptions(DType::f64));
}

}  // namespace

GradcheckResult gradcheck(const TestFn& f, const std::vector<Tensor>& inputs, double eps, double atol,
                          double rtol) {
  Tensor w = projection_like(f(inputs), 1234);
  auto scalar = [&]() {
    NoGradGuard ng;
    return sum(mul(f(inputs), w)).item();
  };
  std::vector<Tensor> wanted;
  for (const Tensor& x : inputs)
    if (x.requires_grad()) wanted.push_back(x);
  std::vector<Tensor> g = grad({sum(mul(f(inputs), w))}, wanted, {}, false, false, true);
  std::vector<Tensor> analytic;
  size_t j = 0;
  for (const Tensor& x : inputs) analytic.push_back(x.requires_grad() ? g[j++] : Tensor());
  return compare(scalar, inputs, analytic, eps, atol, rtol);
}

GradcheckResult gradgradcheck(const TestFn& f, const std::vector<Tensor>& inputs, double eps, double atol,
                              double rtol) {
  Tensor w = projection_like(f(inputs), 1234);
  std::vector<Tensor> wanted;
  for (const Tensor& x : inputs)
    if (x.requires_grad()) wanted.push_back(x);
  std::vector<Tensor> v;
  for (size_t i = 0; i < wanted.size(); ++i) v.push_back(projection_like(wanted[i], 99 + i));
  // H(x) = sum_j <dL/dx_j, v_j>, built with create_graph so it can be differentiated.
  auto build_h = [&]() {
    std::vector<Tensor> g = grad({sum(mul(f(inputs), w))}, wanted, {}, true, true, true);
    Tensor h = zeros({}, TensorOptions(DType::f64));
    for (size_t j = 0; j < g.size(); ++j)
      if (g[j].defined()) h = add(h, sum(mul(g[j], v[j])));
    return h;
  };
  auto scalar = [&]() { return build_h().item(); };
  Tensor h = build_h();
  std::vector<Tensor> analytic;
  if (h.requires_grad()) {
    std::vector<Tensor> hg = grad({h}, wanted, {}, false, false, true);
    size_t j = 0;
    for (const Tensor& x : inputs) analytic.push_back(x.requires_grad() ? hg[j++] : Tensor());
  } else {
    analytic.assign(inputs.size(), Tensor());  // second derivative is identically zero
  }
  return compare(scalar, inputs, analytic, eps, atol, rtol);
}

}  // namespace gesso::autograd
