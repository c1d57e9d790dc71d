// Spawns uthreads on an installed libkairos and checks they all ran.
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>
#include <kairos/version.hpp>

#include <atomic>
#include <cstdio>
#include <vector>

int main() {
  std::atomic<int> ran{0};
  {
    kairos::Config cfg;
    cfg.kthreads = 2;
    kairos::Runtime rt(cfg);
    std::vector<kairos::Thread> ts;
    for (int i = 0; i < 100; i++)
      ts.push_back(rt.spawn([&] {
        kairos::this_uthread::yield();
        ran++;
      }));
  }
  std::printf("libkairos %s: %d uthreads ran\n", kairos::kVersion, ran.load());
  return ran == 100 ? 0 : 1;
}
