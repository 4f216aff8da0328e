/*
 * runtime.cpp: the SIMT runtime's scheduler (see runtime.h and docs/SIMT.md).
 *
 * Pieces, top to bottom:
 *   Config     schedule, worker count, stack size (environment, then API)
 *   Fiber      one CUDA thread: a context, a stack, what it waits for
 *   Worker     one OS thread's scheduler: its home context and fiber pool
 *   Block      the state of one running block: counts, shared memory, error
 *   run_block  the loop: resume runnable fibers in schedule order until all
 *              wait; then release a barrier, or report what went wrong
 *   Pool       the worker threads; blocks are handed out by an atomic counter
 *
 * Sanitizers. The runtime finds AddressSanitizer and ThreadSanitizer by
 * their interface functions (declared weak below), so one source serves
 * every build:
 *   - ASan: every switch is announced with __sanitizer_{start,finish}_switch_fiber
 *     so that ASan knows which stack is live (and exceptions unwinding a fiber
 *     unpoison the right one);
 *   - TSan: every fiber is a TSan fiber, switched to without synchronisation;
 *     the happens-before edges are exactly the GPU's: block start, each
 *     barrier, each warp collective (between its participants only) and block
 *     end. This file itself must be compiled without -fsanitize=thread
 *     (cmake/simt.cmake does it): its bookkeeping is shared by all fibers of
 *     a block on purpose, ordered by the scheduler, which TSan cannot see.
 */
#include "kernels/simt/runtime.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kernels/simt/context.h"
#include "tensor/error.h"

#if defined(__SANITIZE_THREAD__)
#error "compile kernels/simt/runtime.cpp with -fno-sanitize=thread (cmake/simt.cmake does): see the file comment"
#endif

extern "C" {
__attribute__((weak)) void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
__attribute__((weak)) void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                           size_t* size_old);
__attribute__((weak)) void* __tsan_get_current_fiber();
__attribute__((weak)) void* __tsan_create_fiber(unsigned flags);
__attribute__((weak)) void __tsan_destroy_fiber(void* fiber);
__attribute__((weak)) void __tsan_switch_to_fiber(void* fiber, unsigned flags);
__attribute__((weak)) void __tsan_set_fiber_name(void* fiber, const char* name);
__attribute__((weak)) void __tsan_acquire(void* addr);
__attribute__((weak)) void __tsan_release(void* addr);
}

namespace gesso::simt {
namespace {

constexpr int kWarpSize = 32;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultSharedLimit = 48 * 1024;     // without an opt-in, as on every GPU
constexpr size_t kMaxSharedOptIn = 227 * 1024;        // sm_90's opt-in limit (sm_80: 163 KiB)
constexpr unsigned kTsanNoSync = 1;                   // __tsan_switch_to_fiber_no_sync

// Whether the program was linked with ASan / TSan (read once: they are
// asked on every switch).
const bool g_have_asan = __sanitizer_start_switch_fiber != nullptr;
const bool g_have_tsan = __tsan_switch_to_fiber != nullptr;
inline bool have_asan() { return g_have_asan; }
inline bool have_tsan() { return g_have_tsan; }

// ---- configuration ----------------------------------------------------------

struct Config {
  std::mutex mu;
  Schedule schedule;
  std::string schedule_env_error;  // a bad GESSO_SIMT_SCHEDULE fails the first launch
  int workers = 1;
  size_t stack_bytes = 256 * 1024;
  std::unordered_map<const void*, size_t> shared_opt_in;
};

Config& config() {
  static Config* c = [] {
    auto* cfg = new Config();
    if (const char* s = std::getenv("GESSO_SIMT_SCHEDULE")) {
      try {
        cfg->schedule = parse_schedule(s);
      } catch (const Error& e) {
        cfg->schedule_env_error = e.what();
      }
    }
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    cfg->workers = int(std::min(4u, hw));
    if (const char* s = std::getenv("GESSO_SIMT_WORKERS")) cfg->workers = std::max(1, std::atoi(s));
    if (const char* s = std::getenv("GESSO_SIMT_STACK_KB")) cfg->stack_bytes = size_t(std::max(16, std::atoi(s))) * 1024;
    return cfg;
  }();
  return *c;
}

// ---- fibers, workers, blocks --------------------------------------------------

enum class State : uint8_t { runnable, at_barrier, at_collective, exited };

struct Fiber {
  Context ctx;
  char* stack_lo = nullptr;  // lowest usable byte; the guard page lies just below
  size_t stack_size = 0;
  void* tsan = nullptr;
  void* asan_fake_stack = nullptr;

