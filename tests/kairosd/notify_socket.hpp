// The systemd side of $NOTIFY_SOCKET for tests: a unix datagram socket
// that receives sd_notify() messages with the sender's pid (SO_PASSCRED),
// as systemd does to enforce NotifyAccess=main.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

namespace kairos::test {

struct NotifyMessage {
  std::string text;  // e.g. "READY=1\nSTATUS=..."
  pid_t pid = -1;    // the sender, from its credentials
  bool has(const std::string& assignment) const {
    return ("\n" + text + "\n").find("\n" + assignment + "\n") != std::string::npos;
  }
  std::string field(const std::string& key) const {
    const std::string t = "\n" + text + "\n";
    const auto p = t.find("\n" + key + "=");
    if (p == std::string::npos) return "";
    const auto b = p + key.size() + 2;
    return t.substr(b, t.find('\n', b) - b);
  }
};

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    ::unlink(path_.c_str());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // The next message, or nullopt after `limit` without one.
  std::optional<NotifyMessage> receive(std::chrono::milliseconds limit) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
    char buf[4096];
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    const ssize_t n = ::recvmsg(fd_, &m, 0);
    if (n < 0) return std::nullopt;
    NotifyMessage msg;
    msg.text.assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cr;
        std::memcpy(&cr, CMSG_DATA(c), sizeof cr);
        msg.pid = cr.pid;
      }
    return msg;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Sets an environment variable for one scope (children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

}  // namespace kairos::test
