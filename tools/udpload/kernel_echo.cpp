#include "kernel_echo.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kairos::udpload {

KernelEcho::KernelEcho(const dp::Endpoint& listen, unsigned threads, bool poll)
    : poll_(poll) {
  for (unsigned i = 0; i < threads; i++) {
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    int one = 1, off = 0, big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    timeval tv{0, 50'000};  // wake up to notice stop
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    std::memcpy(&sa.sin6_addr, listen.addr.data(), 16);
    sa.sin6_port = htons(listen.port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      close(fd);
      throw std::system_error(errno, std::generic_category(), "bind " + listen.str());
    }
    fds_.push_back(fd);
  }
  for (int fd : fds_) threads_.emplace_back([this, fd] { serve(fd); });
}

KernelEcho::~KernelEcho() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  for (int fd : fds_) close(fd);
}

void KernelEcho::serve(int fd) {
  constexpr int kBatch = 64;
  std::vector<std::uint8_t> buf(kBatch * 2048);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in6 from[kBatch];
  while (!stop_) {
    for (int i = 0; i < kBatch; i++) {
      iov[i] = {&buf[i * 2048], 2048};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int n = recvmmsg(fd, msgs, kBatch, poll_ ? MSG_DONTWAIT : MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; i++) iov[i].iov_len = msgs[i].msg_len;
    sendmmsg(fd, msgs, n, 0);
  }
}

}  // namespace kairos::udpload
