// test_train_e2e.cpp: end to end on real data: a small MLP and a small CNN
// trained on the CPU on the 1,797 8x8 digits of Debian's python3-sklearn
// (1,500 to train, 297 held out) reach a stated test accuracy. Published
// figures for this set: a linear model reaches about 0.95, small MLPs and
// CNNs 0.97-0.99; the thresholds leave room for seeds, not for bugs.
#include <doctest.h>

#include <cstdio>

#include "autograd/ops.h"
#include "data/loader.h"
#include "nn/layers.h"
#include "nn/optim.h"

using namespace gesso;

namespace {

double accuracy(nn::Module& model, const data::LabelledImages& set) {
  NoGradGuard ng;
  model.eval();
  Tensor pred = argmax(model(set.images), 1);
  model.train();
  return mean(eq(pred, set.labels)).item();
}

// Trains with Adam and cross-entropy; returns (first epoch's mean loss, last epoch's).
std::pair<double, double> train(nn::Module& model, const data::LabelledImages& train_set, int epochs, double lr) {
  nn::Adam opt(model.parameters(), nn::AdamOptions(lr));
  data::BatchLoader loader(train_set, 64, /*shuffle=*/true, /*seed=*/5);
  double first = 0, last = 0;
  for (int e = 0; e < epochs; ++e) {
    double total = 0;
    int batches = 0;
    Tensor x, y;
    while (loader.next(&x, &y)) {
      opt.zero_grad();
      Tensor loss = cross_entropy(model(x), y);
      loss.backward();
      opt.step();
      total += loss.item();
      ++batches;
    }
    if (e == 0) first = total / batches;
    last = total / batches;
  }
  return {first, last};
}

struct Digits {
  data::LabelledImages train, test;
};

Digits digits() {
  Generator gen(2024);
  auto [a, b] = data::random_split(data::load_sklearn_digits(), 1500, gen);
  return {a, b};
}

}  // namespace

TEST_CASE("an MLP learns the 8x8 digits: test accuracy >= 0.93") {
  Digits d = digits();
  Generator gen(1);
  nn::Sequential mlp{std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64, 64, true, gen),
                     std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(64, 10, true, gen)};
  double before = accuracy(mlp, d.test);
  auto [first, last] = train(mlp, d.train, 30, 3e-3);
  double acc = accuracy(mlp, d.test);
  std::printf("MLP: loss %.3f -> %.3f, test accuracy %.3f -> %.3f\n", first, last, before, acc);
  CHECK(last < first / 4);
  CHECK(acc >= 0.93);
}

TEST_CASE("a CNN learns the 8x8 digits: test accuracy >= 0.95") {
  Digits d = digits();
  Generator gen(2);
  nn::Sequential cnn{
      std::make_shared<nn::Conv2d>(1, 16, 3, nn::Conv2dOptions().padding(1), gen),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions().padding(1).stride(2), gen),
      std::make_shared<nn::BatchNorm2d>(32),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(32 * 4 * 4, 10, true, gen),
  };
  auto [first, last] = train(cnn, d.train, 12, 3e-3);
  double acc = accuracy(cnn, d.test);
  std::printf("CNN: loss %.3f -> %.3f, test accuracy %.3f\n", first, last, acc);
  CHECK(last < first / 4);
  CHECK(acc >= 0.95);
}

TEST_CASE("loader: permutation is a permutation; batches cover the epoch once") {
  Generator g(9);
  auto p = data::permutation(100, g);
  std::vector<int> seen(100, 0);
  for (int64_t i : p) seen[i]++;
  CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
  data::LabelledImages set{arange(10).reshape({10, 1, 1, 1}), arange(10), 10};
  data::BatchLoader loader(set, 4, true, 3);
  CHECK(loader.batches_per_epoch() == 3);
  Tensor x, y;
  double total = 0;
  int batches = 0;
  while (loader.next(&x, &y)) {
    CHECK(x.reshape({-1}).to_vector<float>() == y.to_vector<float>());  // images and labels stay paired
    total += sum(y).item();
    ++batches;
  }
  CHECK(batches == 3);
  CHECK(total == 45);
  CHECK_THROWS_WITH_AS(data::BatchLoader(set, 0, true, 1), doctest::Contains("batch_size must be > 0"), Error);
}
