// test_simt.cpp: acceptance tests of the SIMT runtime (docs/SIMT.md). Correct
// kernels (tiled SGEMM, warp-shuffle reduction, dynamic shared memory) match
// CPU loops under every schedule; each deliberately broken kernel of SIMT.md's
// table is caught the way the table says; and each runtime feature (warp
// exchanges, votes, atomics, coordinates, by-value parameters, limits) does
// what CUDA specifies. Where the evidence is a sanitizer report, the kernel
// runs in a child process (simt_kernel_runner) and its output is checked, so
// that this binary itself stays clean under TSan and ASan.
#include <doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "kernels/simt/runtime.h"
#include "tensor/error.h"
#include "tests/simt/kernels.h"

using namespace simt_test;
namespace simt = gesso::simt;

// Under ThreadSanitizer: do not sleep a second at exit (TSan's default, to
// catch races at exit) only because the runtime's idle worker threads exist.
extern "C" const char* __tsan_default_options() { return "atexit_sleep_ms=0"; }

namespace {

std::vector<float> pseudo_random(size_t n, unsigned seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(s >> 8) / float(1u << 24) * 2.0f - 1.0f;  // [-1, 1)
  }
  return v;
}

const std::vector<simt::Schedule> kSchedules = {
    {simt::Order::forward, 0}, {simt::Order::reverse, 0}, {simt::Order::random, 1}, {simt::Order::random, 2}};

// Sets the schedule and worker count for one test and restores them after.
struct RuntimeSettings {
  simt::Schedule old_schedule;
  int old_workers;
  RuntimeSettings(simt::Schedule s, int workers)
      : old_schedule(simt::set_schedule(s)), old_workers(simt::set_workers(workers)) {}
  ~RuntimeSettings() {
    simt::set_schedule(old_schedule);
    simt::set_workers(old_workers);
  }
};

// "tests/simt/FILE:N" where line N of FILE carries the comment [mark:MARK].
std::string marked(const std::string& file, const std::string& mark) {
  std::ifstream in(std::string(GESSO_SOURCE_DIR) + "/tests/simt/" + file);
  REQUIRE_MESSAGE(in.good(), "cannot read tests/simt/", file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find("[mark:" + mark + "]") != std::string::npos) return "tests/simt/" + file + ":" + std::to_string(n);
  FAIL("no [mark:", mark, "] in tests/simt/", file);
  return "";
}

// Whether `text` names FILE:LINE exactly (":4" must not match ":45").
[[maybe_unused]] bool names(const std::string& text, const std::string& file_line) {
  // Sanitizer reports print absolute paths; the runtime prints them relative.
  const std::string key = file_line.substr(file_line.find("tests/simt/"));
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    size_t end = at + key.size();
    if (end == text.size() || !std::isdigit(static_cast<unsigned char>(text[end]))) return true;
  }
  return false;
}

[[maybe_unused]] std::string next_line(const std::string& file_line) {
  size_t colon = file_line.rfind(':');
  return file_line.substr(0, colon + 1) + std::to_string(std::stoi(file_line.substr(colon + 1)) + 1);
}

// The message of the gesso::Error that f throws ("" if it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gesso::Error& e) {
    return e.what();
  }
  return "";
}

// Runs simt_kernel_runner NAME in a child process; returns its stdout+stderr.
std::string run_child(const std::string& name, const std::string& env = "") {
  const std::string cmd = env + " '" GESSO_SIMT_RUNNER "' " + name + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  pclose(pipe);
  return out;
}

// C = A B accumulated in double.
std::vector<double> gemm_reference(const std::vector<float>& A, const std::vector<float>& B, int M, int N, int K) {
  std::vector<double> C(size_t(M) * N, 0.0);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) C[size_t(i) * N + j] += double(A[size_t(i) * K + k]) * B[size_t(k) * N + j];
  return C;
}

constexpr int kM = 37, kN = 29, kK = 45;  // odd: partial edge tiles, K ends mid-tile

}  // namespace

// ---- correct kernels --------------------------------------------------------------