  // The CUDA thread it runs in the current block.
  int tid = 0;  // linear index in the block: x + y*Dx + z*Dx*Dy (lane = tid % 32)
  uint3 idx{};
  State state = State::runnable;
  bool started = false;
  bool cancel = false;  // resumed only to unwind: the block has failed
  CallSite site{};
  BarrierOp barrier_op = BarrierOp::sync;
  WarpOp warp_op = WarpOp::syncwarp;
  unsigned mask = 0;
  int arg = 0, width = kWarpSize;
  uint64_t value = 0;   // this lane's contribution (shuffled bits or predicate)
  uint64_t result = 0;  // what the barrier or collective returns to it
};

struct Launch;

struct Block {
  const Launch* launch = nullptr;
  uint3 idx{};
  int nthreads = 0;
  Fiber** fibers = nullptr;
  void* shared = nullptr;
  int exited = 0, at_barrier = 0, runnable = 0;
  std::string error;  // the first rule broken in this block
};

struct Worker {
  Context home;  // the scheduler's own context on this OS thread
  std::vector<Fiber*> fibers;  // each lives at the top of its own stack mapping
  Fiber* current = nullptr;
  Block* block = nullptr;
  size_t page = 4096;
  const void* home_stack_bottom = nullptr;  // learnt from ASan on a fiber's first entry
  size_t home_stack_size = 0;
  void* home_fake_stack = nullptr;
  void* home_tsan = nullptr;
  char tsan_block_start = 0;  // released by the scheduler, acquired by each fiber at its start
  char tsan_block_end = 0;    // released by each fiber at its end, acquired by the scheduler
  void* alt_stack = nullptr;

