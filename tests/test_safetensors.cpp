// test_safetensors.cpp: the safetensors reader/writer (round trips, the exact
// bytes other readers see, every malformed-file error, atomic writes) and
// checkpoints built on it.
#include <doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/atomic_file.h"

using namespace gesso;
using namespace gesso::nn;
namespace fs = std::filesystem;

namespace {

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = "/tmp/gesso_test_safetensors_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file made of a given header text (unpadded) and data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Equal shape, dtype and bitwise-equal values (a round trip must not round).
void check_identical(const Tensor& got, const Tensor& want) {
  REQUIRE(got.defined());
  CHECK(got.shape() == want.shape());
  CHECK(got.dtype() == want.dtype());
  CHECK(got.device() == Device::cpu);
  if (want.dtype() == DType::f32) CHECK(got.to_vector<float>() == want.to_vector<float>());
  else CHECK(got.to_vector<double>() == want.to_vector<double>());
}

}  // namespace

TEST_CASE("round trip of several shapes and dtypes, a 0-d scalar, an empty tensor, and metadata") {
  TempDir dir;
  Generator gen(7);
  StateDict tensors{
      {"conv.weight", randn({3, 5, 7}, gen)},
      {"double.matrix", randn({2, 3}, gen, TensorOptions(DType::f64))},
      {"scalar", scalar_tensor(-3.25)},
      {"scalar64", scalar_tensor(1.0 / 3.0, DType::f64)},
      {"empty", zeros({0, 4})},
      {"vector", from_vector(std::vector<float>{1, std::numeric_limits<float>::infinity(), -0.0f}, {3})},
      // Non-contiguous: written as its contiguous values.
      {"transposed", randn({4, 5}, gen).transpose(0, 1)},
  };
  std::map<std::string, std::string> meta{{"author", "gesso"}, {"empty", ""}, {"unicode", "étoilé ✓"},
                                          {"json", "{\"a\": [1, 2]}"}};
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, tensors, meta);

  SafetensorsFile f = load_safetensors(path);
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO("tensor ", name);
    check_identical(f.tensors.at(name), t);
  }
  CHECK(f.tensors.at("scalar").dim() == 0);
  CHECK(f.tensors.at("empty").shape() == Shape{0, 4});
  CHECK(std::signbit(f.tensors.at("vector").to_vector<float>()[2]));

  // The data section starts at a multiple of 8 and the temp file is gone.
  const std::string bytes = read_all(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK((8 + n) % 8 == 0);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("a file with no tensors and no metadata round-trips") {
  TempDir dir;
  save_safetensors(dir.file("e.safetensors"), {});
  SafetensorsFile f = load_safetensors(dir.file("e.safetensors"));
  CHECK(f.tensors.empty());
  CHECK(f.metadata.empty());
  CHECK(read_all(dir.file("e.safetensors")) == le64(8) + "{}      ");
}

TEST_CASE("the bytes written are exactly the safetensors layout other readers expect") {
  TempDir dir;
  const std::string path = dir.file("tiny.safetensors");
  save_safetensors(path, {{"b", from_vector(std::vector<float>{1.0f, -2.0f}, {2})}, {"a", scalar_tensor(0.5, DType::f64)}},
                   {{"k", "v"}});
  // 132 bytes of JSON + 4 spaces = 136 = 0x88; "a" (name order) comes first in the data.
  const std::string header =
      "{\"__metadata__\":{\"k\":\"v\"},"
      "\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}"
      "    ";
  const std::string expected = std::string("\x88\0\0\0\0\0\0\0", 8) + header +
                               std::string("\0\0\0\0\0\0\xe0\x3f", 8) +  // 0.5 as little-endian double
                               std::string("\0\0\x80\x3f", 4) +          // 1.0f
                               std::string("\0\0\0\xc0", 4);             // -2.0f
  CHECK(read_all(path) == expected);
}

TEST_CASE("F16 and BF16 tensors are read as float32") {
  TempDir dir;
  // 1, -2, 0.5, 65504 (largest half), 2^-24 (smallest subnormal half), 3 * 2^-24, inf, -0
  std::vector<uint16_t> half{0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x0003, 0x7c00, 0x8000};
  // 1, -2, 3.140625, 1e38 rounded (0x7e96 = 9.969e37)
  std::vector<uint16_t> bf16{0x3f80, 0xc000, 0x4049, 0x7e96};
  const std::string header =
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
      "\"bf\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]}}";
  const std::string path = dir.file("half.safetensors");
  write_all(path, make_file(header, raw_bytes(half) + raw_bytes(bf16)));

  SafetensorsFile f = load_safetensors(path);
  Tensor h = f.tensors.at("h");
  CHECK(h.dtype() == DType::f32);
  CHECK(h.shape() == Shape{2, 4});
  std::vector<float> hv = h.to_vector<float>();
  CHECK(hv[0] == 1.0f);
  CHECK(hv[1] == -2.0f);
  CHECK(hv[2] == 0.5f);
  CHECK(hv[3] == 65504.0f);
  CHECK(hv[4] == std::ldexp(1.0f, -24));
  CHECK(hv[5] == 3 * std::ldexp(1.0f, -24));
  CHECK(std::isinf(hv[6]));
  CHECK((hv[7] == 0.0f && std::signbit(hv[7])));
  std::vector<float> bv = f.tensors.at("bf").to_vector<float>();
  CHECK(bv[0] == 1.0f);
  CHECK(bv[1] == -2.0f);
  CHECK(bv[2] == 3.140625f);
  CHECK(bv[3] == doctest::Approx(9.969e37).epsilon(1e-3));

  std::vector<TensorInfo> infos = read_safetensors_header(path);
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].name == "h");  // in data order
  CHECK(infos[0].dtype == "F16");
  CHECK(infos[1].name == "bf");
  CHECK(infos[1].dtype == "BF16");
  CHECK(infos[1].shape == Shape{4});
  CHECK(infos[1].data_begin == 16);
  CHECK(infos[1].data_end == 24);
}

