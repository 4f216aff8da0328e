// test_simt_elementwise.cpp: the elementwise, reduction, random, dropout,
// loss and optimizer CUDA kernels, run on the CPU by the SIMT runtime,
// against their CPU twins (ctest label simt). The cases are in
// parity_elementwise.h, shared with the GPU run (test_gpu_elementwise.cpp);
// the case below is SIMT-only: the kernels that combine values across
// threads give the CPU's result whatever order the runtime runs threads in.
#include "tensor/device.h"
#define PARITY_DEVICE gesso::Device::simt
#include "tests/parity_elementwise.h"

#include "kernels/simt/runtime.h"

TEST_CASE("block reductions do not depend on the order threads run in") {
  using gesso::simt::Order;
  const gesso::simt::Schedule before = gesso::simt::current_schedule();
  const std::vector<gesso::simt::Schedule> schedules = {
      {Order::forward, 0}, {Order::reverse, 0}, {Order::random, 7}, {Order::random, 1234}};
  Tensor x = normal({3, 401}, 171, false), y = normal({3, 401}, 172, false), wide = normal({203, 40}, 173, false);
  for (const auto& s : schedules) {
    gesso::simt::set_schedule(s);
    CAPTURE(gesso::simt::schedule_name(s));
    at_two_block_sizes([&] {
      // Sums are combined in a fixed tree, so even the float rounding is
      // the same under every order; against the CPU: the reduction tolerance.
      parity::expect_close(gesso::sum(x.to(kDevice)), gesso::sum(x), 1e-5, 1e-6, "sum");
      parity::expect_close(gesso::var(wide.to(kDevice), {0}, true), gesso::var(wide, {0}, true), 1e-6, 1e-5, "var");
      parity::expect_close(gesso::max(x.to(kDevice), 1), gesso::max(x, 1), 0, 0, "max");
      CHECK(gesso::argmax(wide.to(kDevice), 0).to_vector<float>() == gesso::argmax(wide, 0).to_vector<float>());
      parity::expect_close(gesso::mse_loss(x.to(kDevice), y.to(kDevice)), gesso::mse_loss(x, y), 1e-6, 1e-5, "mse");
      parity::expect_close(gesso::log_softmax(x.to(kDevice), 1), gesso::log_softmax(x, 1), 1e-6, 1e-5, "log_softmax");
    });
  }
  gesso::simt::set_schedule(before);
}
