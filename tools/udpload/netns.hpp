// Network namespaces and a multi-queue veth pair made by a test. The
// namespaces are held only by file descriptors of the test process (no
// /run/netns names: iproute2's netns commands need a mount setup the build
// chroot lacks), so they vanish with the process even if it crashes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kairos::dp::testing {

class Netns {
 public:
  Netns();  // a fresh, empty network namespace
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  int fd() const { return fd_; }
  std::string path() const;  // /proc/<pid>/fd/<fd>, usable as iproute2's netns
  // Runs a shell command line inside the namespace; returns its status.
  int sh(const std::string& cmd) const;

 private:
  int fd_ = -1;
};

// A veth pair between two fresh namespaces: devices kdps0 (server) and
// kdpc0 (client) with `queues` rx/tx queues each, 10.77.0.1/.2 and
// fd77::1/2, TX checksum offload off on both, up.
class VethPair {
 public:
  explicit VethPair(unsigned queues);
  bool ok() const { return ok_; }
  Netns server, client;
  const std::string server_if = "kdps0", client_if = "kdpc0";
  const std::string server_ip = "10.77.0.1", client_ip = "10.77.0.2";

 private:
  bool ok_ = false;
};

// Moves the calling thread into a namespace until destruction.
class InNetns {
 public:
  explicit InNetns(const Netns& ns);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;

 private:
  int self_ = -1;
};

// n UDP sockets made in ns, each connected to ip:port (IPv4 or IPv6
// text), so each is one flow (its own source port); they stay in ns after
// the call. rcvbuf: SO_RCVBUF bytes (0: the default). Throws on failure.
std::vector<int> connected_udp_clients(const Netns& ns, const std::string& ip,
                                       std::uint16_t port, unsigned n,
                                       int rcvbuf = 4 << 20);

// One datagram from fd as text, waiting up to timeout_ms; nullopt on
// timeout or error.
std::optional<std::string> recv_text(int fd, int timeout_ms = 3000);

// The MAC address of ifname in ns, as "aa:bb:cc:dd:ee:ff". Throws on failure.
std::string mac_of(const Netns& ns, const std::string& ifname);

}  // namespace kairos::dp::testing