  Worker();
  ~Worker();
  void grow(int n);
  static size_t fiber_bytes() { return (sizeof(Fiber) + 63) / 64 * 64; }
};

struct Cancelled {};  // thrown at a fiber's wait point to unwind it when its block has failed

// A rule broken by one CUDA thread, with the message already complete.
struct FiberError : Error {
  using Error::Error;
};

thread_local Worker* tl_worker = nullptr;
thread_local std::unique_ptr<Worker> tl_worker_owner;

Worker& this_worker() {
  if (!tl_worker) {
    tl_worker_owner = std::make_unique<Worker>();
    tl_worker = tl_worker_owner.get();
  }
  return *tl_worker;
}

// ---- stack overflow: a clear message instead of a bare SIGSEGV ----------------

struct sigaction g_previous_segv;
std::once_flag g_segv_once;

void on_segv(int sig, siginfo_t* info, void* ucontext) {
  Worker* w = tl_worker;
  if (w && w->current) {
    Fiber* f = w->current;
    char* addr = static_cast<char*>(info->si_addr);
    if (addr >= f->stack_lo - w->page && addr < f->stack_lo) {
      char msg[256];
      int len = std::snprintf(msg, sizeof msg,
                              "simt: stack overflow in thread (%u,%u,%u) of block (%u,%u,%u): its stack is %zu KiB "
                              "(raise GESSO_SIMT_STACK_KB)\n",
                              f->idx.x, f->idx.y, f->idx.z, blockIdx.x, blockIdx.y, blockIdx.z,
                              f->stack_size / 1024);
      if (len > 0) (void)!write(2, msg, size_t(std::min<int>(len, sizeof msg - 1)));
    }
  }
  // Hand the fault to whoever handled it before (default: die with a core).
  sigaction(SIGSEGV, &g_previous_segv, nullptr);
  (void)sig;
  (void)ucontext;
}

Worker::Worker() {
  page = size_t(sysconf(_SC_PAGESIZE));
  if (have_tsan()) home_tsan = __tsan_get_current_fiber();
  if (!have_asan() && !have_tsan()) {
    // The handler runs on an alternate stack: the fiber's own has overflowed.
    stack_t current;
    if (sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE)) {
      size_t size = 64 * 1024;
      alt_stack = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (alt_stack != MAP_FAILED) {
        stack_t ss{};
        ss.ss_sp = alt_stack;
        ss.ss_size = size;
        sigaltstack(&ss, nullptr);
      } else {
        alt_stack = nullptr;
      }
    }
    std::call_once(g_segv_once, [] {
      struct sigaction sa{};
      sa.sa_sigaction = &on_segv;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset(&sa.sa_mask);
      sigaction(SIGSEGV, &sa, &g_previous_segv);
    });
  }
}

Worker::~Worker() {
  for (Fiber* f : fibers) {
    if (f->tsan) __tsan_destroy_fiber(f->tsan);
    f->~Fiber();
    munmap(f->stack_lo - page, f->stack_size + page + fiber_bytes());
  }
  if (alt_stack) {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(alt_stack, 64 * 1024);
  }
}

// Fibers and their stacks are made once per OS thread and reused by every
// block and launch after: mmap per CUDA thread would cost more than the kernel.
void Worker::grow(int n) {
  size_t stack_size;
  {
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mu);
    stack_size = (c.stack_bytes + page - 1) / page * page;
  }
  // One mapping per CUDA thread: [guard page][stack ...][Fiber]. The Fiber
  // sits right above its stack, so that resuming a thread touches one page,
  // not two (there are hundreds of threads, and the TLB is small).
  while (int(fibers.size()) < n) {
    void* p = mmap(nullptr, page + stack_size + fiber_bytes(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    GESSO_CHECK(p != MAP_FAILED, "simt: cannot map a ", stack_size / 1024, " KiB stack for CUDA thread ",
                fibers.size());
    mprotect(p, page, PROT_NONE);  // guard page: an overflow faults instead of corrupting a neighbour
    char* stack_lo = static_cast<char*>(p) + page;
    Fiber* f = new (stack_lo + stack_size) Fiber();
    f->stack_lo = stack_lo;
    f->stack_size = stack_size;
    if (have_tsan()) f->tsan = __tsan_create_fiber(0);
    fibers.push_back(f);
  }
}

// ---- the launch -----------------------------------------------------------------

struct Launch {
  LaunchSite site{};
  dim3 grid, block;
  size_t shared_bytes = 0;
  KernelCall call{};
  Schedule schedule;
  long long nblocks = 0;
  int nthreads = 0;

  std::atomic<long long> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  long long error_block = LLONG_MAX;  // the lowest failing block is reported, whatever ran first
  std::string error;

  void fail(long long block, const std::string& message) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (block < error_block) {
      error_block = block;
      error = message;
    }
    failed.store(true, std::memory_order_relaxed);
  }
};

uint3 unlinearize(long long i, dim3 d) {
  uint3 r;
  r.x = unsigned(i % d.x);
  i /= d.x;
  r.y = unsigned(i % d.y);
  r.z = unsigned(i / d.y);
  return r;
}

std::string coords(uint3 v) { return str("(", v.x, ",", v.y, ",", v.z, ")"); }

std::string where(CallSite s) { return str(s.file, ":", s.line); }

bool same_site(CallSite a, CallSite b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

const char* barrier_name(BarrierOp op) {
  switch (op) {
    case BarrierOp::sync: return "__syncthreads";
    case BarrierOp::count: return "__syncthreads_count";
    case BarrierOp::all: return "__syncthreads_and";
    case BarrierOp::any: return "__syncthreads_or";
  }
  return "?";
}

const char* warp_name(WarpOp op) {
  switch (op) {
    case WarpOp::syncwarp: return "__syncwarp";
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::all: return "__all_sync";
  }
  return "?";
}

bool is_shuffle(WarpOp op) {
  return op == WarpOp::shfl || op == WarpOp::shfl_up || op == WarpOp::shfl_down || op == WarpOp::shfl_xor;
}

std::string hex(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

std::string thread_name(const Block& b, const Fiber& f) {
  return str("thread ", coords(f.idx), " of block ", coords(b.idx));
}

// "0-15" or "3" or "0-3, 8-11": the set bits of a lane mask.
std::string lane_ranges(unsigned m) {
  std::string out;
  for (int l = 0; l < kWarpSize;) {
    if (!(m >> l & 1u)) {
      ++l;
      continue;
    }
    int e = l;
    while (e + 1 < kWarpSize && (m >> (e + 1) & 1u)) ++e;
    out += str(out.empty() ? "" : ", ", l, e > l ? str("-", e) : std::string());
    l = e + 1;
  }
  return out;
}

// ---- switching, with the sanitizers told ---------------------------------------

void switch_to_fiber(Worker& w, Fiber& f) {
  if (have_asan()) __sanitizer_start_switch_fiber(&w.home_fake_stack, f.stack_lo, f.stack_size);
  if (have_tsan()) __tsan_switch_to_fiber(f.tsan, kTsanNoSync);
  context_switch(&w.home, &f.ctx);
  if (have_asan()) __sanitizer_finish_switch_fiber(w.home_fake_stack, nullptr, nullptr);
}

void switch_to_home(Worker& w, Fiber& f, bool exiting) {
  if (have_asan())
    __sanitizer_start_switch_fiber(exiting ? nullptr : &f.asan_fake_stack, w.home_stack_bottom, w.home_stack_size);
  if (have_tsan()) __tsan_switch_to_fiber(w.home_tsan, kTsanNoSync);
  context_switch(&f.ctx, &w.home);
  if (have_asan()) __sanitizer_finish_switch_fiber(f.asan_fake_stack, &w.home_stack_bottom, &w.home_stack_size);
}

// Makes everything each member did before this point visible to every member
// after it, and nothing to anyone else: a barrier or one warp collective. The
// scheduler borrows each member's TSan identity in turn (no code of the fiber
// runs), so the edges exist before any member is resumed. A fresh sync
// address per instance keeps instances apart (freeing it resets its clock).
void tsan_sync(Worker& w, Fiber* const* members, int count) {
  if (!have_tsan()) return;
  std::unique_ptr<char> point(new char);
  for (int i = 0; i < count; ++i) {
    __tsan_switch_to_fiber(members[i]->tsan, kTsanNoSync);
    __tsan_release(point.get());
  }
  for (int i = 0; i < count; ++i) {
    __tsan_switch_to_fiber(members[i]->tsan, kTsanNoSync);
    __tsan_acquire(point.get());
  }
  __tsan_switch_to_fiber(w.home_tsan, kTsanNoSync);
}

// Runs the kernel body for one CUDA thread; what escapes it becomes the
// block's error.
void run_body(Worker& w, Fiber& f) {
  Block& b = *w.block;
  try {
    b.launch->call.body(b.launch->call.closure);
  } catch (const Cancelled&) {
  } catch (const FiberError& e) {
    if (b.error.empty()) b.error = e.what();
  } catch (const std::exception& e) {
    if (b.error.empty()) b.error = str(thread_name(b, f), " threw an exception: ", e.what());
  } catch (...) {
    if (b.error.empty()) b.error = str(thread_name(b, f), " threw an exception that is not a std::exception");
  }
}

void fiber_main(void* arg) {
  Fiber& f = *static_cast<Fiber*>(arg);
  Worker& w = *tl_worker;
  if (have_asan()) __sanitizer_finish_switch_fiber(nullptr, &w.home_stack_bottom, &w.home_stack_size);
  if (have_tsan()) __tsan_acquire(&w.tsan_block_start);
  run_body(w, f);
  f.state = State::exited;
  if (have_tsan()) __tsan_release(&w.tsan_block_end);
  switch_to_home(w, f, /*exiting=*/true);
  std::abort();  // an exited fiber is never resumed
}

// The fiber side of every wait: record what it waits for, give the CPU back
// to the scheduler, and come back when released (or cancelled).
Fiber& current_fiber(const char* what, CallSite site) {
  Worker* w = tl_worker;
  if (!w || !w->current)
    throw Error(str(what, " at ", where(site), " called outside a kernel launched with GESSO_LAUNCH"));
  return *w->current;
}

void wait_here(Fiber& f) {
  switch_to_home(*tl_worker, f, /*exiting=*/false);
  if (f.cancel) throw Cancelled{};
}

// ---- completing barriers and collectives ---------------------------------------

// Called by the scheduler after lane f arrived at a collective: completes it
// if every lane named in the mask now waits at the same call site.
void try_complete_collective(Worker& w, Block& b, Fiber& f) {
  const int warp = f.tid / kWarpSize, base = warp * kWarpSize;
  const int lanes = std::min(kWarpSize, b.nthreads - base);
  const unsigned existing = lanes == kWarpSize ? ~0u : ((1u << lanes) - 1);
  const unsigned named = f.mask & existing;  // lanes past the block's end are not waited for
  for (unsigned m = named; m; m &= m - 1) {
    Fiber& g = *b.fibers[base + __builtin_ctz(m)];
    if (g.state != State::at_collective || !same_site(g.site, f.site)) return;
  }
  Fiber* members[kWarpSize] = {};
  int count = 0;
  for (unsigned m = named; m; m &= m - 1) {
    Fiber& g = *b.fibers[base + __builtin_ctz(m)];
    if (g.mask != f.mask || g.warp_op != f.warp_op || g.width != f.width) {
      b.error = str(warp_name(f.warp_op), " at ", where(f.site), ": lanes of warp ", warp, " of block ",
                    coords(b.idx), " disagree: lane ", f.tid - base, " passes mask ", hex(f.mask), " width ",
                    f.width, ", lane ", g.tid - base, " passes mask ", hex(g.mask), " width ", g.width);
      return;
    }
    members[count++] = &g;
  }
  uint64_t vote = 0;
  if (f.warp_op == WarpOp::ballot || f.warp_op == WarpOp::any || f.warp_op == WarpOp::all) {
    unsigned ballot = 0;
    for (int i = 0; i < count; ++i)
      if (members[i]->value) ballot |= 1u << (members[i]->tid - base);
    vote = f.warp_op == WarpOp::ballot ? ballot : f.warp_op == WarpOp::any ? ballot != 0 : ballot == named;
  }
  for (int i = 0; i < count; ++i) {
    Fiber& g = *members[i];
    const int lane = g.tid - base;
    if (!is_shuffle(g.warp_op)) {
      g.result = vote;
      continue;
    }
    // Source lanes as the CUDA programming guide defines them, within
    // segments of `width` lanes; a source outside the segment reads back the
    // caller's own value.
    const int seg = lane & ~(g.width - 1), in_seg = lane & (g.width - 1);
    int src = lane;
    switch (g.warp_op) {
      case WarpOp::shfl: src = seg + (g.arg & (g.width - 1)); break;
      case WarpOp::shfl_up: src = unsigned(g.arg) <= unsigned(in_seg) ? lane - g.arg : lane; break;
      case WarpOp::shfl_down: src = unsigned(g.arg) < unsigned(g.width - in_seg) ? lane + g.arg : lane; break;
      case WarpOp::shfl_xor: {
        unsigned s = unsigned(lane) ^ unsigned(g.arg);
        src = s < unsigned(seg + g.width) ? int(s) : lane;
        break;
      }
      default: break;
    }
    if (src >= lanes) {
      b.error = str(warp_name(g.warp_op), " at ", where(g.site), ": ", thread_name(b, g), " (lane ", lane,
                    " of warp ", warp, ") reads lane ", src, " which does not exist: the block has ",
                    b.nthreads, " threads, so warp ", warp, " has lanes 0-", lanes - 1,
                    " (keep blockDim a multiple of 32 where full masks are used)");
      return;
    }
    if (!(g.mask >> src & 1u)) {
      b.error = str(warp_name(g.warp_op), " at ", where(g.site), ": ", thread_name(b, g), " (lane ", lane,
                    " of warp ", warp, ") reads lane ", src, " which is not in the mask ", hex(g.mask),
                    ": its value is undefined on a GPU");
      return;
    }
    g.result = b.fibers[base + src]->value;
  }
  tsan_sync(w, members, count);
  for (int i = 0; i < count; ++i) members[i]->state = State::runnable;
  b.runnable += count;
}

// Called by the scheduler when no thread can run and every live thread waits
// at a barrier: release it, or say why it cannot be released.
void release_barrier(Worker& w, Block& b) {
  Fiber* first_waiting = nullptr;
  Fiber* first_exited = nullptr;
  bool same = true;
  for (int i = 0; i < b.nthreads; ++i) {
    Fiber& f = *b.fibers[i];
    if (f.state == State::exited && !first_exited) first_exited = &f;
    if (f.state != State::at_barrier) continue;
    if (!first_waiting) first_waiting = &f;
    else if (!same_site(f.site, first_waiting->site) || f.barrier_op != first_waiting->barrier_op) same = false;
  }
  if (!same) {
    // Group the waiting threads by call site, in order of first appearance.
    std::vector<std::pair<Fiber*, int>> groups;
    for (int i = 0; i < b.nthreads; ++i) {
      Fiber& f = *b.fibers[i];
      if (f.state != State::at_barrier) continue;
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](auto& g) { return same_site(g.first->site, f.site) && g.first->barrier_op == f.barrier_op; });
      if (it == groups.end()) groups.push_back({&f, 1});
      else ++it->second;
    }
    std::string msg = str("threads of block ", coords(b.idx), " wait at different barriers, which never meet:");
    for (auto& g : groups)
      msg += str("\n  ", g.second, " threads at ", barrier_name(g.first->barrier_op), " (", where(g.first->site),
                 "), the first being thread ", coords(g.first->idx));
    b.error = msg;
    return;
  }
  if (b.exited > 0) {
    b.error = str(barrier_name(first_waiting->barrier_op), " at ", where(first_waiting->site), " in block ",
                  coords(b.idx), " cannot complete: ", b.at_barrier, " threads arrived and ", b.exited,
                  " exited without reaching it (thread ", coords(first_exited->idx), " exited; thread ",
                  coords(first_waiting->idx),
                  " waits there). Every thread of a block must reach every __syncthreads: no early return "
                  "before a barrier");
    return;
  }
  std::vector<Fiber*> members;
  members.reserve(size_t(b.nthreads));
  int count = 0;
  for (int i = 0; i < b.nthreads; ++i) {
    Fiber& f = *b.fibers[i];
    members.push_back(&f);
    if (f.value) ++count;
  }
  uint64_t result = 0;
  switch (first_waiting->barrier_op) {
    case BarrierOp::sync: break;
    case BarrierOp::count: result = uint64_t(count); break;
    case BarrierOp::all: result = count == b.nthreads; break;
    case BarrierOp::any: result = count > 0; break;
  }
  tsan_sync(w, members.data(), int(members.size()));
  for (Fiber* f : members) {
    f->result = result;
    f->state = State::runnable;
  }
  b.at_barrier = 0;
  b.runnable = b.nthreads;
}

// Nothing can run and no barrier can be released: say who waits where.
std::string deadlock_report(const Block& b) {
  std::string msg = str("deadlock in block ", coords(b.idx), ": no thread can run (", b.nthreads - b.exited,
                        " wait, ", b.exited, " exited). A collective completes when every lane of its mask "
                        "reaches the same call site; a barrier when every thread of the block does.");
  int lines = 0;
  const int nwarps = (b.nthreads + kWarpSize - 1) / kWarpSize;
  for (int warp = 0; warp < nwarps; ++warp) {
    const int base = warp * kWarpSize, lanes = std::min(kWarpSize, b.nthreads - base);
    // Lanes grouped by what they do: same state, call site, operation and mask.
    std::vector<bool> done(size_t(lanes), false);
    for (int l = 0; l < lanes; ++l) {
      if (done[size_t(l)]) continue;
      const Fiber& f = *b.fibers[base + l];
      unsigned group = 0;
      for (int k = l; k < lanes; ++k) {
        const Fiber& g = *b.fibers[base + k];
        bool alike = g.state == f.state &&
                     (f.state == State::exited ||
                      (same_site(g.site, f.site) &&
                       (f.state == State::at_barrier ? g.barrier_op == f.barrier_op
                                                     : g.warp_op == f.warp_op && g.mask == f.mask)));
        if (alike) {
          group |= 1u << k;
          done[size_t(k)] = true;
        }
      }
      if (++lines > 40) continue;
      msg += str("\n  warp ", warp, " lanes ", lane_ranges(group), " (thread ", coords(f.idx),
                 __builtin_popcount(group) > 1 ? " and on)" : ")");
      switch (f.state) {
        case State::exited: msg += " have exited"; break;
        case State::at_barrier: msg += str(" wait at ", barrier_name(f.barrier_op), " (", where(f.site), ")"); break;
        case State::at_collective:
          msg += str(" wait at ", warp_name(f.warp_op), " (", where(f.site), ") with mask ", hex(f.mask));
          break;
        case State::runnable: msg += " are runnable"; break;
      }
    }
  }
  if (lines > 40) msg += str("\n  ... and ", lines - 40, " more groups");
  return msg;
}

// ---- running a block --------------------------------------------------------------

void resume(Worker& w, Fiber& f) {
  w.current = &f;
  threadIdx = f.idx;
  f.started = true;
  switch_to_fiber(w, f);
  w.current = nullptr;
}

// Resumes every fiber still suspended with `cancel` set, so that each unwinds
// its stack (destructors run, sanitizers see the frames go) and exits.
void cancel_block(Worker& w, Block& b) {
  for (int i = 0; i < b.nthreads; ++i) {
    Fiber& f = *b.fibers[i];
    f.cancel = true;
    for (int attempt = 0; f.started && f.state != State::exited && attempt < 8; ++attempt) resume(w, f);
    f.state = State::exited;
  }
}

std::string run_block(Worker& w, const Launch& L, long long linear) {
  Block b;
  b.launch = &L;
  b.idx = unlinearize(linear, L.grid);
  b.nthreads = L.nthreads;
  w.grow(b.nthreads);
  b.fibers = w.fibers.data();

  for (int i = 0; i < b.nthreads; ++i) {
    Fiber& f = *b.fibers[i];
    f.tid = i;
    f.idx = unlinearize(i, L.block);
    f.state = State::runnable;
    f.started = false;
    f.cancel = false;
    f.value = f.result = 0;
    // Stacks start at different offsets within a page ("colouring"): with
    // every stack top at the same page offset, the hot top lines of all the
    // block's stacks would compete for the same few cache sets.
    const size_t colour = size_t(i * 37 % 64) * 64;
    context_make(&f.ctx, f.stack_lo, f.stack_size - colour, &fiber_main, &f);
    if (have_tsan()) {
      std::string name = str("simt thread ", coords(f.idx), " of block ", coords(b.idx));
      __tsan_set_fiber_name(f.tsan, name.c_str());
    }
  }
  blockIdx = b.idx;
  blockDim = L.block;
  gridDim = L.grid;
  // Exactly the requested size, so ASan sees an overflow; 0xFF bytes read as
  // NaN, so a read of memory no thread wrote shows up in the result.
  b.shared = std::malloc(L.shared_bytes);
  if (L.shared_bytes) std::memset(b.shared, 0xFF, L.shared_bytes);
  if (have_tsan()) __tsan_release(&w.tsan_block_start);
  w.block = &b;

  // Passes over the fibers in schedule order; each runnable fiber runs until
  // it waits or exits. When none can run, the barrier (if everyone is there)
  // releases them, or the block has broken a rule.
  std::vector<int> order(size_t(b.nthreads));
  for (int i = 0; i < b.nthreads; ++i) order[size_t(i)] = L.schedule.order == Order::reverse ? b.nthreads - 1 - i : i;
  std::mt19937_64 rng(L.schedule.seed * 0x9E3779B97F4A7C15ull + uint64_t(linear));
  b.runnable = b.nthreads;
  while (b.error.empty()) {
    while (b.runnable > 0 && b.error.empty()) {
      if (L.schedule.order == Order::random) std::shuffle(order.begin(), order.end(), rng);
      for (int i : order) {
        Fiber& f = *b.fibers[i];
        if (f.state != State::runnable) continue;
        --b.runnable;
        resume(w, f);
        switch (f.state) {
          case State::exited: ++b.exited; break;
          case State::at_barrier: ++b.at_barrier; break;
          case State::at_collective: try_complete_collective(w, b, f); break;
          case State::runnable: b.error = "simt internal error: a fiber yielded without waiting"; break;
        }
        if (!b.error.empty()) break;
      }
    }
    if (!b.error.empty()) break;
    const int live = b.nthreads - b.exited;
    if (live == 0) break;
    if (b.at_barrier == live) {
      release_barrier(w, b);
      continue;
    }
    b.error = deadlock_report(b);
  }

  if (!b.error.empty()) cancel_block(w, b);
  if (have_tsan()) __tsan_acquire(&w.tsan_block_end);
  std::free(b.shared);
  w.block = nullptr;
  return b.error;
}

void work(Launch& L) {
  Worker& w = this_worker();
  while (!L.failed.load(std::memory_order_relaxed)) {
    // Relaxed on purpose: handing out blocks must not order them for TSan.
    long long i = L.next_block.fetch_add(1, std::memory_order_relaxed);
    if (i >= L.nblocks) break;
    std::string error;
    try {
      error = run_block(w, L, i);
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) L.fail(i, error);
  }
}

// ---- the worker threads -------------------------------------------------------------

class Pool {
 public:
  // Runs L on `n` OS threads: the caller and n - 1 pool threads.
  void run(Launch& L, int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (int(threads_.size()) < n - 1) {
        int index = int(threads_.size());
        threads_.emplace_back([this, index] { thread_main(index); });
        threads_.back().detach();
      }
      job_ = &L;
      participants_ = n - 1;
      active_ = n - 1;
      ++generation_;
    }
    wake_.notify_all();
    work(L);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
  }

