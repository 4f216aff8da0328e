/*
 * bench_gan_step.cpp: one full DCGAN training step (gan::GanModels::step:
 * G forward, D forward on real and fake, D backward, Adam on D, D forward on
 * the fake again, backward through D into G, Adam on G; non-saturating loss),
 * batch 64, on random "real" images in [-1, 1]:
 *
 *   BM_dcgan_step/28   the 28x28 grey model (Fashion-MNIST size), widths 64
 *   BM_dcgan_step/64   the DCGAN paper's 64x64 colour model, widths 64
 *
 * items_per_second counts real images per second. The same step is timed
 * against PyTorch by bench/compare_pytorch.py (through `gesso gan bench`).
 * Shared machines: run with OMP_WAIT_POLICY=passive, or spinning OpenMP
 * threads lose their core to other processes at every barrier.
 *
 *   OMP_WAIT_POLICY=passive ./build/bench/bench_gan_step --benchmark_counters_tabular=true
 */
#include <benchmark/benchmark.h>
#include <omp.h>

#include "gan/trainer.h"

namespace {

void BM_dcgan_step(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  gesso::gan::ModelConfig m;
  m.image_size = size;
  m.channels = size == 28 ? 1 : 3;
  m.g_width = m.d_width = 64;
  const int64_t batch = 64;
  gesso::Generator init(0), noise(1), data(2);
  gesso::gan::GanModels nets(m, gesso::gan::LossKind::nonsaturating, 2e-4, 2e-4, 0.5, 0.999, 0, init);
  gesso::Tensor real = gesso::rand({batch, m.channels, size, size}, data, {}, -1.0, 1.0);
  nets.step({real}, noise);  // warm the allocator's cache
  for (auto _ : state) {
    gesso::gan::StepStats s = nets.step({real}, noise);
    benchmark::DoNotOptimize(s.loss_g);
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["threads"] = omp_get_max_threads();
}

BENCHMARK(BM_dcgan_step)->Arg(28)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
