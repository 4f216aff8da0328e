/*
 * demo.cpp: `gesso demo`, the embedded default until the applications land:
 * a small CNN trained on the CPU on real data (the 1,797 8x8 digits that
 * Debian's python3-sklearn ships), printing its loss falling epoch by epoch
 * with a progress line, and its accuracy on held-out digits.
 */
#include "tools/commands.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "autograd/ops.h"
#include "data/loader.h"
#include "nn/layers.h"
#include "nn/optim.h"

namespace gesso::tools {

namespace {

double accuracy(nn::Module& model, const data::LabelledImages& set, Device device) {
  NoGradGuard ng;
  model.eval();
  Tensor pred = argmax(model(set.images.to(device)), 1).to(Device::cpu);
  model.train();
  return mean(eq(pred, set.labels)).item();
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "train a small CNN on the 8x8 digits (CPU) and print its loss falling");
  struct Options {
    int epochs = 10;
    int batch = 64;
    double lr = 3e-3;
    uint64_t seed = 0;
    std::string device = "auto";
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("--epochs", opt->epochs, "passes over the 1,500 training digits")->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch", opt->batch, "mini-batch size")->check(CLI::Range(1, 1000000));
  cmd->add_option("--lr", opt->lr, "Adam learning rate")->check(CLI::Range(1e-8, 10.0));
  cmd->add_option("--seed", opt->seed, "seed for weights, split and shuffling");
  cmd->add_option("--device", opt->device, "auto, cpu, cuda or simt");
  cmd->callback([opt]() {
    Device device = parse_device(opt->device);
    GESSO_CHECK(device == Device::cpu, "gesso demo: runs on the CPU in this version; got --device ",
                device_name(device));
    Generator split_gen(opt->seed + 17);
    auto [train_set, test_set] = data::random_split(data::load_sklearn_digits(), 1500, split_gen);
    Generator gen(opt->seed);
    nn::Sequential model{
        std::make_shared<nn::Conv2d>(1, 16, 3, nn::Conv2dOptions().padding(1), gen),
        std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Conv2d>(16, 32, 3, nn::Conv2dOptions().padding(1).stride(2), gen),
        std::make_shared<nn::BatchNorm2d>(32),
        std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(32 * 4 * 4, 10, true, gen),
    };
    std::printf("gesso demo: %lld parameters, %lld training and %lld test digits (8x8, from python3-sklearn)\n",
                static_cast<long long>(model.num_parameters()), static_cast<long long>(train_set.images.size(0)),
                static_cast<long long>(test_set.images.size(0)));
    std::printf("%s\n", model.repr().c_str());
    nn::Adam adam(model.parameters(), nn::AdamOptions(opt->lr));
    data::BatchLoader loader(train_set, opt->batch, true, opt->seed + 1);
    auto start = std::chrono::steady_clock::now();
    int64_t seen = 0;
    for (int epoch = 1; epoch <= opt->epochs; ++epoch) {
      double total = 0;
      int batches = 0;
      Tensor x, y;
      while (loader.next(&x, &y)) {
        adam.zero_grad();
        Tensor loss = cross_entropy(model(x), y);
        double value = loss.item();
        GESSO_CHECK(std::isfinite(value), "gesso demo: the loss became ", value, " at epoch ", epoch);
        loss.backward();
        adam.step();
        total += value;
        ++batches;
        seen += x.size(0);
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double rate = seen / secs;
      double eta = secs / epoch * (opt->epochs - epoch);
      std::printf("epoch %3d/%d  loss %.4f  test accuracy %.3f  %.0f img/s  ETA %.1fs\n", epoch, opt->epochs,
                  total / batches, accuracy(model, test_set, device), rate, eta);
      std::fflush(stdout);
    }
    std::printf("gesso demo: done; final test accuracy %.3f on %lld held-out digits\n",
                accuracy(model, test_set, device), static_cast<long long>(test_set.images.size(0)));
  });
}

}  // namespace gesso::tools