 private:
  void thread_main(int index) {
    uint64_t seen = 0;
    for (;;) {
      Launch* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (index >= participants_) continue;
        job = job_;
      }
      work(*job);
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_ == 0) done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  Launch* job_ = nullptr;
  int participants_ = 0, active_ = 0;
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: its threads sleep until the process ends
  return *p;
}

std::mutex& launch_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}

}  // namespace

// ---- public API -----------------------------------------------------------------------

Schedule parse_schedule(const std::string& text) {
  if (text == "forward") return Schedule{Order::forward, 0};
  if (text == "reverse") return Schedule{Order::reverse, 0};
  if (text.rfind("random:", 0) == 0 && text.size() > 7) {
    const std::string digits = text.substr(7);
    if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() <= 19)
      return Schedule{Order::random, std::stoull(digits)};
  }
  fail("GESSO_SIMT_SCHEDULE: expected forward, reverse or random:SEED (SEED a decimal number); got '", text, "'");
}

std::string schedule_name(const Schedule& s) {
  switch (s.order) {
    case Order::forward: return "forward";
    case Order::reverse: return "reverse";
    case Order::random: return str("random:", s.seed);
  }
  return "?";
}

Schedule set_schedule(const Schedule& s) {
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  Schedule old = c.schedule;
  c.schedule = s;
  c.schedule_env_error.clear();  // an explicit choice overrides a bad environment
  return old;
}

