#include "netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <stdexcept>
#include <thread>

namespace kairos::dp::testing {

Netns::Netns() {
  // unshare in a helper thread so the caller's namespace never changes.
  std::thread([this] {
    if (unshare(CLONE_NEWNET) == 0)
      fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  }).join();
  if (fd_ < 0) throw std::runtime_error("cannot create a network namespace (root?)");
}

Netns::~Netns() {
  if (fd_ >= 0) close(fd_);
}

std::string Netns::path() const {
  return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
}

int Netns::sh(const std::string& cmd) const {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (setns(fd_, CLONE_NEWNET) != 0) _exit(126);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

VethPair::VethPair(unsigned queues) {
  const std::string q = std::to_string(queues);
  ok_ = server.sh("set -e; ip link add " + server_if + " numtxqueues " + q +
                  " numrxqueues " + q + " type veth peer name " + client_if +
                  " numtxqueues " + q + " numrxqueues " + q + " netns " +
                  client.path() + "; ip addr add " + server_ip + "/24 dev " +
                  server_if + "; ip addr add fd77::1/64 dev " + server_if +
                  " nodad; ip link set lo up; ip link set " + server_if +
                  " up; ethtool -K " + server_if + " tx off >/dev/null") == 0 &&
        client.sh("set -e; ip addr add " + client_ip + "/24 dev " + client_if +
                  "; ip addr add fd77::2/64 dev " + client_if +
                  " nodad; ip link set lo up; ip link set " + client_if +
                  " up; ethtool -K " + client_if + " tx off >/dev/null") == 0;
}

InNetns::InNetns(const Netns& ns) {
  self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self_ < 0 || setns(ns.fd(), CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot enter the network namespace");
}

InNetns::~InNetns() {
  if (setns(self_, CLONE_NEWNET) != 0) std::abort();  // never leave a thread astray
  close(self_);
}

std::vector<int> connected_udp_clients(const Netns& ns, const std::string& ip,
                                       std::uint16_t port, unsigned n, int rcvbuf) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    throw std::invalid_argument("connected_udp_clients: bad address '" + ip + "'");
  }
  InNetns in(ns);
  std::vector<int> fds;
  for (unsigned i = 0; i < n; i++) {
    const int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && rcvbuf > 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      const int err = errno;
      if (fd >= 0) close(fd);
      for (int f : fds) close(f);
      throw std::system_error(err, std::generic_category(),
                              "connected_udp_clients: socket/connect to " + ip);
    }
    fds.push_back(fd);
  }
  return fds;
}

std::optional<std::string> recv_text(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return std::nullopt;
  char buf[2048];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string mac_of(const Netns& ns, const std::string& ifname) {
  InNetns in(ns);
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const bool ok = s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0;
  const int err = errno;
  if (s >= 0) close(s);
  if (!ok) throw std::system_error(err, std::generic_category(), "mac_of " + ifname);
  auto* b = reinterpret_cast<unsigned char*>(ifr.ifr_hwaddr.sa_data);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
                b[3], b[4], b[5]);
  return buf;
}

}  // namespace kairos::dp::testing
