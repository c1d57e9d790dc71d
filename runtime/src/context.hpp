// The one place that switches stacks: Boost.Context's fcontext primitives,
// plus the sanitizers' fiber annotations. ThreadSanitizer must be told of
// every stack switch or it reports nonsense; AddressSanitizer must know
// which stack runs, or an exception unwinding a uthread's stack (which
// clears the stack's poisoning up to the thread's stack top) is reported
// as a stack-buffer-overflow.
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define KAIROS_TSAN_FIBERS 1
#include <sanitizer/tsan_interface.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#define KAIROS_ASAN_FIBERS 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace kairos::detail {

using Fctx = boost::context::detail::fcontext_t;
using Transfer = boost::context::detail::transfer_t;

// The stack a context runs on, as the sanitizers need it: its TSan fiber,
// and its lowest usable address and size for ASan.
struct StackRef {
  void* tsan_fiber = nullptr;
  const void* lo = nullptr;
  std::size_t size = 0;
};

inline Fctx make_context(void* stack_top, std::size_t size,
                         void (*entry)(Transfer)) {
  return boost::context::detail::make_fcontext(stack_top, size, entry);
}

// Jumps to 'to', which runs on the stack 'dest'; returns when someone jumps
// back, with the context they left and their message. for_good: the
// current context never runs again (a uthread's exit).
inline Transfer jump_context(Fctx to, [[maybe_unused]] const StackRef& dest,
                             void* msg, [[maybe_unused]] bool for_good = false) {
#ifdef KAIROS_TSAN_FIBERS
  __tsan_switch_to_fiber(dest.tsan_fiber, 0);
#endif
#ifdef KAIROS_ASAN_FIBERS
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(for_good ? nullptr : &fake_stack, dest.lo, dest.size);
#endif
  const Transfer t = boost::context::detail::jump_fcontext(to, msg);
#ifdef KAIROS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  return t;
}

// A stack about to be reused for a new context: a context that ended
// mid-frame (a uthread's exit) left ASan's poisoning of its frames there.
inline void stack_reused([[maybe_unused]] const void* lo, [[maybe_unused]] std::size_t size) {
#ifdef KAIROS_ASAN_FIBERS
  __asan_unpoison_memory_region(lo, size);
#endif
}

// The first thing a new context does on its own stack (the other end of
// the jump_context that started it).
inline void context_started() {
#ifdef KAIROS_ASAN_FIBERS
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

inline void* fiber_current() {
#ifdef KAIROS_TSAN_FIBERS
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* fiber_create() {
#ifdef KAIROS_TSAN_FIBERS
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void fiber_destroy([[maybe_unused]] void* f) {
#ifdef KAIROS_TSAN_FIBERS
  if (f) __tsan_destroy_fiber(f);
#endif
}

inline void cpu_relax() { __builtin_ia32_pause(); }

}  // namespace kairos::detail