TEST_CASE("read_safetensors_header lists names, dtypes, shapes and metadata without reading data") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"x", zeros({2, 3})}, {"y", zeros({5}, DType::f64)}}, {{"m", "1"}});
  std::map<std::string, std::string> meta;
  std::vector<TensorInfo> infos = read_safetensors_header(path, &meta);
  REQUIRE(infos.size() == 2);
  CHECK(infos[0].name == "x");
  CHECK(infos[0].dtype == "F32");
  CHECK(infos[0].shape == Shape{2, 3});
  CHECK(infos[1].name == "y");
  CHECK(infos[1].dtype == "F64");
  CHECK(infos[1].data_begin == 24);
  CHECK(infos[1].data_end == 64);
  CHECK(meta.at("m") == "1");
}

TEST_CASE("malformed files are reported naming the file and what was wrong") {
  TempDir dir;
  const std::string good_header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  const std::string good_data = raw_bytes(std::vector<float>{1, 2});
  const std::string p = dir.file("bad.safetensors");

  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(load_safetensors(dir.file("nope.safetensors")),
                         doctest::Contains(("no such file '" + dir.file("nope.safetensors") + "'").c_str()), Error);
    CHECK_THROWS_WITH_AS(read_safetensors_header(dir.file("nope.safetensors")), doctest::Contains("no such file"), Error);
  }
  SUBCASE("shorter than the length field") {
    write_all(p, "abc");
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("3 bytes long, shorter than the 8-byte header length"), Error);
  }
  SUBCASE("header length larger than the file") {
    write_all(p, le64(1000) + "{}");
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("header length field says 1000 bytes but only 2 bytes follow"),
                         Error);
  }
  SUBCASE("header is not JSON") {
    write_all(p, make_file("{\"x\": [1, 2", ""));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("is not valid JSON"), Error);
  }
  SUBCASE("header is JSON but not an object") {
    write_all(p, make_file("[1, 2]", ""));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("must be a JSON object, got a JSON array"), Error);
  }
  SUBCASE("unknown dtype") {
    write_all(p, make_file("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", good_data));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("tensor 'x' has dtype 'I64', which gesso cannot read"), Error);
  }
  SUBCASE("offsets do not match shape * dtype size") {
    write_all(p, make_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", good_data));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("which needs 12 bytes, but its data_offsets [0, 8] span 8 bytes"),
                         Error);
  }
  SUBCASE("offsets out of range") {
    write_all(p, make_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", good_data));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("the data section holds only 8 bytes"), Error);
  }
  SUBCASE("overlapping tensors") {
    write_all(p, make_file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           good_data));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("'x' [0, 8] and 'y' [4, 8] overlap"), Error);
  }
  SUBCASE("data section truncated") {
    save_safetensors(p, {{"x", zeros({10})}});
    std::string bytes = read_all(p);
    write_all(p, bytes.substr(0, bytes.size() - 3));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("data_offsets [0, 40] but the data section holds only 37 bytes"),
                         Error);
  }
  SUBCASE("entry without shape") {
    write_all(p, make_file("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", good_data));
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains("tensor 'x' has no array 'shape'"), Error);
  }
  SUBCASE("the message names the file") {
    write_all(p, "abc");
    CHECK_THROWS_WITH_AS(load_safetensors(p), doctest::Contains(p.c_str()), Error);
  }
  SUBCASE("a good file built by hand loads (control)") {
    write_all(p, make_file(good_header, good_data));
    CHECK(load_safetensors(p).tensors.at("x").to_vector<float>() == std::vector<float>{1, 2});
  }
}

