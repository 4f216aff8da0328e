/*
 * bench_gemm.cpp: float GEMM, gesso's handwritten kernel (one row per
 * micro-kernel ISA this CPU runs: avx2, avx512) against OpenBLAS, at 1 and 2
 * OpenMP threads. Reports GFLOP/s (2 M N K flops per product) and the
 * process's CPU time (all threads; about twice the wall time when two
 * threads both work, and in vs_openblas rows both implementations' runs).
 *
 *   gemm/<impl>/n:<n>/threads:<t>        square C = A B, n = 256 ... 2048;
 *                                        impl = avx2, avx512 (handwritten) or openblas
 *   vs_openblas/<isa>/<shape>/threads:<t>
 *       the handwritten kernel and OpenBLAS on the same product, alternately
 *       in every iteration, so that both see the same machine load. Counters:
 *       GFLOP/s (handwritten), openblas_GFLOP/s, and vs_openblas = OpenBLAS's
 *       time / handwritten time (> 1: handwritten is faster), each from the
 *       best iteration (the least disturbed by other processes). Shapes:
 *       square n (nn), the transposed cases at 1024 (nt, tn, tt), and the
 *       products of the DCGAN-64 convolutions (batch 64, 4 x 4 kernels):
 *         d<i>_fwd     conv2d forward, y (C_out x P) = w (C_out x C_in*16) . col (C_in*16 x P)
 *         d2_wgrad     its weight gradient, gw = gy (C_out x P) . col^T
 *         g<i>_fwd     conv_transpose2d forward, col (C_out*16 x P) = w^T . x (C_in x P)
 *       "_image": one image's product (P = its output positions), as the
 *       convolutions run them when the images are split across threads;
 *       "_batch": the 64 images' positions side by side in one product.
 *
 *   ./bench_gemm                                          # everything (a few minutes)
 *   ./bench_gemm --benchmark_filter='gemm/.*n:1024/'      # every implementation at 1024
 *   ./bench_gemm --benchmark_filter='vs_openblas/avx512'  # the ratios of one ISA
 *   ./bench_gemm --benchmark_min_time=0.01                # a quick smoke run
 * Set OMP_WAIT_POLICY=passive (as the scripts do), and repeat on a shared
 * machine (--benchmark_repetitions=5): take the best.
 *
 * The yardstick is OpenBLAS at its best kernels for this CPU. OpenBLAS
 * 0.3.21 falls back to its generic SSE3 kernels ("Prescott") on CPUs newer
 * than it knows. When that happens and OPENBLAS_CORETYPE is unset, this
 * program sets OPENBLAS_CORETYPE to the best core type for the CPU (SkylakeX
 * with AVX-512, else Zen on AMD, else Haswell) and re-executes itself, saying
 * so in one line. The openblas rows are labelled with the core in use.
 */
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/openblas_core.h"
#include "kernels/cpu_isa.h"
#include "kernels/gemm.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

using namespace gesso;
using kernels::CpuIsa;
using kernels::GemmBackend;

