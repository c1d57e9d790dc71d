// Kernel UDP socket backend: dual-stack sockets (IPv4 arrives IPv4-mapped,
// the same address form the dataplane uses), batched with recvmmsg and
// sendmmsg.
#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>

#include "wait_fds.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kairos::dp {

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kBufSize = 2048;

sockaddr_in6 to_sockaddr(const Endpoint& e) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, e.addr.data(), 16);
  sa.sin6_port = htons(e.port);
  return sa;
}

class KernelUdpBackend final : public Backend {
 public:
  explicit KernelUdpBackend(const std::vector<Endpoint>& listen) {
    if (listen.empty()) throw std::invalid_argument("kernel UDP backend: no endpoint");
    for (const auto& ep : listen) {
      int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
      int off = 0, big = 4 << 20;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
      sockaddr_in6 sa = to_sockaddr(ep);
      if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        int e = errno;
        close(fd);
        throw std::system_error(e, std::generic_category(),
                                "kernel UDP backend: bind " + ep.str());
      }
      socks_.push_back({fd, ep});
    }
    bufs_.resize(kBatch * kBufSize);
    out_.resize(kBatch * kBufSize);
  }
  ~KernelUdpBackend() override {
    for (auto& s : socks_) close(s.fd);
  }

  std::string name() const override { return "kernel-udp"; }

  std::size_t poll_rx(std::size_t max, RxSink& sink) override {
    std::size_t got = 0;
    for (auto& s : socks_) {
      if (got >= max) break;
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      sockaddr_in6 from[kBatch];
      const std::size_t want = std::min(kBatch, max - got);
      for (std::size_t i = 0; i < want; i++) {
        iov[i] = {&bufs_[i * kBufSize], kBufSize};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      }
      int n = recvmmsg(s.fd, msgs, want, MSG_DONTWAIT, nullptr);
      stats_.wakeups++;
      for (int i = 0; i < n; i++) {
        RxDatagram d;
        std::memcpy(d.src.addr.data(), &from[i].sin6_addr, 16);
        d.src.port = ntohs(from[i].sin6_port);
        d.dst = s.ep;
        d.payload = {&bufs_[i * kBufSize], msgs[i].msg_len};
        stats_.rx++;
        sink.on_datagram(d);
        got++;
      }
    }
    return got;
  }

  bool send(const Endpoint& src, const Endpoint& dst,
            std::span<const std::uint8_t> payload) override {
    int fd = -1;
    for (auto& s : socks_)
      if (s.ep.port == src.port && (s.ep.is_any() || s.ep.addr == src.addr)) fd = s.fd;
    if (fd < 0 || payload.size() > kBufSize) {
      stats_.tx_no_route++;
      return false;
    }
    if (pending_.size() == kBatch) flush();
    if (pending_.size() == kBatch) {
      stats_.tx_full++;
      return false;
    }
    const std::size_t i = pending_.size();
    std::memcpy(&out_[i * kBufSize], payload.data(), payload.size());
    pending_.push_back({fd, to_sockaddr(dst), payload.size()});
    return true;
  }

  void flush() override {
    // sendmmsg per socket, in order; what the kernel refuses is counted.
    std::size_t i = 0;
    while (i < pending_.size()) {
      std::size_t j = i;
      mmsghdr msgs[kBatch];
      iovec iov[kBatch];
      while (j < pending_.size() && pending_[j].fd == pending_[i].fd) {
        const std::size_t k = j - i;
        iov[k] = {&out_[j * kBufSize], pending_[j].len};
        msgs[k] = {};
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &pending_[j].to;
        msgs[k].msg_hdr.msg_namelen = sizeof pending_[j].to;
        j++;
      }
      int n = sendmmsg(pending_[i].fd, msgs, j - i, MSG_DONTWAIT);
      stats_.wakeups++;
      const std::size_t sent = n > 0 ? n : 0;
      stats_.tx += sent;
      stats_.tx_full += (j - i) - sent;
      i = j;
    }
    pending_.clear();
  }

  BackendStats stats() const override { return stats_; }

  void wait_rx(std::chrono::microseconds timeout) override {
    std::vector<pollfd> fds;
    for (auto& s : socks_) fds.push_back({s.fd, POLLIN, 0});
    wait_fds_readable(fds, timeout);
  }
  std::vector<int> wait_fds() const override {
    std::vector<int> fds;
    for (auto& s : socks_) fds.push_back(s.fd);
    return fds;
  }

 private:
  struct Sock {
    int fd;
    Endpoint ep;
  };
  struct Pending {
    int fd;
    sockaddr_in6 to;
    std::size_t len;
  };
  std::vector<Sock> socks_;
  std::vector<std::uint8_t> bufs_, out_;
  std::vector<Pending> pending_;
  BackendStats stats_;
};

}  // namespace

std::unique_ptr<Backend> make_kernel_udp_backend(const std::vector<Endpoint>& listen) {
  return std::make_unique<KernelUdpBackend>(listen);
}

}  // namespace kairos::dp