Schedule current_schedule() {
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  GESSO_CHECK(c.schedule_env_error.empty(), c.schedule_env_error);
  return c.schedule;
}

int set_workers(int n) {
  GESSO_CHECK(n >= 1, "simt::set_workers: n must be at least 1, got ", n);
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  int old = c.workers;
  c.workers = n;
  return old;
}

int workers() {
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.workers;
}

size_t stack_bytes() {
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stack_bytes;
}

void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes) {
  GESSO_CHECK(bytes <= kMaxSharedOptIn, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize): at most ",
              kMaxSharedOptIn, " bytes on any supported GPU, got ", bytes);
  Config& c = config();
  std::lock_guard<std::mutex> lock(c.mu);
  c.shared_opt_in[kernel] = bytes;
}

void run_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t shared_bytes, const KernelCall& call) {
  const std::string prefix = str("simt: kernel ", site.kernel, " launched at ", site.file, ":", site.line,
                                 " with grid ", coords(grid), " and block ", coords(block), ": ");
  GESSO_CHECK(!(tl_worker && tl_worker->current), prefix,
              "launched from inside a kernel; dynamic parallelism is not emulated");
  GESSO_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u && grid.y <= 65535 &&
                  grid.z <= 65535,
              prefix, "invalid configuration: grid dimensions must be in [1, 2^31-1] x [1, 65535] x [1, 65535]");
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  GESSO_CHECK(block.x >= 1 && block.y >= 1 && block.z >= 1 && block.x <= 1024 && block.y <= 1024 &&
                  block.z <= 64 && threads <= kMaxThreadsPerBlock,
              prefix, "invalid configuration: a block holds 1 to ", kMaxThreadsPerBlock,
              " threads (x, y <= 1024, z <= 64), got ", threads);
  size_t limit = kDefaultSharedLimit;
  {
    Config& c = config();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.shared_opt_in.find(call.kernel);
    if (it != c.shared_opt_in.end()) limit = std::max(limit, it->second);
  }
  GESSO_CHECK(shared_bytes <= limit, prefix, "asks for ", shared_bytes, " bytes of dynamic shared memory; the limit is ",
              limit, " (above 48 KiB a kernel must opt in with cudaFuncSetAttribute)");

  Launch L;
  L.site = site;
  L.grid = grid;
  L.block = block;
  L.shared_bytes = shared_bytes;
  L.call = call;
  L.schedule = current_schedule();
  L.nblocks = 1ll * grid.x * grid.y * grid.z;
  L.nthreads = int(threads);
  const int n = int(std::min<long long>(workers(), L.nblocks));

  std::lock_guard<std::mutex> lock(launch_mutex());
  if (n <= 1) work(L);
  else pool().run(L, n);
  if (L.failed.load())
    throw Error(str(prefix, L.error, " [schedule ", schedule_name(L.schedule), "]"));
}

