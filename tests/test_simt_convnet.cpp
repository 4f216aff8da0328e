// test_simt_convnet.cpp: a small conv net built from nn/ layers, trained for
// a step on the simt device (every op a CUDA kernel run by the SIMT runtime)
// and on the CPU from the same weights: the loss, the output, every
// parameter's gradient, the batch norm running statistics and the weights
// after an SGD step must agree (ctest label simt). This is the end-to-end
// check that the device kernels compose: forward, backward through every
// layer, parameter gradients accumulated across uses.
//
// The net (input 2 x 3 x 10 x 10, odd channel counts):
//   Conv2d(3, 5, 3, pad 1) -> BatchNorm2d(5) -> LeakyReLU(0.2) -> MaxPool2d(2)   5 x 5 x 5
//   Conv2d(5, 7, 3, pad 1, stride 1) -> LeakyReLU -> ConvTranspose2d(7, 4, 4, stride 2, pad 1)   4 x 10 x 10
//   Upsample(0.5, bilinear) -> AvgPool2d(3, 1, 1) -> InstanceNorm2d(4, affine)           4 x 5 x 5
//   Flatten -> Linear(100, 6) -> mse_loss against a fixed target
//
// Tolerance: float32 on both sides, but the device sums in other orders
// (tiled GEMM/conv, block reductions) and the CPU accumulates norms in
// double; errors grow through the layers to about 1e-5 relative. Checked at
// atol 2e-5 + rtol 2e-4 on values and gradients of order 0.01 to 1.
#include <doctest.h>
#include <omp.h>

#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "kernels/common.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "tests/device_parity.h"

using namespace gesso;

namespace {

std::shared_ptr<nn::Sequential> make_net(uint64_t seed) {
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(3, 5, 3, nn::Conv2dOptions().padding(1), gen));
  net->push_back(std::make_shared<nn::BatchNorm2d>(5));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(std::make_shared<nn::Conv2d>(5, 7, 3, nn::Conv2dOptions().padding(1), gen));
  net->push_back(std::make_shared<nn::LeakyReLU>(0.2));
  net->push_back(std::make_shared<nn::ConvTranspose2d>(7, 4, 4, nn::Conv2dOptions().stride(2).padding(1), gen));
  net->push_back(std::make_shared<nn::Upsample>(0.5, UpsampleMode::bilinear));
  net->push_back(std::make_shared<nn::AvgPool2d>(3, 1, 1));
  net->push_back(std::make_shared<nn::InstanceNorm2d>(4, 1e-5, /*affine=*/true));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(100, 6, true, gen));
  return net;
}

struct StepResult {
  Tensor out, loss;
  nn::NamedTensors grads, state;  // state: parameters after the SGD step, and buffers
};

// One training step of `net` on `device`: forward, mse_loss, backward, SGD.
StepResult train_step(nn::Sequential& net, Device device, const Tensor& x, const Tensor& target) {
  net.to(device);
  net.train();
  StepResult r;
  r.out = net.forward(x.to(device));
  r.loss = mse_loss(r.out, target.to(device));
  autograd::backward(r.loss);
  for (const auto& [name, p] : net.named_parameters()) {
    REQUIRE_MESSAGE(p.grad().defined(), name, " has no gradient on ", device_name(device));
    r.grads.emplace_back(name, p.grad().detach().to(Device::cpu));
  }
  nn::SGD opt(net.parameters(), nn::SgdOptions(0.1).momentum(0.9));
  opt.step();
  for (const auto& [name, p] : net.named_parameters()) r.state.emplace_back(name, p.detach().to(Device::cpu));
  for (const auto& [name, b] : net.named_buffers()) r.state.emplace_back(name, b.detach().to(Device::cpu));
  return r;
}

void compare(const nn::NamedTensors& got, const nn::NamedTensors& want, double atol, double rtol,
             const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    REQUIRE(got[i].first == want[i].first);
    parity::expect_close(got[i].second, want[i].second, atol, rtol, what + " " + got[i].first);
  }
}

}  // namespace

TEST_CASE("a conv net's training step on simt matches the CPU's, at two block sizes") {
  // One OpenMP thread for the CPU side: libgomp is not built for
  // ThreadSanitizer, whose CI build (scripts/test_simt_sanitizers.sh) would
  // report the hand-offs at its barriers as races. The simt kernels do not
  // use OpenMP; TSan checks those.
  omp_set_num_threads(1);
  Generator data_gen(7);
  const Tensor x = randn({2, 3, 10, 10}, data_gen);
  const Tensor target = randn({2, 6}, data_gen);

  auto reference = make_net(11);
  const StepResult want = train_step(*reference, Device::cpu, x, target);
  CHECK(want.grads.size() == 12);  // weight and bias of 3 convolutions, 2 norms and the linear layer

  for (int threads : {0, 64}) {
    kernels::ScopedBlockThreads block(threads);
    const std::string what = std::string("block threads ") + (threads ? std::to_string(threads) : "default");
    auto net = make_net(11);
    const StepResult got = train_step(*net, Device::simt, x, target);
    CHECK_MESSAGE(got.out.device() == Device::simt, what, ": the output left the device");
    parity::expect_close(got.out, want.out, 2e-5, 2e-4, what + " output");
    parity::expect_close(got.loss, want.loss, 2e-5, 2e-4, what + " loss");
    compare(got.grads, want.grads, 2e-5, 2e-4, what + " gradient of");
    compare(got.state, want.state, 2e-5, 2e-4, what + " after the step,");
  }
}
