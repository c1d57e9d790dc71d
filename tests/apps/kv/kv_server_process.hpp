// Test helper: runs a memcached-compatible server (kairos-kv or the real
// memcached) as a child process on a free loopback port, a raw TCP client
// that sends bytes and reads replies, and memcached's UDP framing from the
// client's side (written apart from the server's kv_udp_frame, so that
// the tests check it).
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

// A UDP request datagram: the 8-byte header (id, sequence 0, count 1,
// reserved 0, big-endian), then the request.
std::string udp_request_datagram(std::uint16_t id, const std::string& request);

// What came back for one UDP request.
struct UdpReply {
  std::vector<std::uint16_t> ids;   // of every datagram read, in order
  std::vector<std::uint16_t> seqs;  // their sequence numbers
  std::uint16_t total = 0;          // the datagram count of the last with the id
  std::string payload;              // the joined payloads of those with the id
};

// Sends request with id on the connected UDP socket fd and reads datagrams:
// the first for up to first_wait, each later one for up to gap. With
// stop_when_complete it returns once `total` datagrams with the id are in
// (datagrams of other ids, late answers to earlier tries, are recorded
// and skipped); without, it reads until the server is quiet for `gap`, so
// that stray datagrams show in ids.
UdpReply udp_exchange(int fd, std::uint16_t id, const std::string& request,
                      std::chrono::milliseconds first_wait, std::chrono::milliseconds gap,
                      bool stop_when_complete);

}  // namespace kairos::kv::test
