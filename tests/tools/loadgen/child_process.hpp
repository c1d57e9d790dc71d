// Child processes for the cross-check: servers that live for a test and
// clients whose output is read back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace loadgen_test {

// Starts argv[0] (looked up in PATH) with its output discarded; SIGKILLs
// and reaps it when destroyed.
class Server {
 public:
  explicit Server(const std::vector<std::string>& argv);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  bool alive();
  // Waits until a TCP connect to 127.0.0.1:port succeeds (false on timeout
  // or when the server exited).
  bool wait_listening(std::uint16_t port, double timeout_s);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Runs a shell command, returns its stdout (stderr included) and sets rc
// to its exit code (-1 if it did not exit normally).
std::string run_command(const std::string& cmd, int& rc);

// Whether a program is in PATH.
bool in_path(const std::string& name);

// Sends `request` to 127.0.0.1:port over TCP and returns what comes back
// until `end` is seen (at most 2 s).
std::string tcp_query(std::uint16_t port, const std::string& request, const std::string& end);

}  // namespace loadgen_test

