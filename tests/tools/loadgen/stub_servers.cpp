#include "stub_servers.hpp"

#include "protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace loadgen_test {

namespace {

using Clock = std::chrono::steady_clock;

int bound_socket(int type, std::uint16_t& port) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) throw std::runtime_error("bind");
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  return fd;
}

struct Client {
  int fd;
  std::string in;
  int replies = 0;
};

enum class Req { Get, Set, Unknown };

// One whole request from the front of `in` (consumed), or false.
bool take_request(std::string& in, Req& req) {
  const auto eol = in.find("\r\n");
  if (eol == std::string::npos) return false;
  if (in.rfind("get ", 0) == 0 || in.rfind("set ", 0) != 0) {
    req = in.rfind("get ", 0) == 0 ? Req::Get : Req::Unknown;
    in.erase(0, eol + 2);
    return true;
  }
  // set KEY FLAGS EXP BYTES\r\n DATA\r\n
  const auto sp = in.rfind(' ', eol);
  const std::size_t bytes = std::stoul(in.substr(sp + 1, eol - sp - 1));
  if (in.size() < eol + 2 + bytes + 2) return false;
  req = Req::Set;
  in.erase(0, eol + 2 + bytes + 2);
  return true;
}

}  // namespace

std::uint16_t unused_port() {
  std::uint16_t port;
  close(bound_socket(SOCK_STREAM, port));
  return port;
}

TcpStub::TcpStub(TcpStubOptions opt) : opt_(opt) {
  listen_fd_ = bound_socket(SOCK_STREAM, port_);
  listen(listen_fd_, 128);
  thread_ = std::thread([this] { serve(); });
}

TcpStub::~TcpStub() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void TcpStub::serve() {
  const auto start = Clock::now();
  bool stalled = false;
  std::vector<Client> clients;
  while (!stop_) {
    if (!stalled && opt_.stall_after_ms >= 0 &&
        Clock::now() - start >= std::chrono::milliseconds(opt_.stall_after_ms)) {
      stalled = true;  // the whole server stops, as if descheduled
      std::this_thread::sleep_for(std::chrono::milliseconds(opt_.stall_ms));
    }
    std::vector<pollfd> pfds{{listen_fd_, POLLIN, 0}};
    for (const auto& c : clients) pfds.push_back({c.fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), 5) <= 0) continue;
    if (pfds[0].revents & POLLIN) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) clients.push_back({fd, {}, 0});
    }
    for (std::size_t i = 1; i < pfds.size(); i++) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Client& c = clients[i - 1];
      char buf[65536];
      const ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) {
        close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.append(buf, n);
      std::string out;
      Req req;
      bool reset = false;
      while (take_request(c.in, req)) {
        requests_++;
        if (opt_.silent) continue;
        if (opt_.garbage) out += "BANANA\r\n";
        else if (req == Req::Get) out += "VALUE k 0 4\r\nabcd\r\nEND\r\n";
        else if (req == Req::Set) out += "STORED\r\n";
        else out += "ERROR\r\n";
        if (opt_.reset_after > 0 && ++c.replies >= opt_.reset_after) {
          reset = true;
          break;
        }
      }
      if (!out.empty()) send(c.fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (reset) {
        linger lg{1, 0};  // close with RST
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c.fd);
        c.fd = -1;
        resets_++;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
  }
  for (auto& c : clients) close(c.fd);
}

UdpStub::UdpStub(Kind kind, int split) : kind_(kind), split_(split) {
  fd_ = bound_socket(SOCK_DGRAM, port_);
  thread_ = std::thread([this] { serve(); });
}

UdpStub::~UdpStub() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

void UdpStub::serve() {
  using namespace kairos::loadgen;
  char buf[65536];
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 5) <= 0) continue;
    sockaddr_storage from;
    socklen_t flen = sizeof from;
    const ssize_t n = recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&from), &flen);
    if (n <= 0) continue;
    auto reply = [&](const std::string& d) {
      sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    };
    if (kind_ == Kind::Echo) {
      reply(std::string(buf, n) + "|stub");
      continue;
    }
    UdpFrameHeader h;
    if (!get_udp_header(std::string_view(buf, n), h)) continue;
    const std::string req(buf + kUdpFrameHeader, n - kUdpFrameHeader);
    if (req.rfind("get ", 0) != 0) {
      std::string d;
      put_udp_header({h.request_id, 0, 1, 0}, d);
      reply(d + "STORED\r\n");
      continue;
    }
    const std::string body = "VALUE k 0 20\r\n01234567890123456789\r\nEND\r\n";
    const std::size_t chunk = (body.size() + split_ - 1) / split_;
    for (int s = split_ - 1; s >= 0; s--) {  // last part first
      std::string d;
      put_udp_header({h.request_id, static_cast<std::uint16_t>(s),
                      static_cast<std::uint16_t>(split_), 0},
                     d);
      reply(d + body.substr(s * chunk, chunk));
    }
  }
}

}  // namespace loadgen_test
