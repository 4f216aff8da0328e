// test_tensor.cpp: Tensor basics: factories, strides and views, dtype and
// device handling, Philox (known answers and determinism), the allocator.
#include <doctest.h>

#include <cmath>

#include "autograd/ops.h"
#include "kernels/random.h"

using namespace gesso;

TEST_CASE("factories fill the right values with contiguous strides") {
  Tensor z = zeros({2, 3, 4});
  CHECK(z.shape() == Shape{2, 3, 4});
  CHECK(z.strides() == Strides{12, 4, 1});
  CHECK(z.is_contiguous());
  CHECK(sum(z).item() == 0);
  CHECK(sum(ones({5}, DType::f64)).item() == 5);
  CHECK(full({2}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f});
  CHECK(arange(4).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  CHECK(scalar_tensor(3).dim() == 0);
  CHECK(scalar_tensor(3).item() == 3);
}

TEST_CASE("views share storage; contiguous() copies in logical order") {
  Tensor x = arange(6).reshape({2, 3});
  Tensor t = x.transpose(0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.same_storage(x));
  CHECK(t.contiguous().to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  Tensor n = x.narrow(1, 1, 2);
  CHECK(n.to_vector<float>() == std::vector<float>{1, 2, 4, 5});
  Tensor e = arange(3).reshape({3, 1}).expand({3, 2});
  CHECK(e.strides()[1] == 0);
  CHECK(e.to_vector<float>() == std::vector<float>{0, 0, 1, 1, 2, 2});
  CHECK(x.flatten().shape() == Shape{6});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(0).squeeze(0).shape() == Shape{2, 3});
  CHECK(x.reshape({-1, 2}).shape() == Shape{3, 2});
}

TEST_CASE("dtype conversion and double precision") {
  Tensor d = from_vector(std::vector<double>{1.0 / 3.0}, {1}, DType::f64);
  CHECK(d.to(DType::f32).dtype() == DType::f32);
  CHECK(d.to(DType::f32).item() == doctest::Approx(1.0 / 3.0).epsilon(1e-7));
  CHECK(d.item() == 1.0 / 3.0);
}

TEST_CASE("Philox matches Random123's known-answer vectors") {
  using kernels::Philox4;
  Philox4 r = kernels::philox4x32_10_raw(Philox4{{0, 0, 0, 0}}, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  r = kernels::philox4x32_10_raw(Philox4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu,
                                 0xffffffffu);
  CHECK(r.v[0] == 0x408f276du);
  CHECK(r.v[1] == 0x41c83b0eu);
  CHECK(r.v[2] == 0xa20bc7c6u);
  CHECK(r.v[3] == 0x6d5451fdu);
  r = kernels::philox4x32_10_raw(Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u,
                                 0x299f31d0u);
  CHECK(r.v[0] == 0xd16cfe09u);
  CHECK(r.v[1] == 0x94fdccebu);
  CHECK(r.v[2] == 0x5001e420u);
  CHECK(r.v[3] == 0x24126ea1u);
}

TEST_CASE("random tensors: same seed same numbers, stream advances, sane moments") {
  Generator a(42), b(42);
  Tensor x = randn({1000}, a), y = randn({1000}, b);
  CHECK(x.to_vector<float>() == y.to_vector<float>());
  Tensor x2 = randn({1000}, a);
  CHECK(x2.to_vector<float>() != x.to_vector<float>());
  // The double stream is the float stream, rounded differently.
  Generator c(42);
  Tensor xd = randn({1000}, c, DType::f64);
  CHECK(std::abs(xd.to_vector<double>()[7] - x.to_vector<float>()[7]) < 1e-6);
  // Moments of 100k draws: standard errors are about 0.003 (mean) and 0.0045 (var).
  Generator g(7);
  Tensor big = randn({100000}, g, DType::f64);
  CHECK(std::abs(mean(big).item()) < 0.02);
  CHECK(std::abs(var(big, {0}).item() - 1.0) < 0.03);
  Tensor u = rand({100000}, g, DType::f64, -1, 3);
  CHECK(u.to_vector<double>()[0] >= -1);
  CHECK(std::abs(mean(u).item() - 1.0) < 0.02);
  CHECK(max(u).item() < 3.0);
}

TEST_CASE("devices: names, parsing and clear errors") {
  CHECK(std::string(device_name(Device::cpu)) == "cpu");
  CHECK(parse_device("cpu") == Device::cpu);
  CHECK_THROWS_WITH_AS(parse_device("tpu"), doctest::Contains("expected one of auto, cpu, cuda, simt; got 'tpu'"),
                       Error);
  if (!cuda_available()) {
    CHECK(parse_device("auto", false) == Device::cpu);
    CHECK_THROWS_WITH_AS(parse_device("cuda"), doctest::Contains("no GPU is available"), Error);
    CHECK_THROWS_WITH_AS(zeros({2}).to(Device::cuda), doctest::Contains("no GPU is available"), Error);
  }
  CHECK_THROWS_WITH_AS(zeros({2}, DType::f64).to(Device::cuda), doctest::Contains("float64"), Error);
}

TEST_CASE("caching allocator reuses freed blocks and tracks the peak") {
  reset_peak_memory(Device::cpu);
  AllocatorStats before = allocator_stats(Device::cpu);
  { Tensor t = zeros({1 << 20}); }  // 4 MiB, freed at once
  AllocatorStats mid = allocator_stats(Device::cpu);
  CHECK(mid.peak_bytes_in_use >= before.bytes_in_use + (4u << 20));
  CHECK(mid.bytes_in_use == before.bytes_in_use);
  { Tensor t = zeros({1 << 20}); }
  AllocatorStats after = allocator_stats(Device::cpu);
  CHECK(after.cache_hits > mid.cache_hits);
  CHECK(allocation_bin(1000) >= 1000);
  CHECK(allocation_bin(1000) <= 1000 * 9 / 8 + 1);
  CHECK(allocation_bin((1 << 20) + 1) <= ((1 << 20) + 1) * 9 / 8 + 1);
}

TEST_CASE("bad input: item of many, negative size, data of the wrong type") {
  CHECK_THROWS_WITH_AS(zeros({3}).item(), doctest::Contains("one element, got shape (3,)"), Error);
  CHECK_THROWS_WITH_AS(zeros({-1}), doctest::Contains("sizes must be >= 0"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}).data<double>(), doctest::Contains("asked for float64 but the tensor holds float32"),
                       Error);
  CHECK_THROWS_WITH_AS(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), doctest::Contains("3 values do not fill"),
                       Error);
}
