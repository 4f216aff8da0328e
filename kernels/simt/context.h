/*
 * context.h: the smallest possible coroutine primitive for the SIMT runtime:
 * make a context that will start `entry(arg)` on a given stack, and switch
 * from one context to another.
 *
 * Two implementations (context.cpp):
 *   - x86-64 System V: 15 instructions of assembly that push the
 *     callee-saved registers on the old stack, swap stack pointers and pop
 *     the new set. Far faster than glibc's swapcontext, which also saves the
 *     signal mask with a system call and the whole FPU state on every switch.
 *   - swapcontext (ucontext.h): the portable fallback, chosen on other
 *     architectures or by compiling with -DGESSO_SIMT_UCONTEXT=1.
 */
#pragma once
#include <cstddef>

#if !defined(GESSO_SIMT_UCONTEXT)
#if defined(__x86_64__)
#define GESSO_SIMT_UCONTEXT 0
#else
#define GESSO_SIMT_UCONTEXT 1
#endif
#endif

#if GESSO_SIMT_UCONTEXT
#include <ucontext.h>
#endif

namespace gesso::simt {

struct Context {
#if GESSO_SIMT_UCONTEXT
  ucontext_t uc;
#else
  void* sp = nullptr;  // where the suspended context's registers were pushed
#endif
};

// Prepares `ctx` so that the first context_switch into it calls entry(arg) on
// the stack [stack_lo, stack_lo + stack_size). `entry` must never return: it
// ends by switching away for good.
void context_make(Context* ctx, void* stack_lo, size_t stack_size, void (*entry)(void*), void* arg);

// Saves the running context into `from` and resumes `to`. Returns when some
// other context switches back into `from`. Inline, so that a suspended CUDA
// thread's stack holds one frame fewer (they are reloaded, cold, on resume).
#if GESSO_SIMT_UCONTEXT
inline void context_switch(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }
#else
extern "C" void gesso_simt_context_switch(void** save_sp, void* load_sp);
inline void context_switch(Context* from, Context* to) { gesso_simt_context_switch(&from->sp, to->sp); }
#endif

// Which implementation this build uses, for messages and docs.
const char* context_implementation();

}  // namespace gesso::simt
