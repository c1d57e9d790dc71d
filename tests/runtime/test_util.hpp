// Helpers shared by the runtime tests.
#pragma once

#include <chrono>
#include <thread>

namespace kairos::test {

// Work sizes: TSan runs 5-15x slower, so its build does less of the same.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kScale = 1;
inline constexpr bool kTsan = true;
#else
inline constexpr int kScale = 4;
inline constexpr bool kTsan = false;
#endif

// Polls pred until it holds or a generous limit passes (a hang guard, not
// a timing assertion). Returns pred's final value.
template <typename Pred>
bool eventually(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return pred();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace kairos::test