TEST_CASE("tiled SGEMM at 37x29x45 matches a CPU loop under every schedule and worker count") {
  std::vector<float> A = pseudo_random(size_t(kM) * kK, 1), B = pseudo_random(size_t(kK) * kN, 2);
  const std::vector<double> want = gemm_reference(A, B, kM, kN, kK);
  for (const simt::Schedule& s : kSchedules)
    for (int workers : {1, 3}) {
      CAPTURE(simt::schedule_name(s));
      CAPTURE(workers);
      RuntimeSettings settings(s, workers);
      std::vector<float> C(size_t(kM) * kN, -1.0f);
      sgemm(Sgemm::tiled, A.data(), B.data(), C.data(), kM, kN, kK);
      int bad = 0;
      for (size_t i = 0; i < C.size(); ++i)
        // 45 float products of values in [-1, 1): rounding stays far below 1e-4.
        bad += !(std::fabs(C[i] - want[i]) <= 1e-4 + 1e-5 * std::fabs(want[i]));
      CHECK(bad == 0);
    }
}

TEST_CASE("warp-shuffle block reduction sums 1001 values under every schedule") {
  const int n = 1001;
  std::vector<float> x = pseudo_random(n, 3);
  double want = 0;
  for (float v : x) want += v;
  for (const simt::Schedule& s : kSchedules)
    for (int threads : {32, 96, 128, 1024}) {
      CAPTURE(simt::schedule_name(s));
      CAPTURE(threads);
      RuntimeSettings settings(s, 2);
      float out = 0.0f;
      block_sum(x.data(), &out, n, 3, threads);
      // 1001 float additions in an order that differs from the reference's.
      CHECK(std::fabs(out - want) <= 1e-3 + 1e-5 * std::fabs(want));
    }
}

TEST_CASE("dynamic shared memory stencil with its halo matches a CPU loop under every schedule") {
  const int n = 1001;
  std::vector<float> x = pseudo_random(n, 4);
  for (const simt::Schedule& s : kSchedules)
    for (int threads : {32, 64, 100}) {
      CAPTURE(simt::schedule_name(s));
      CAPTURE(threads);
      RuntimeSettings settings(s, 2);
      std::vector<float> y(n, -7.0f);
      stencil3(x.data(), y.data(), n, threads, /*with_halo=*/true);
      int bad = 0;
      for (int i = 0; i < n; ++i) {
        double want = 2.0 * x[i] + (i > 0 ? x[i - 1] : 0.0) + (i + 1 < n ? x[i + 1] : 0.0);
        bad += !(std::fabs(y[i] - want) <= 1e-6 + 1e-6 * std::fabs(want));  // three float adds
      }
      CHECK(bad == 0);
    }
}

// ---- the bugs of SIMT.md's table -------------------------------------------------------

