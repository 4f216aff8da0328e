// test_autograd_memory.cpp: what the graph keeps alive, measured with the
// host allocator's bytes in use: a node keeps the data of exactly the inputs
// its closure captures (edges to op outputs carry no data), relu and
// leaky_relu keep their output rather than their input, max_pool2d keeps no
// argmax table between forward and backward, and backward hands a leaf the
// gradient buffer itself when nothing else holds it (never an alias of one
// that something else holds). Gradients stay right: each case checks them.
#include <doctest/doctest.h>

#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/gradcheck.h"
#include "tensor/allocator.h"

using namespace gesso;

namespace {

size_t in_use() { return allocator_stats(Device::cpu).bytes_in_use; }

constexpr int64_t kSide = 512;                               // (1, 4, 512, 512) float32: 4 MiB
constexpr size_t kBytes = size_t(4) * kSide * kSide * 4;     // a multiple of the page: no rounding

}  // namespace

TEST_CASE("a node keeps no data of an op's output that its closure does not capture") {
  Tensor x = full({1, 4, kSide, kSide}, 1.5).requires_grad_();
  const size_t base = in_use();
  Tensor y;
  {
    Tensor a = mul(x, 2.0);  // an op's output, 4 MiB
    CHECK(in_use() == base + kBytes);
    y = sum(a);              // sum's backward needs only a's shape
  }
  CHECK(in_use() < base + kBytes);  // a is gone although y's node has it as an input
  REQUIRE(y.grad_fn() != nullptr);
  const Tensor& edge = y.grad_fn()->inputs[0];
  CHECK(edge.shape() == Shape{1, 4, kSide, kSide});
  CHECK(edge.grad_fn() != nullptr);  // the edge still leads to mul's node
  y.backward();
  std::vector<float> g = x.grad().to_vector<float>();
  CHECK(g.front() == 2.0f);
  CHECK(g.back() == 2.0f);
}

TEST_CASE("leaves stay whole in their node: backward writes their .grad") {
  Tensor x = full({3}, 2.0).requires_grad_();
  Tensor y = mul(x, 3.0);
  CHECK(y.grad_fn()->inputs[0].same_storage(x));
}

TEST_CASE("relu and leaky_relu keep their output, not their input") {
  Tensor x = full({1, 4, kSide, kSide}, -0.5).requires_grad_();
  for (double slope : {0.0, 0.2}) {
    CAPTURE(slope);
    const size_t base = in_use();
    Tensor y;
    {
      Tensor h = add(x, 1.0);  // 0.5 everywhere, an op's output
      y = slope == 0.0 ? relu(h) : leaky_relu(h, slope);
    }
    CHECK(in_use() == base + kBytes);  // y alone: h was freed
    x.zero_grad();
    sum(y).backward();
    CHECK(x.grad().to_vector<float>()[7] == 1.0f);
  }
  // A negative slope flips the sign: the input is kept, and the gradient is right on both sides.
  Tensor v = from_vector(std::vector<double>{-2, -0.5, 0.5, 2}, {4}, DType::f64).requires_grad_();
  Tensor y = leaky_relu(mul(v, 1.0), -0.3);
  sum(y).backward();
  const std::vector<double> gv = v.grad().to_vector<double>();
  const std::vector<double> want = {-0.3, -0.3, 1, 1};
  for (size_t i = 0; i < want.size(); ++i) CHECK(gv[i] == doctest::Approx(want[i]).epsilon(1e-12));  // (1 - s) + s rounds
  auto f = [](const std::vector<Tensor>& t) { return leaky_relu(t[0], -0.3); };
  Generator gen(5);
  Tensor w = add(rand({2, 3, 5}, gen, DType::f64, -1, 1), 0.0).detach();
  w = where(gt(abs(w), 0.1), w, full({}, 0.5, DType::f64)).requires_grad_();  // away from the kink
  auto res = autograd::gradcheck(f, {w});
  CHECK_MESSAGE(res.ok, res.report);
}

TEST_CASE("max_pool2d keeps no argmax table from the forward to the backward") {
  Tensor x = full({1, 4, kSide, kSide}, 0.0).requires_grad_();
  Tensor r = relu(add(x, 1.0));  // keeps its output: the pool's input
  const size_t base = in_use();
  Tensor y = max_pool2d(r, 2, 2);
  CHECK(in_use() == base + kBytes / 4);  // the output alone
  sum(y).backward();
  // Every window is a tie: the first element of each 2x2 window gets 1.
  std::vector<float> g = x.grad().to_vector<float>();
  CHECK(g[0] == 1.0f);
  CHECK(g[1] == 0.0f);
  CHECK(g[2] == 1.0f);
  CHECK(g[kSide] == 0.0f);
}

TEST_CASE("backward gives a leaf the gradient buffer itself when nothing else holds it") {
  Tensor x = full({1, 4, kSide, kSide}, 1.0).requires_grad_();
  Tensor y = mul(x, 3.0);
  Tensor seed = full({1, 4, kSide, kSide}, 2.0);
  const size_t allocations = allocator_stats(Device::cpu).allocations;
  y.backward(seed);
  // mul's backward makes one buffer (g * 3); .grad takes it without a copy.
  CHECK(allocator_stats(Device::cpu).allocations == allocations + 1);
  CHECK(x.grad().to_vector<float>()[11] == 6.0f);
}

TEST_CASE("a leaf's .grad never aliases a tensor that something else holds") {
  // add's backward passes the same gradient to both inputs, and a scalar add
  // passes the seed through unchanged: each .grad must still be its own copy.
  Tensor a = full({5}, 1.0).requires_grad_(), b = full({5}, 2.0).requires_grad_();
  Tensor seed = full({5}, 1.0);
  add(a, b).backward(seed);
  CHECK(!a.grad().same_storage(b.grad()));
  CHECK(!a.grad().same_storage(seed));
  Tensor c = full({5}, 1.0).requires_grad_();
  add(c, 4.0).backward(seed);
  CHECK(!c.grad().same_storage(seed));
  a.grad().fill_(7.0);  // as an optimizer would, in place
  CHECK(b.grad().to_vector<float>()[0] == 1.0f);
  CHECK(seed.to_vector<float>()[0] == 1.0f);
  // A second backward adds to .grad.
  add(a, b).backward(seed);
  CHECK(a.grad().to_vector<float>()[0] == 8.0f);
}

TEST_CASE("create_graph: gradients keep their graph, and second derivatives are right through the new edges") {
  Tensor x = from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3}, DType::f64).requires_grad_();
  Tensor h = mul(x, x);  // an op's output, captured by the next mul's closure
  Tensor y = sum(mul(h, x));  // x^3
  // The gradient's graph runs through the first one (h's node): retain it.
  Tensor g = autograd::grad({y}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];  // 3 x^2
  CHECK(g.to_vector<double>() == std::vector<double>{0.75, 3.0, 12.0});
  sum(g).backward();  // d/dx of 3 x^2 = 6 x
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3.0, -6.0, 12.0});
}
