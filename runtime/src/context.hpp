// The one place that switches stacks: Boost.Context's fcontext primitives,
// plus ThreadSanitizer fiber annotations when built with -fsanitize=thread
// (TSan must be told about every stack switch or it reports nonsense).
#pragma once

#include <boost/context/detail/fcontext.hpp>

#if defined(__SANITIZE_THREAD__)
#define KAIROS_TSAN_FIBERS 1
#include <sanitizer/tsan_interface.h>
#endif

namespace kairos::detail {

using Fctx = boost::context::detail::fcontext_t;
using Transfer = boost::context::detail::transfer_t;

inline Fctx make_context(void* stack_top, std::size_t size,
                         void (*entry)(Transfer)) {
  return boost::context::detail::make_fcontext(stack_top, size, entry);
}

// Jumps to 'to' on the TSan fiber 'to_fiber'; returns when someone jumps
// back, with the context they left and their message.
inline Transfer jump_context(Fctx to, [[maybe_unused]] void* to_fiber,
                             void* msg) {
#ifdef KAIROS_TSAN_FIBERS
  __tsan_switch_to_fiber(to_fiber, 0);
#endif
  return boost::context::detail::jump_fcontext(to, msg);
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