TEST_CASE("bug: tiled SGEMM without its second __syncthreads gives a wrong result (and a TSan race)") {
  const std::string out = run_child("sgemm_no_second_sync");
  CAPTURE(out);
  CHECK(out.find("result: wrong") != std::string::npos);
#if GESSO_SIMT_TEST_SANITIZE_THREAD
  CHECK(out.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
  const std::string store = marked("sgemm.cu", "nss_store");
  CHECK(names(out, marked("sgemm.cu", "nss_read")));
  CHECK((names(out, store) || names(out, next_line(store))));
#endif
}

TEST_CASE("bug: tiled SGEMM without its first __syncthreads gives a wrong result (and a TSan race)") {
  const std::string out = run_child("sgemm_no_first_sync");
  CAPTURE(out);
  CHECK(out.find("result: wrong") != std::string::npos);
#if GESSO_SIMT_TEST_SANITIZE_THREAD
  CHECK(out.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
  const std::string store = marked("sgemm.cu", "nfs_store");
  CHECK(names(out, marked("sgemm.cu", "nfs_read")));
  CHECK((names(out, store) || names(out, next_line(store))));
#endif
}

TEST_CASE("bug: an early return before a barrier is an error naming the line and the arrived/exited counts") {
  std::vector<float> A = pseudo_random(size_t(kM) * kK, 1), B = pseudo_random(size_t(kK) * kN, 2);
  std::vector<float> C(size_t(kM) * kN);
  const std::string err = error_of([&] { sgemm(Sgemm::early_return, A.data(), B.data(), C.data(), kM, kN, kK); });
  CAPTURE(err);
  // Block (1,0,0) covers columns 16-31 of 29: its threads with tx >= 13 (3 x 16) return.
  CHECK(err.find("simt: kernel sgemm_early_return_kernel launched at tests/simt/sgemm.cu:") == 0);
  CHECK(err.find("__syncthreads at " + marked("sgemm.cu", "er_barrier") +
                 " in block (1,0,0) cannot complete: 208 threads arrived and 48 exited") != std::string::npos);
  CHECK(err.find("thread (13,0,0) exited; thread (0,0,0) waits there") != std::string::npos);
}

TEST_CASE("bug: a full-mask shuffle inside if (lane < 16) is a deadlock report listing who waits where") {
  std::vector<float> x = pseudo_random(64, 5);
  float out = 0.0f;
  const std::string err = error_of([&] { warp_sum_divergent(x.data(), &out, 64); });
  CAPTURE(err);
  CHECK(err.find("deadlock in block (0,0,0)") != std::string::npos);
  CHECK(err.find("warp 0 lanes 0-15 (thread (0,0,0) and on) wait at __shfl_down_sync (" +
                 marked("reduce.cu", "div_shfl") + ") with mask 0xffffffff") != std::string::npos);
  CHECK(err.find("warp 0 lanes 16-31 (thread (16,0,0) and on) wait at __shfl_down_sync (" +
                 marked("reduce.cu", "div_rest") + ") with mask 0xffffffff") != std::string::npos);
}

TEST_CASE("bug: a warp reduction run with blockDim 48 reads a lane which does not exist") {
  std::vector<float> x = pseudo_random(100, 6);
  float out = 0.0f;
  const std::string err = error_of([&] { block_sum(x.data(), &out, 100, 1, 48); });
  CAPTURE(err);
  CHECK(err.find("__shfl_down_sync at " + marked("reduce.cu", "warp_sum")) != std::string::npos);
  CHECK(err.find("thread (32,0,0) of block (0,0,0) (lane 0 of warp 1) reads lane 16 which does not exist") !=
        std::string::npos);
}

TEST_CASE("bug: a warp-synchronous reduction without __syncwarp gives a wrong result (and a TSan race)") {
  const std::string out = run_child("block_sum_warp_synchronous");
  CAPTURE(out);
  CHECK(out.find("result: wrong") != std::string::npos);
#if GESSO_SIMT_TEST_SANITIZE_THREAD
  CHECK(out.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
  const std::string first = marked("reduce.cu", "ws_first"), last = marked("reduce.cu", "ws_last");
  bool in_tail = false;
  for (std::string l = first; l != next_line(last); l = next_line(l)) in_tail = in_tail || names(out, l);
  CHECK(in_tail);
#endif
}

TEST_CASE("bug: reading dynamic shared memory no thread wrote gives NaN in the result") {
  const int n = 200, threads = 64;
  std::vector<float> x = pseudo_random(n, 7), y(n, 0.0f);
  stencil3(x.data(), y.data(), n, threads, /*with_halo=*/false);
  // The halo, s[0] and s[threads + 1], is read by each block's first and last
  // thread (the last block's last thread is past n: its threads still stage 0).
  for (int i = 0; i < n; ++i) {
    const bool edge = i % threads == 0 || i % threads == threads - 1;
    CAPTURE(i);
    CHECK(std::isnan(y[i]) == edge);
  }
}

#if GESSO_SIMT_TEST_SANITIZE_ADDRESS
TEST_CASE("bug: a missing bounds check on K is an ASan heap-buffer-overflow at the load") {
  const std::string out = run_child("sgemm_no_k_check", "GESSO_SIMT_WORKERS=1");
  CAPTURE(out);
  CHECK(out.find("ERROR: AddressSanitizer: heap-buffer-overflow") != std::string::npos);
  CHECK((names(out, marked("sgemm.cu", "nkc_load_b")) || names(out, marked("sgemm.cu", "nkc_load_a"))));
}
#endif

#if GESSO_SIMT_TEST_SANITIZE_UNDEFINED
TEST_CASE("bug: s[threadIdx.x + 1] past a static shared array is a UBSan out-of-bounds report") {
  const std::string out = run_child("shift_left_static_shared");
  CAPTURE(out);
  CHECK(names(out, marked("shared_memory.cu", "shift_read")));
  CHECK(out.find("runtime error: index 32 out of bounds for type 'float [32]'") != std::string::npos);
}
#endif

// ---- runtime features -------------------------------------------------------------------

TEST_CASE("shuffles read the source lanes CUDA defines, for every width") {
  struct Case {
    WarpTest test;
    std::vector<int> args;
  };
  const std::vector<Case> cases = {{WarpTest::shfl, {0, 5, 31, 37, -1}},
                                   {WarpTest::shfl_up, {0, 1, 3, 16, 31, 40}},
                                   {WarpTest::shfl_down, {0, 1, 3, 16, 31, 40}},
                                   {WarpTest::shfl_xor, {1, 3, 16, 31}},
                                   {WarpTest::shfl_double, {2, 30}}};
  for (int threads : {32, 64})
    for (int width : {32, 16, 8, 1})
      for (const Case& c : cases)
        for (int arg : c.args) {
          CAPTURE(threads);
          CAPTURE(width);
          CAPTURE(int(c.test));
          CAPTURE(arg);
          std::vector<long long> out(threads, -1);
          warp_exchange(c.test, out.data(), threads, arg, width);
          for (int tid = 0; tid < threads; ++tid) {
            // The lanes are split into segments of `width`; a source outside
            // the caller's segment (xor: a later segment) reads its own value.
            const int lane = tid % 32, base = tid - lane, first = lane / width * width, pos = lane % width;
            int src = lane;
            switch (c.test) {
              case WarpTest::shfl:
              case WarpTest::shfl_double: src = first + ((arg % width) + width) % width; break;
              case WarpTest::shfl_up: src = pos - arg >= 0 ? lane - arg : lane; break;
              case WarpTest::shfl_down: src = pos + arg < width ? lane + arg : lane; break;
              case WarpTest::shfl_xor: src = (lane ^ arg) < first + width ? (lane ^ arg) : lane; break;
              default: break;
            }
            CAPTURE(tid);
            CHECK(out[tid] == 100 * (base + src) + 7);
          }
        }
  // A few by hand: down 16 from lane 3 reads lane 19; xor 16 within 16-lane
  // segments would reach a later segment, so lane 3 keeps its own value.
  std::vector<long long> out(32);
  warp_exchange(WarpTest::shfl_down, out.data(), 32, 16, 32);
  CHECK(out[3] == 1907);
  CHECK(out[20] == 2007);
  warp_exchange(WarpTest::shfl_xor, out.data(), 32, 16, 16);
  CHECK(out[3] == 307);
  warp_exchange(WarpTest::shfl_up, out.data(), 32, 1, 8);
  CHECK(out[8] == 807);
  CHECK(out[9] == 807);
}

TEST_CASE("votes: ballot, any and all over each warp") {
  const int threads = 64;
  std::vector<long long> out(threads);
  warp_exchange(WarpTest::ballot, out.data(), threads, 0, 32);
  for (int tid = 0; tid < threads; ++tid) {
    unsigned want = 0;
    for (int l = 0; l < 32; ++l)
      if ((tid / 32 * 32 + l) % 3 == 0) want |= 1u << l;
    CHECK(out[tid] == want);
  }
  warp_exchange(WarpTest::any, out.data(), threads, 40, 32);  // only thread 40 votes yes
  for (int tid = 0; tid < threads; ++tid) CHECK(out[tid] == (tid >= 32 ? 1 : 0));
  warp_exchange(WarpTest::all, out.data(), threads, 5, 32);  // only thread 5 votes no
  for (int tid = 0; tid < threads; ++tid) CHECK(out[tid] == (tid >= 32 ? 1 : 0));
}

TEST_CASE("__syncthreads_count, _and and _or reduce over the whole block") {
  const int threads = 96;
  std::vector<int> out(9 * threads, -1);
  barrier_votes(out.data(), threads);
  const int want[9] = {32, 0, 1, threads, 1, 1, 0, 0, 0};
  for (int tid = 0; tid < threads; ++tid)
    for (int k = 0; k < 9; ++k) {
      CAPTURE(tid);
      CAPTURE(k);
      CHECK(out[9 * tid + k] == want[k]);
    }
}

TEST_CASE("atomics from many blocks on several workers lose no update") {
  RuntimeSettings settings({simt::Order::random, 3}, 3);
  const int blocks = 64, threads = 64, total = blocks * threads;
  int counters[3] = {0, -1, 0};
  float sum = 0.0f;
  double dsum = 0.0;
  atomics(counters, &sum, &dsum, blocks, threads);
  CHECK(counters[0] == total);
  CHECK(counters[1] == total - 1);
  CHECK(counters[2] == total);
  CHECK(sum == 0.5f * total);  // exact: every partial sum is a multiple of 0.5 below 2^24
  CHECK(dsum == 0.25 * total);
}

TEST_CASE("threadIdx, blockIdx, blockDim and gridDim in a 3-d launch") {
  const unsigned gx = 3, gy = 2, gz = 2, bx = 4, by = 3, bz = 2, per_block = bx * by * bz;
  std::vector<uint64_t> out(gx * gy * gz * per_block, ~0ull);
  coordinates(out.data(), gx, gy, gz, bx, by, bz);
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned block = unsigned(i / per_block), thread = unsigned(i % per_block);
    const uint64_t want = uint64_t(thread % bx) | uint64_t(thread / bx % by) << 8 | uint64_t(thread / (bx * by)) << 16 |
                          uint64_t(block % gx) << 24 | uint64_t(block / gx % gy) << 32 |
                          uint64_t(block / (gx * gy)) << 40 | uint64_t(gx) << 48 | uint64_t(bx) << 56;
    CAPTURE(i);
    CHECK(out[i] == want);
  }
}

TEST_CASE("kernel parameters are copied for each thread, as a launch copies them") {
  std::vector<int> out(40, 0);
  Params p{1000, 2.5f};
  params_by_value(out.data(), p, 40);
  for (int t = 0; t < 40; ++t) CHECK(out[t] == 1000 + t + 2);
  CHECK(p.base == 1000);
}

TEST_CASE("misuse stops the launch with an error naming the line and the thread") {
  SUBCASE("threads waiting at two different barriers") {
    std::vector<float> out(32);
    const std::string err = error_of([&] { barriers_at_two_sites(out.data()); });
    CAPTURE(err);
    CHECK(err.find("threads of block (0,0,0) wait at different barriers") != std::string::npos);
    CHECK(err.find("16 threads at __syncthreads (" + marked("runtime_kernels.cu", "two_a") +
                   "), the first being thread (0,0,0)") != std::string::npos);
    CHECK(err.find("16 threads at __syncthreads (" + marked("runtime_kernels.cu", "two_b") +
                   "), the first being thread (16,0,0)") != std::string::npos);
  }
  SUBCASE("a mask that leaves out the calling lane") {
    std::vector<int> out(32);
    const std::string err = error_of([&] { mask_without_own_lane(out.data()); });
    CAPTURE(err);
    CHECK(err.find("__shfl_sync at " + marked("runtime_kernels.cu", "own_lane") +
                   ": thread (1,0,0) of block (0,0,0) passes mask 0x00000001, which does not include its own "
                   "lane 1") != std::string::npos);
  }
  SUBCASE("a full mask after half the warp returned") {
    std::vector<int> out(32);
    const std::string err = error_of([&] { exited_lanes_in_mask(out.data()); });
    CAPTURE(err);
    CHECK(err.find("deadlock in block (0,0,0): no thread can run (16 wait, 16 exited)") != std::string::npos);
    CHECK(err.find("warp 0 lanes 0-15 (thread (0,0,0) and on) wait at __shfl_sync (" +
                   marked("runtime_kernels.cu", "exited_shfl") + ")") != std::string::npos);
    CHECK(err.find("warp 0 lanes 16-31 (thread (16,0,0) and on) have exited") != std::string::npos);
  }
  SUBCASE("__trap()") {
    std::vector<int> out(32);
    const std::string err = error_of([&] { trap_in_thread_5(out.data()); });
    CAPTURE(err);
    CHECK(err.find("__trap() at " + marked("runtime_kernels.cu", "trap") + " in thread (5,0,0) of block (0,0,0)") !=
          std::string::npos);
  }
  SUBCASE("more than 1024 threads per block") {
    const std::string err = error_of([&] { too_many_threads(); });
    CAPTURE(err);
    CHECK(err.find("simt: kernel empty_kernel launched at tests/simt/runtime_kernels.cu:") == 0);
    CHECK(err.find("invalid configuration: a block holds 1 to 1024 threads (x, y <= 1024, z <= 64), got 1025") !=
          std::string::npos);
  }
}

TEST_CASE("the launch after a failed one runs normally") {
  // A failed block unwinds its suspended threads; the fibers are reused next.
  for (int round = 0; round < 3; ++round) {
    std::vector<float> x = pseudo_random(64, 8);
    float out = 0.0f;
    CHECK(!error_of([&] { warp_sum_divergent(x.data(), &out, 64); }).empty());
    std::vector<float> A = pseudo_random(size_t(kM) * kK, 1), B = pseudo_random(size_t(kK) * kN, 2);
    std::vector<float> C(size_t(kM) * kN);
    CHECK(!error_of([&] { sgemm(Sgemm::early_return, A.data(), B.data(), C.data(), kM, kN, kK); }).empty());
    sgemm(Sgemm::tiled, A.data(), B.data(), C.data(), kM, kN, kK);
    const std::vector<double> want = gemm_reference(A, B, kM, kN, kK);
    int bad = 0;
    for (size_t i = 0; i < C.size(); ++i) bad += !(std::fabs(C[i] - want[i]) <= 1e-4 + 1e-5 * std::fabs(want[i]));
    CHECK(bad == 0);
  }
}

TEST_CASE("dynamic shared memory above 48 KiB needs cudaFuncSetAttribute's opt-in") {
  float out = 0.0f;
  const size_t bytes = 64 * 1024;
  const std::string err = error_of([&] { big_dynamic_shared(bytes, /*opt_in=*/false, &out); });
  CAPTURE(err);
  CHECK(err.find("asks for 65536 bytes of dynamic shared memory; the limit is 49152") != std::string::npos);
  big_dynamic_shared(bytes, /*opt_in=*/true, &out);
  CHECK(out == float(bytes));
}

TEST_CASE("GESSO_SIMT_SCHEDULE and GESSO_SIMT_WORKERS set the schedule and worker count") {
  std::string out = run_child("sgemm_tiled", "GESSO_SIMT_SCHEDULE=random:7 GESSO_SIMT_WORKERS=3");
  CAPTURE(out);
  CHECK(out.find("result: correct") != std::string::npos);
  CHECK(out.find("schedule random:7, 3 workers") != std::string::npos);
  out = run_child("sgemm_tiled", "GESSO_SIMT_SCHEDULE=backwards");
  CHECK(out.find("GESSO_SIMT_SCHEDULE: expected forward, reverse or random:SEED (SEED a decimal number); got "
                 "'backwards'") != std::string::npos);
}

TEST_CASE("schedules are read from text, and bad text is refused") {
  CHECK(simt::parse_schedule("forward").order == simt::Order::forward);
  CHECK(simt::parse_schedule("reverse").order == simt::Order::reverse);
  simt::Schedule r = simt::parse_schedule("random:42");
  CHECK(r.order == simt::Order::random);
  CHECK(r.seed == 42);
  CHECK(simt::schedule_name(r) == "random:42");
  for (const char* bad : {"random", "random:", "random:x1", "backward", ""})
    CHECK_THROWS_WITH_AS(simt::parse_schedule(bad),
                         doctest::Contains("GESSO_SIMT_SCHEDULE: expected forward, reverse or random:SEED"),
                         gesso::Error);
  CHECK_THROWS_WITH_AS(simt::set_workers(0), doctest::Contains("n must be at least 1, got 0"), gesso::Error);
}
