/*
 * context.cpp: the context switch behind every CUDA thread of the SIMT
 * runtime (see context.h). The x86-64 version is written out in assembly
 * below; the frame it leaves on a suspended stack is, from low to high
 * addresses:
 *
 *   sp ->  r15  r14  r13  r12  rbx  rbp  return-address
 *
 * i.e. the callee-saved registers of the System V ABI. The SSE and x87
 * control words (rounding modes) are not switched: kernel code cannot change
 * them, so all contexts of an OS thread share its settings; saving and
 * loading them (fnstcw/fldcw) made up half the cost of a switch.
 *
 * A new context gets the same frame, with r12 = arg, r13 = entry and the
 * return address pointing at gesso_simt_context_start, which calls
 * entry(arg) on a 16-byte aligned stack. Its CFI marks the return address as
 * undefined, so debuggers and unwinders stop there instead of walking into
 * garbage: in gdb, `bt` inside a kernel ends at the fiber's start.
 */
#include "kernels/simt/context.h"

#include <cstdint>
#include <cstdlib>

#if !GESSO_SIMT_UCONTEXT

extern "C" void gesso_simt_context_start();

asm(R"(
    .pushsection .text
    .globl gesso_simt_context_switch
    .hidden gesso_simt_context_switch
    .type gesso_simt_context_switch, @function
    .p2align 4
gesso_simt_context_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size gesso_simt_context_switch, .-gesso_simt_context_switch

    .globl gesso_simt_context_start
    .hidden gesso_simt_context_start
    .type gesso_simt_context_start, @function
    .p2align 4
gesso_simt_context_start:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size gesso_simt_context_start, .-gesso_simt_context_start
    .popsection
)");

namespace gesso::simt {

void context_make(Context* ctx, void* stack_lo, size_t stack_size, void (*entry)(void*), void* arg) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack_lo) + stack_size) & ~uintptr_t(15);
  // 7 words popped by the switch; after its `ret` the stack pointer is
  // top - 16, 16-byte aligned, as the `call` in context_start requires.
  uint64_t* frame = reinterpret_cast<uint64_t*>(top - 16 - 7 * 8);
  frame[0] = 0;                                           // r15
  frame[1] = 0;                                           // r14
  frame[2] = reinterpret_cast<uint64_t>(entry);           // r13
  frame[3] = reinterpret_cast<uint64_t>(arg);             // r12
  frame[4] = 0;                                           // rbx
  frame[5] = 0;                                           // rbp
  frame[6] = reinterpret_cast<uint64_t>(&gesso_simt_context_start);
  ctx->sp = frame;
}

const char* context_implementation() { return "x86-64 assembly"; }

}  // namespace gesso::simt

#else  // GESSO_SIMT_UCONTEXT

namespace gesso::simt {
namespace {
// makecontext passes int arguments only: the pointers travel in two halves.
void start_trampoline(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo) {
  auto entry = reinterpret_cast<void (*)(void*)>((uint64_t(entry_hi) << 32) | entry_lo);
  void* arg = reinterpret_cast<void*>((uint64_t(arg_hi) << 32) | arg_lo);
  entry(arg);
  std::abort();  // entry never returns
}
}  // namespace

void context_make(Context* ctx, void* stack_lo, size_t stack_size, void (*entry)(void*), void* arg) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = stack_size;
  ctx->uc.uc_link = nullptr;
  uint64_t e = reinterpret_cast<uint64_t>(entry), a = reinterpret_cast<uint64_t>(arg);
  makecontext(&ctx->uc, reinterpret_cast<void (*)()>(&start_trampoline), 4, unsigned(e >> 32), unsigned(e),
              unsigned(a >> 32), unsigned(a));
}

const char* context_implementation() { return "swapcontext"; }

}  // namespace gesso::simt

#endif
