// Helpers shared by the runtime tests.
#pragma once

#include <kairos/runtime.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

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

// Short bursts of 4 uthreads each, spawned and joined, with an idle gap
// every 10 bursts so kthreads park between them (a lost wakeup hangs
// here). Returns how many uthreads ran.
inline long spawn_join_bursts(kairos::Runtime& rt, int bursts) {
  std::atomic<long> done{0};
  for (int b = 0; b < bursts; ++b) {
    std::vector<kairos::Thread> ts;
    for (int i = 0; i < 4; ++i) ts.push_back(rt.spawn([&] { done.fetch_add(1); }));
    ts.clear();
    if (b % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return done.load();
}

}  // namespace kairos::test