namespace {

// One product: C (M x N) = op(A) op(B), op(A) M x K, op(B) K x N.
struct Shape {
  std::string name;
  int64_t M, N, K;
  bool trans_a = false, trans_b = false;
};

struct Operands {
  std::vector<float> a, b, c;
};

Operands make_operands(const Shape& s) {
  Generator gen(1);
  auto random = [&](int64_t n) { return rand({n}, gen, TensorOptions(DType::f32), -1.0, 1.0).to_vector<float>(); };
  return {random(s.M * s.K), random(s.K * s.N), std::vector<float>(s.M * s.N)};
}

// Row-major, packed: the leading dimension is the stored matrix's column count.
void run_handwritten(const Shape& s, Operands& o) {
  kernels::gemm_blocked_cpu<float>(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.0f, o.a.data(), s.trans_a ? s.M : s.K,
                                   o.b.data(), s.trans_b ? s.K : s.N, 0.0f, o.c.data(), s.N);
}
void run_openblas(const Shape& s, Operands& o) {
  kernels::gemm_cpu<float>(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.0f, o.a.data(), s.trans_a ? s.M : s.K,
                           o.b.data(), s.trans_b ? s.K : s.N, 0.0f, o.c.data(), s.N);
}

double flops(const Shape& s) { return 2.0 * s.M * s.N * s.K; }

// Sets the OpenMP team size and the GEMM backend for one benchmark, and puts them back.
struct Setup {
  int saved_threads = omp_get_max_threads();
  GemmBackend saved_backend = kernels::gemm_backend();
  explicit Setup(int threads) { omp_set_num_threads(threads); }
  ~Setup() {
    omp_set_num_threads(saved_threads);
    kernels::set_gemm_backend(saved_backend);
  }
};

std::string openblas_label() { return std::string("core=") + kernels::gemm_openblas_core(); }

// gemm/<impl>: one implementation alone. isa is ignored for openblas.
void bench_one(benchmark::State& state, bool openblas, CpuIsa isa, int64_t n) {
  const Shape s{"square", n, n, n};
  Setup setup(static_cast<int>(state.range(0)));
  kernels::ScopedCpuIsa scoped(isa);
  if (openblas) kernels::set_gemm_backend(GemmBackend::openblas);
  Operands o = make_operands(s);
  for (auto _ : state) {
    if (openblas)
      run_openblas(s, o);
    else
      run_handwritten(s, o);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  if (openblas) state.SetLabel(openblas_label());
  state.counters["GFLOP/s"] = benchmark::Counter(flops(s) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// vs_openblas/<isa>/<shape>: both, alternately; the reported time is the handwritten kernel's.
void bench_vs(benchmark::State& state, CpuIsa isa, Shape s) {
  using clock = std::chrono::steady_clock;
  Setup setup(static_cast<int>(state.range(0)));
  kernels::ScopedCpuIsa scoped(isa);
  kernels::set_gemm_backend(GemmBackend::openblas);
  Operands o = make_operands(s);
  double best_hand = 1e30, best_blas = 1e30;
  for (auto _ : state) {
    const auto t0 = clock::now();
    run_handwritten(s, o);
    benchmark::ClobberMemory();
    const auto t1 = clock::now();
    run_openblas(s, o);
    benchmark::ClobberMemory();
    const auto t2 = clock::now();
    const double hand = std::chrono::duration<double>(t1 - t0).count();
    best_hand = std::min(best_hand, hand);
    best_blas = std::min(best_blas, std::chrono::duration<double>(t2 - t1).count());
    state.SetIterationTime(hand);
  }
  state.SetLabel(openblas_label());
  state.counters["GFLOP/s"] = flops(s) * 1e-9 / best_hand;
  state.counters["openblas_GFLOP/s"] = flops(s) * 1e-9 / best_blas;
  state.counters["vs_openblas"] = best_blas / best_hand;
}

std::vector<Shape> vs_shapes() {
  std::vector<Shape> shapes;
  for (int64_t n : {256, 512, 1024, 2048}) shapes.push_back({"nn_" + std::to_string(n), n, n, n});
  shapes.push_back({"nt_1024", 1024, 1024, 1024, false, true});
  shapes.push_back({"tn_1024", 1024, 1024, 1024, true, false});
  shapes.push_back({"tt_1024", 1024, 1024, 1024, true, true});
  // DCGAN-64: discriminator convs 3->64 @64, 64->128 @32, 128->256 @16, 256->512 @8 (outputs 32, 16, 8, 4);
  // generator transposed convs 512->256 @4, 128->64 @16 (inputs 4, 16). K = C_in * 16.
  shapes.push_back({"d2_fwd_image", 128, 16 * 16, 64 * 16});
  shapes.push_back({"d3_fwd_image", 256, 8 * 8, 128 * 16});
  shapes.push_back({"d4_fwd_image", 512, 4 * 4, 256 * 16});
  shapes.push_back({"d2_wgrad_image", 128, 64 * 16, 16 * 16, false, true});
  shapes.push_back({"g2_fwd_image", 256 * 16, 4 * 4, 512, true, false});
  shapes.push_back({"g4_fwd_image", 64 * 16, 16 * 16, 128, true, false});
  shapes.push_back({"d1_fwd_batch", 64, 64 * 32 * 32, 3 * 16});
  shapes.push_back({"d2_fwd_batch", 128, 64 * 16 * 16, 64 * 16});
  shapes.push_back({"d4_fwd_batch", 512, 64 * 4 * 4, 256 * 16});
  shapes.push_back({"d2_wgrad_batch", 128, 64 * 16, 64 * 16 * 16, false, true});
  shapes.push_back({"g2_fwd_batch", 256 * 16, 64 * 4 * 4, 512, true, false});
  return shapes;
}

void register_benchmarks() {
  std::vector<CpuIsa> isas = {CpuIsa::avx2};
  if (kernels::cpu_isa_supported(CpuIsa::avx512)) isas.push_back(CpuIsa::avx512);
  auto common = [](benchmark::internal::Benchmark* b) {
    b->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
  };
  for (int64_t n : {256, 512, 1024, 2048}) {
    const std::string size = "/n:" + std::to_string(n);
    for (CpuIsa isa : isas)
      common(benchmark::RegisterBenchmark(("gemm/" + std::string(kernels::cpu_isa_name(isa)) + size).c_str(),
                                          bench_one, false, isa, n)
                 ->UseRealTime());
    if (kernels::gemm_openblas_available())
      common(benchmark::RegisterBenchmark(("gemm/openblas" + size).c_str(), bench_one, true, CpuIsa::avx2, n)
                 ->UseRealTime());
  }
  if (!kernels::gemm_openblas_available()) return;
  for (CpuIsa isa : isas)
    for (const Shape& s : vs_shapes())
      common(benchmark::RegisterBenchmark(
                 ("vs_openblas/" + std::string(kernels::cpu_isa_name(isa)) + "/" + s.name).c_str(), bench_vs, isa, s)
                 ->UseManualTime());
}

}  // namespace

int main(int argc, char** argv) {
  bench::use_best_openblas_core("bench_gemm", argv);
  register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
