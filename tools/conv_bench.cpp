/*
 * conv_bench.cpp: `gesso gan bench --workload conv`: the ten convolutions of
 * the DCGAN-64 models (batch 64, widths 64, kernels 4 x 4), each timed alone
 * through the autograd ops, forward and forward + backward, printed as one
 * JSON line for bench/compare_pytorch.py (which times the same shapes with
 * torch.nn.functional and prints the table).
 *
 *   discriminator conv2d, stride 2 pad 1:  3->w @64, w->2w @32, 2w->4w @16, 4w->8w @8
 *                 conv2d, valid:           8w->1 @4 (the 4x4 kernel covers the image: a matrix product)
 *   generator conv_transpose2d:            100->8w @1 -> 4x4 (stride 1 pad 0: a matrix product),
 *                 stride 2 pad 1:          8w->4w @4, 4w->2w @8, 2w->w @16, w->3 @32
 *
 * Forward runs without recording a graph (inputs need no gradient);
 * forward + backward records it and asks autograd::grad for the gradients of
 * input and weight. No bias: it costs the same in both engines and is not a
 * convolution. Each figure is the best of the timed runs (the machine is
 * shared; the minimum is the least disturbed run), after the warm-up runs.
 * flops counts 2 per multiply-add of the forward; forward + backward is 3x.
 */
#include "tools/conv_bench.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "kernels/gemm.h"
#include "tensor/tensor.h"

namespace gesso::tools {

namespace {

struct ConvShape {
  bool transposed;
  int64_t c_in, c_out, hw;  // hw: the input's height = width
  int stride, pad;
};

constexpr int kKernel = 4;

std::string shape_name(const ConvShape& s) {
  return std::string(s.transposed ? "conv_transpose2d " : "conv2d ") + std::to_string(s.c_in) + "->" +
         std::to_string(s.c_out) + " @" + std::to_string(s.hw) + " s" + std::to_string(s.stride) + "p" +
         std::to_string(s.pad);
}

template <class F>
double best_seconds(int steps, int warmup, F f) {
  for (int i = 0; i < warmup; ++i) f();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

nlohmann::json dcgan_conv_bench(int steps, int warmup, int64_t batch, int64_t width) {
  const int64_t w = width;
  const std::vector<ConvShape> shapes = {
      {false, 3, w, 64, 2, 1},         {false, w, 2 * w, 32, 2, 1},     {false, 2 * w, 4 * w, 16, 2, 1},
      {false, 4 * w, 8 * w, 8, 2, 1},  {false, 8 * w, 1, 4, 1, 0},      {true, 100, 8 * w, 1, 1, 0},
      {true, 8 * w, 4 * w, 4, 2, 1},   {true, 4 * w, 2 * w, 8, 2, 1},   {true, 2 * w, w, 16, 2, 1},
      {true, w, 3, 32, 2, 1}};
  Generator gen(11);
  nlohmann::json rows = nlohmann::json::array();
  double total = 0;
  for (const ConvShape& s : shapes) {
    Conv2dParams p;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = s.pad;
    const int64_t out_hw = s.transposed ? (s.hw - 1) * s.stride - 2 * s.pad + kKernel
                                        : (s.hw + 2 * s.pad - kKernel) / s.stride + 1;
    const Shape w_shape = s.transposed ? Shape{s.c_in, s.c_out, kKernel, kKernel}
                                       : Shape{s.c_out, s.c_in, kKernel, kKernel};
    Tensor x = randn({batch, s.c_in, s.hw, s.hw}, gen);
    Tensor wt = randn(w_shape, gen, {}, 0.0, 0.02);
    Tensor gy = randn({batch, s.c_out, out_hw, out_hw}, gen);
    auto conv = [&](const Tensor& xi, const Tensor& wi) {
      return s.transposed ? conv_transpose2d(xi, wi, Tensor(), p) : conv2d(xi, wi, Tensor(), p);
    };
    const double fwd = best_seconds(steps, warmup, [&] {
      NoGradGuard no_grad;
      Tensor y = conv(x, wt);
    });
    Tensor xg = x.detach().requires_grad_(), wg = wt.detach().requires_grad_();
    const double fwd_bwd = best_seconds(steps, warmup, [&] {
      Tensor y = conv(xg, wg);
      std::vector<Tensor> grads = autograd::grad({y}, {xg, wg}, {gy});
    });
    // The conv2d this layer is (or is the adjoint of) has the smaller of the two planes as its output.
    const int64_t conv_out_pixels = batch * (s.transposed ? s.hw * s.hw : out_hw * out_hw);
    const double flops = 2.0 * conv_out_pixels * s.c_in * s.c_out * kKernel * kKernel;
    rows.push_back({{"name", shape_name(s)},
                    {"op", s.transposed ? "conv_transpose2d" : "conv2d"},
                    {"flops", flops},
                    {"forward_s", fwd},
                    {"forward_backward_s", fwd_bwd}});
    total += fwd_bwd;
  }
  return {{"engine", "gesso"},
          {"workload", "conv"},
          {"batch", batch},
          {"width", width},
          {"statistic", "best"},
          {"steps", steps},
          {"shapes", rows},
          {"seconds_per_step", total},
          {"threads", omp_get_max_threads()},
          {"gemm", kernels::gemm_backend_name(kernels::gemm_backend())}};
}

}  // namespace gesso::tools
