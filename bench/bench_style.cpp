/*
 * bench_style.cpp: one iteration of Gatys style transfer (style/workload.h:
 * forward, content + style + TV losses, backward to the image) with
 * VGG-19 at 256 and 512 px, random weights (the timing does not depend on
 * their values), neural-style's layers: content relu4_2, style relu1_1,
 * relu2_1, relu3_1, relu4_1, relu5_1. And ResNet-50 at 256 px with gesso's
 * default layers and smoothing, when its files are installed
 * (scripts/setup_style_data.sh); otherwise that case reports an error line.
 *
 * Counters: the CPU allocator's peak bytes in use and the process's maximum
 * resident set, in MB (peaks so far in the process: run one case with
 * --benchmark_filter to read its own).
 *
 *   OMP_WAIT_POLICY=passive ./build/bench/bench_style --benchmark_filter=vgg19/256
 */
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>

#include "style/resnet50.h"
#include "style/paths.h"
#include "style/transfer.h"
#include "style/vgg19.h"
#include "style/workload.h"

namespace {

using namespace gesso;

void report_memory(benchmark::State& state) {
  state.counters["peak_tensor_MB"] = static_cast<double>(style::peak_tensor_bytes()) / (1 << 20);
  state.counters["max_rss_MB"] = static_cast<double>(max_rss_bytes()) / (1 << 20);
}

void BM_gatys_vgg19(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  Generator gen(0);
  style::Vgg19 net(style::Pooling::max, 1, gen);
  style::GatysWorkload work(net, size, {"relu4_2"}, {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"});
  work.step();  // warm-up: fills the allocator's cache
  for (auto _ : state) benchmark::DoNotOptimize(work.step());
  report_memory(state);
}

void BM_gatys_resnet50(benchmark::State& state) {
  const std::string path = style::default_resnet50_path();
  if (!std::ifstream(path).good()) {
    state.SkipWithError(("ResNet-50 not installed (" + path + "); run scripts/setup_style_data.sh").c_str());
    return;
  }
  auto net = style::load_resnet50(path);
  const style::ModelDefaults d = style::model_defaults("resnet50");
  style::GatysWorkload work(*net, static_cast<int>(state.range(0)), d.content_layers, d.style_layers, d.smoothing,
                            d.smoothing_temperature);
  work.step();
  for (auto _ : state) benchmark::DoNotOptimize(work.step());
  report_memory(state);
}

}  // namespace

BENCHMARK(BM_gatys_vgg19)->Name("gatys/vgg19")->Arg(256)->Arg(512)->Unit(benchmark::kSecond)->UseRealTime()
    ->MinTime(5.0);
BENCHMARK(BM_gatys_resnet50)->Name("gatys/resnet50")->Arg(256)->Unit(benchmark::kSecond)->UseRealTime()->MinTime(3.0);

BENCHMARK_MAIN();