int block_barrier(CallSite site, BarrierOp op, int predicate) {
  Fiber& f = current_fiber(barrier_name(op), site);
  f.state = State::at_barrier;
  f.site = site;
  f.barrier_op = op;
  f.value = predicate != 0;
  wait_here(f);
  return int(f.result);
}

uint64_t warp_collective(CallSite site, WarpOp op, unsigned mask, uint64_t value, int arg, int width) {
  Fiber& f = current_fiber(warp_name(op), site);
  const Block& b = *tl_worker->block;
  const int lane = f.tid % kWarpSize;
  if (!(mask >> lane & 1u))
    throw FiberError(str(warp_name(op), " at ", where(site), ": ", thread_name(b, f), " passes mask ", hex(mask),
                         ", which does not include its own lane ", lane));
  if (width < 1 || width > kWarpSize || (width & (width - 1)))
    throw FiberError(str(warp_name(op), " at ", where(site), ": ", thread_name(b, f), " passes width ", width,
                         "; it must be a power of 2 from 1 to 32"));
  f.state = State::at_collective;
  f.site = site;
  f.warp_op = op;
  f.mask = mask;
  f.value = value;
  f.arg = arg;
  f.width = width;
  wait_here(f);
  return f.result;
}

void* dynamic_shared_memory() {
  Worker* w = tl_worker;
  if (!w || !w->block) throw Error("GESSO_DYNAMIC_SHARED used outside a kernel launched with GESSO_LAUNCH");
  return w->block->shared;
}

void trap(CallSite site, const char* what) {
  Fiber& f = current_fiber(what, site);
  throw FiberError(str(what, " at ", where(site), " in ", thread_name(*tl_worker->block, f)));
}

}  // namespace gesso::simt
