// Helpers for tests that run inside the sched_ext kernel (label 'vm').
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace kairos::vmtest {

// Whole file as text; "" when it cannot be read.
std::string read_file(const std::string& path);
bool path_exists(const std::string& path);

// Polls pred every 10 ms until it holds or the timeout passes.
bool wait_for(const std::function<bool()>& pred,
              std::chrono::milliseconds timeout);

// The kernel log (dmesg), and how many oops-like reports it holds
// ("BUG:", "WARNING:", "Oops", "watchdog", "sched_ext: ... error").
std::string kernel_log();
int count_kernel_problems(const std::string& log);

// Records the kernel log at construction and, at destruction, fails the
// current test if new BUG/WARNING/Oops reports appeared meanwhile.
class KernelLogGuard {
 public:
  KernelLogGuard();
  ~KernelLogGuard();

 private:
  std::size_t start_len_;
};

// Path of a built artefact, from the environment set by ctest.
std::string build_path(const std::string& relative);

}  // namespace kairos::vmtest
