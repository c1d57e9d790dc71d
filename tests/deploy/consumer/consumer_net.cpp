// Links the installed network API (Kairos::net, pkg-config kairos-net):
// a stack over no device queues is refused with an exception, which is
// the library's own code running.
#include <kairos/net.hpp>

#include <cstdio>
#include <exception>

int main() {
  kairos::Config cfg;
  cfg.kthreads = 1;
  kairos::Runtime rt(cfg);
  try {
    kairos::net::Stack s(rt, std::vector<std::unique_ptr<kairos::dp::Backend>>{});
    std::printf("kairos-net: a stack with no queues was accepted\n");
    return 1;
  } catch (const std::exception& e) {
    std::printf("kairos-net: %s\n", e.what());
  }
  return 0;
}
