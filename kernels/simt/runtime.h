/*
 * runtime.h: the SIMT runtime, which runs CUDA kernels compiled by g++ as
 * plain C++ on the CPU (docs/SIMT.md is the reader's guide).
 *
 * How a launch runs:
 *   - every CUDA thread is a fiber with its own mmap'd stack (guard page
 *     below it); a fiber gives up the CPU only at __syncthreads, at a warp
 *     collective (__syncwarp, __shfl_*_sync, votes) and when it returns;
 *   - all fibers of a block run on one OS thread, so `__shared__` can be
 *     `static thread_local`; blocks are spread over a few worker OS threads
 *     (the launching thread is one of them);
 *   - a barrier releases when every live thread of the block waits at the
 *     same call site; a warp collective completes when every lane named in
 *     its mask waits at the same call site, and the exchange then happens at
 *     once, as on a GPU;
 *   - whatever is undefined on a GPU (a barrier some threads exited before,
 *     barriers at different call sites, a shuffle reading a lane that does not
 *     exist, a deadlock) stops the launch with a gesso::Error naming the
 *     file:line and the thread;
 *   - under ThreadSanitizer every fiber is a TSan fiber and barriers and
 *     collectives are release/acquire points, so unsynchronised accesses
 *     between CUDA threads are reported; under AddressSanitizer the fiber
 *     stacks are announced, so out-of-bounds accesses are reported.
 *
 * This header holds the host API (schedule, workers, launch) and the entry
 * points that kernels/simt/simt.h maps the CUDA intrinsics onto. Kernel code
 * never calls these by name: it writes CUDA (see kernels/cuda/launch.h).
 */
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- the CUDA vocabulary types the runtime's API is written in (global
// namespace, as in CUDA). Constant-initialised so that the thread_local
// copies below need no initialisation guard.
struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

struct CUstream_st;
typedef CUstream_st* cudaStream_t;  // opaque; launches under SIMT are synchronous

// The running CUDA thread's coordinates. The runtime rewrites them on every
// switch between fibers (all fibers of a block share one OS thread), so a
// kernel reads its own, and in gdb `p threadIdx` shows the stopped thread's.
inline thread_local uint3 threadIdx = {0, 0, 0};
inline thread_local uint3 blockIdx = {0, 0, 0};
inline thread_local dim3 blockDim = dim3(1, 1, 1);
inline thread_local dim3 gridDim = dim3(1, 1, 1);

namespace gesso::simt {

// ---- host API ---------------------------------------------------------------

// The order in which the runtime resumes runnable threads of a block. Correct
// kernels give the same result (up to float atomics) under every order.
enum class Order { forward, reverse, random };

struct Schedule {
  Order order = Order::forward;
  uint64_t seed = 0;  // random only: same seed, same interleaving
};

// Parses "forward", "reverse" or "random:SEED"; throws gesso::Error otherwise.
Schedule parse_schedule(const std::string& text);
std::string schedule_name(const Schedule& s);

// The schedule of later launches. Starts from GESSO_SIMT_SCHEDULE
// (default forward). Returns the previous one.
Schedule set_schedule(const Schedule& s);
Schedule current_schedule();

// Worker OS threads that run blocks, the launching thread included. Starts
// from GESSO_SIMT_WORKERS, default min(4, hardware threads). With 1, every
// block runs on the launching thread: the easiest setting for gdb.
// Returns the previous count.
int set_workers(int n);
int workers();

// Bytes of stack per CUDA thread (GESSO_SIMT_STACK_KB, default 256 KiB).
size_t stack_bytes();

// Which context switch this build uses ("x86-64 assembly" or "swapcontext").
const char* context_implementation();

// Where a kernel was launched from, for error messages.
struct LaunchSite {
  const char* kernel;
  const char* file;
  int line;
};

// Opt-in to more than 48 KiB of dynamic shared memory, as
// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n)
// does on a GPU.
void set_max_dynamic_shared_bytes(const void* kernel, size_t bytes);

// A type-erased kernel call: body(closure) runs the kernel once for the
// current CUDA thread.
struct KernelCall {
  void (*body)(const void* closure);
  const void* closure;
  const void* kernel;  // identity, for the shared memory opt-in
};

// Runs a whole grid and returns when every block is done. Throws
// gesso::Error for a bad configuration or a kernel that broke a rule.
void run_grid(const LaunchSite& site, dim3 grid, dim3 block, size_t dynamic_shared_bytes, const KernelCall& call);

// What GESSO_LAUNCH expands to under SIMT: launcher(...)(args...). The
// arguments are converted to the kernel's parameter types and copied once, as
// a real launch copies them into parameter memory; every CUDA thread then
// gets its own copy when the kernel is called.
template <class... Params>
class Launcher {
 public:
  Launcher(const LaunchSite& site, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem)
      : site_(site), kernel_(kernel), grid_(grid), block_(block), smem_(smem) {}

  template <class... Args>
  void operator()(Args&&... args) const {
    static_assert(sizeof...(Args) == sizeof...(Params), "GESSO_LAUNCH: wrong number of kernel arguments");
    static_assert((!std::is_reference_v<Params> && ...),
                  "a __global__ function takes its parameters by value (a reference would point at host memory)");
    Closure closure{kernel_, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
    run_grid(site_, grid_, block_, smem_,
             KernelCall{&invoke, &closure, reinterpret_cast<const void*>(kernel_)});
  }

 private:
  struct Closure {
    void (*kernel)(Params...);
    std::tuple<std::decay_t<Params>...> params;
  };
  // Calls the kernel with copies of the parameters (one frame, not
  // std::apply's five, so backtraces in gdb and sanitizer reports stay short).
  static void invoke(const void* p) { call(*static_cast<const Closure*>(p), std::index_sequence_for<Params...>{}); }
  template <size_t... I>
  static void call(const Closure& c, std::index_sequence<I...>) {
    c.kernel(std::get<I>(c.params)...);
  }

  LaunchSite site_;
  void (*kernel_)(Params...);
  dim3 grid_, block_;
  size_t smem_;
};

template <class... Params>
Launcher<Params...> launcher(const LaunchSite& site, void (*kernel)(Params...), dim3 grid, dim3 block,
                             size_t smem, cudaStream_t /*stream: launches are synchronous*/) {
  return Launcher<Params...>(site, kernel, grid, block, smem);
}

// ---- device side: what simt.h maps the CUDA intrinsics onto -------------------
// Each takes the call site, because that is how barriers and collectives are
// matched and how errors name the line.

struct CallSite {
  const char* file;
  int line;
};

enum class BarrierOp : uint8_t { sync, count, all, any };  // __syncthreads{,_count,_and,_or}
enum class WarpOp : uint8_t { syncwarp, shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all };

// Blocks until every live thread of the block arrives at the same call site;
// returns the reduced predicate for count/all/any.
int block_barrier(CallSite site, BarrierOp op, int predicate);

// Blocks until every lane in `mask` arrives at the same call site, then
// returns this lane's result: the 8-byte value read from the source lane
// (shuffles), the ballot, or the vote.
uint64_t warp_collective(CallSite site, WarpOp op, unsigned mask, uint64_t value, int arg, int width);

// The block's dynamic shared memory, exactly as many bytes as the launch
// asked for, filled with 0xFF bytes (NaN as float or double) at block start.
void* dynamic_shared_memory();

// Stops the launch with an error naming the thread (used by __trap()).
[[noreturn]] void trap(CallSite site, const char* what);

}  // namespace gesso::simt
