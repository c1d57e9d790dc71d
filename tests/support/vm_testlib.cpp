#include "vm_testlib.hpp"

#include <gtest/gtest.h>
#include <sys/klog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace kairos::vmtest {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool wait_for(const std::function<bool()>& pred,
              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string kernel_log() {
  const int size = ::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0);
  if (size <= 0) return "";
  std::vector<char> buf(static_cast<std::size_t>(size));
  const int n = ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf.data(), size);
  return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : "";
}

int count_kernel_problems(const std::string& log) {
  static const char* const kMarkers[] = {"BUG:", "WARNING:", "Oops",
                                         "watchdog failed", "general protection"};
  int n = 0;
  for (const char* m : kMarkers)
    for (auto p = log.find(m); p != std::string::npos; p = log.find(m, p + 1))
      ++n;
  return n;
}

KernelLogGuard::KernelLogGuard() : start_len_(kernel_log().size()) {}

KernelLogGuard::~KernelLogGuard() {
  const std::string log = kernel_log();
  // The ring buffer may have wrapped; then check all of it.
  const std::string fresh =
      log.size() >= start_len_ ? log.substr(start_len_) : log;
  EXPECT_EQ(count_kernel_problems(fresh), 0)
      << "the kernel reported problems during this test:\n" << fresh;
}

std::string build_path(const std::string& relative) {
  const char* dir = std::getenv("KAIROS_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/" + relative;
}

}  // namespace kairos::vmtest
