/*
 * device_parity.h: runs an op on the CPU and on a device (simt: the CUDA
 * kernels on the SIMT runtime; cuda: a real GPU) and compares the results,
 * forward and, when asked, the gradients of every input, at each of two
 * block sizes (the launchers' preferred one and 64 threads).
 *
 * Tolerance: |device - cpu| <= atol + rtol * |cpu|. The CPU twin
 * accumulates in double and the device kernels in float, in another order
 * and with FMA contraction, so per-element differences of a few float ulps
 * times the reduction length are expected; each case states its atol/rtol.
 */
#pragma once
#include <doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/common.h"

namespace parity {

using gesso::Device;
using gesso::Tensor;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

inline void expect_close(const Tensor& got, const Tensor& want, double atol, double rtol, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), what, ": shape ", gesso::shape_str(got.shape()), " vs ",
                  gesso::shape_str(want.shape()));
  std::vector<double> g = got.to(Device::cpu).to_vector<double>(), w = want.to_vector<double>();
  int bad = 0;
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    double err = std::abs(g[i] - w[i]);
    if (!(err <= atol + rtol * std::abs(w[i]))) {
      ++bad;
      if (!(err <= worst)) { worst = err; worst_at = i; }
    }
  }
  CHECK_MESSAGE(bad == 0, what, ": ", bad, " of ", g.size(), " elements differ; worst at ", worst_at, ": got ",
                g.empty() ? 0 : g[worst_at], " want ", w.empty() ? 0 : w[worst_at]);
}

// inputs: float32 CPU tensors; those with requires_grad get their gradients compared too.
inline void check(const char* name, Device device, const Fn& f, const std::vector<Tensor>& inputs, double atol,
                  double rtol, bool backward = true) {
  std::vector<Tensor> cpu_in, dev_in;
  for (const Tensor& x : inputs) {
    cpu_in.push_back(x.detach().clone().requires_grad_(x.requires_grad()));
    dev_in.push_back(x.detach().to(device).requires_grad_(x.requires_grad()));
  }
  Tensor want = f(cpu_in);
  gesso::Generator seed_gen(77);
  Tensor seed = gesso::randn(want.shape(), seed_gen);
  std::vector<Tensor> want_grads;
  bool any_grad = backward && want.requires_grad();
  if (any_grad) {
    std::vector<Tensor> wrt;
    for (const Tensor& x : cpu_in) if (x.requires_grad()) wrt.push_back(x);
    want_grads = gesso::autograd::grad({want}, wrt, {seed});
  }
  for (int threads : {0, 64}) {
    gesso::kernels::ScopedBlockThreads block(threads);
    std::string what = std::string(name) + " on " + gesso::device_name(device) + " (block threads " +
                       (threads ? std::to_string(threads) : std::string("default")) + ")";
    Tensor got = f(dev_in);
    CHECK_MESSAGE(got.device() == device, what, ": result left the device");
    expect_close(got, want, atol, rtol, what + " forward");
    if (any_grad) {
      std::vector<Tensor> wrt;
      for (const Tensor& x : dev_in) if (x.requires_grad()) wrt.push_back(x);
      std::vector<Tensor> got_grads = gesso::autograd::grad({got}, wrt, {seed.to(device)});
      for (size_t i = 0; i < got_grads.size(); ++i)
        expect_close(got_grads[i], want_grads[i], atol, rtol, what + " grad of input " + std::to_string(i));
    }
  }
}

}  // namespace parity
