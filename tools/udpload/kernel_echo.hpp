// The baseline server: kernel UDP sockets, one SO_REUSEPORT socket and
// thread per worker, blocking recvmmsg + sendmmsg batches (poll = true:
// non-blocking recvmmsg in a loop, never sleeping: the kernel's answer on
// a dedicated core, the peer of a polling Kairos thread).
#pragma once

#include <kairos/contracts/endpoint.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace kairos::udpload {

class KernelEcho {
 public:
  // Binds in the calling thread's network namespace.
  KernelEcho(const dp::Endpoint& listen, unsigned threads, bool poll = false);
  ~KernelEcho();
  KernelEcho(const KernelEcho&) = delete;
  KernelEcho& operator=(const KernelEcho&) = delete;

 private:
  void serve(int fd);
  bool poll_ = false;
  std::atomic<bool> stop_{false};
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

}  // namespace kairos::udpload
