// Test helper: runs a memcached-compatible server (kairos-kv or the real
// memcached) as a child process on a free loopback port, and a raw TCP
// client that sends bytes and reads replies.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kairos::kv::test {

// A free TCP port on 127.0.0.1 (bound and released: the caller starts a
// server on it right away).
std::uint16_t free_port();

class ServerProcess {
 public:
  // argv[0] is the program; "-p PORT -l 127.0.0.1" are appended.
  explicit ServerProcess(std::vector<std::string> argv);
  ~ServerProcess();  // SIGTERM, then waits
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  std::uint16_t port() const { return port_; }
  // SIGTERM and wait; the exit status (or -signal).
  int stop();

 private:
  int pid_ = -1;
  std::uint16_t port_ = 0;
};

class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  void send(const std::string& bytes);
  // Reads until the received bytes end with `tail` (true) or EOF/timeout
  // (false); *got holds what arrived.
  bool read_until_tail(const std::string& tail, std::string* got,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Appends what arrives next; false on EOF, error or timeout.
  bool read_some(std::string* got,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until EOF or timeout; true on EOF.
  bool read_to_eof(std::string* got,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Waits until the server has read every byte sent so far: the kernel
  // has them acknowledged and nothing is left in the server's receive
  // queue (/proc/net/tcp). False on timeout.
  bool wait_server_read(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  int fd_ = -1;
};

}  // namespace kairos::kv::test
