#include <kairos/contracts/backend.hpp>

#include <thread>

namespace kairos::dp {

void Backend::wait_rx(std::chrono::microseconds timeout) {
  std::this_thread::sleep_for(timeout);
}

}  // namespace kairos::dp