TEST_CASE("bad tensors are refused before anything is written") {
  TempDir dir;
  const std::string p = dir.file("w.safetensors");
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"x", Tensor()}}), doctest::Contains("tensor 'x' is undefined"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"__metadata__", zeros({1})}}), doctest::Contains("reserved"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(p, {{"", zeros({1})}}), doctest::Contains("must not be empty"), Error);
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("a failed write leaves the existing file untouched and no temporary file behind") {
  TempDir dir;
  const std::string p = dir.file("w.safetensors");
  save_safetensors(p, {{"x", ones({3})}});
  const std::string before = read_all(p);

  SUBCASE("the temporary file cannot be created") {
    // A directory squatting on the temporary name makes fopen fail even for root.
    const std::string tmp = p + ".tmp." + std::to_string(static_cast<long>(getpid()));
    fs::create_directory(tmp);
    CHECK_THROWS_WITH_AS(save_safetensors(p, {{"x", zeros({3})}}), doctest::Contains(("cannot write '" + p + "'").c_str()), Error);
    CHECK(read_all(p) == before);
    fs::remove(tmp);
  }
  SUBCASE("the directory does not exist") {
    const std::string q = dir.file("no/such/dir/w.safetensors");
    CHECK_THROWS_WITH_AS(save_safetensors(q, {{"x", zeros({3})}}), doctest::Contains("No such file or directory"), Error);
    CHECK_FALSE(fs::exists(q));
  }
  SUBCASE("the writer fails half-way") {
    CHECK_THROWS_WITH_AS(write_file_atomically(
                             p,
                             [&](std::FILE* f) {
                               write_bytes(f, "garbage", 7, p, "test");
                               fail("test: simulated crash");
                             },
                             "test"),
                         doctest::Contains("simulated crash"), Error);
    CHECK(read_all(p) == before);
  }
  // Only the original file remains.
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
  CHECK(load_safetensors(p).tensors.at("x").to_vector<float>() == std::vector<float>{1, 1, 1});
}

TEST_CASE("checkpoint round trip: weights, optimizer state, extras, step, rng and config") {
  TempDir dir;
  Generator gen(3);
  Checkpoint ck;
  ck.model = {{"main.0.weight", randn({4, 3, 3, 3}, gen)}, {"main.1.running_mean", zeros({4})}};
  ck.optimizer = {{"main.0.weight.exp_avg", randn({4, 3, 3, 3}, gen)}, {"step", scalar_tensor(17, DType::f64)}};
  ck.extra = {{"fixed_noise", randn({8, 100}, gen)}};
  ck.step = 123456789012LL;
  ck.rng.seed = 0xfedcba9876543210ull;  // above 2^63: must survive as unsigned
  ck.rng.offset = 987654321ull;
  ck.config = {{"lr", 2e-4}, {"betas", {0.5, 0.999}}, {"model", "dcgan"}, {"nested", {{"ok", true}}}};
  const std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, ck);

  Checkpoint back = load_checkpoint(path);
  CHECK(back.step == ck.step);
  CHECK(back.rng.seed == ck.rng.seed);
  CHECK(back.rng.offset == ck.rng.offset);
  CHECK(back.config == ck.config);
  REQUIRE(back.model.size() == 2);
  REQUIRE(back.optimizer.size() == 2);
  REQUIRE(back.extra.size() == 1);
  for (const auto& [name, t] : ck.model) check_identical(back.model.at(name), t);
  for (const auto& [name, t] : ck.optimizer) check_identical(back.optimizer.at(name), t);
  check_identical(back.extra.at("fixed_noise"), ck.extra.at("fixed_noise"));

  // Still a plain safetensors file to other readers.
  SafetensorsFile raw = load_safetensors(path);
  CHECK(raw.metadata.at("gesso.format") == "gesso-checkpoint-1");
  CHECK(raw.metadata.at("gesso.step") == "123456789012");
  CHECK(raw.tensors.count("model.main.0.weight") == 1);
  CHECK(raw.tensors.count("optim.step") == 1);
  CHECK(raw.tensors.count("extra.fixed_noise") == 1);

  // A resumed generator continues the same stream.
  Tensor a = randn({5}, ck.rng);
  Tensor b = randn({5}, back.rng);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
}

TEST_CASE("loading something that is not a gesso checkpoint fails clearly") {
  TempDir dir;
  const std::string path = dir.file("weights.safetensors");
  save_safetensors(path, {{"features.0.weight", zeros({2})}});
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("not a gesso checkpoint"), Error);
  save_safetensors(path, {{"x", zeros({2})}}, {{"gesso.format", "gesso-checkpoint-99"}});
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("expected 'gesso-checkpoint-1'"), Error);
  save_safetensors(path, {{"model.x", zeros({2})}},
                   {{"gesso.format", "gesso-checkpoint-1"}, {"gesso.step", "12x"}, {"gesso.rng_seed", "0"},
                    {"gesso.rng_offset", "0"}, {"gesso.config", "null"}});
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("'gesso.step' must be a decimal integer, got '12x'"), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.file("missing.safetensors")), doctest::Contains("no such file"), Error);
}
