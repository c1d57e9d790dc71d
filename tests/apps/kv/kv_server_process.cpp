#include "kv_server_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace kairos::kv::test {

namespace {
sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A socket's address as /proc/net/tcp writes it: hex IPv4 in the host's
// byte order, then the port.
std::string proc_net_address(const sockaddr_in& a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X:%04X", a.sin_addr.s_addr, ntohs(a.sin_port));
  return buf;
}
}  // namespace

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("free_port: bind failed");
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

ServerProcess::ServerProcess(std::vector<std::string> argv) {
  port_ = free_port();
  argv.push_back("-p");
  argv.push_back(std::to_string(port_));
  argv.push_back("-l");
  argv.push_back("127.0.0.1");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // A test killed mid-run must not leave its servers behind: they would
    // hold the ports and the test lock the test ran under.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  // Ready once it accepts.
  for (int i = 0; i < 500; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(port_);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("server exited at start: " + argv[0]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("server did not start listening: " + argv[0]);
}

int ServerProcess::stop() {
  if (pid_ < 0) return 0;
  kill(pid_, SIGTERM);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

ServerProcess::~ServerProcess() { stop(); }

RawClient::RawClient(std::uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("connect failed");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() { close(fd_); }

void RawClient::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    off += static_cast<std::size_t>(n);
  }
}

bool RawClient::read_until_tail(const std::string& tail, std::string* got,
                                std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (!got->ends_with(tail)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got->append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::read_some(std::string* got, std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[65536];
  const ssize_t n = recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  got->append(buf, static_cast<std::size_t>(n));
  return true;
}

bool RawClient::read_to_eof(std::string* got, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    got->append(buf, static_cast<std::size_t>(n));
  }
}

bool RawClient::wait_server_read(std::chrono::milliseconds timeout) {
  sockaddr_in mine{}, theirs{};
  socklen_t len = sizeof mine;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&mine), &len);
  len = sizeof theirs;
  getpeername(fd_, reinterpret_cast<sockaddr*>(&theirs), &len);
  const std::string me = proc_net_address(mine), server = proc_net_address(theirs);
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Our end's tx_queue counts bytes not yet acknowledged; the server
    // end's rx_queue, bytes it has not read (a server end that is gone
    // has nothing left to read).
    bool acked = false, read = true;
    std::ifstream in("/proc/net/tcp");
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string slot, local, remote, state, queues;
      f >> slot >> local >> remote >> state >> queues;
      const std::size_t colon = queues.find(':');
      if (colon == std::string::npos) continue;
      const bool tx_empty = std::stoul(queues.substr(0, colon), nullptr, 16) == 0;
      const bool rx_empty = std::stoul(queues.substr(colon + 1), nullptr, 16) == 0;
      if (local == me && remote == server) acked = tx_empty;
      if (local == server && remote == me) read = rx_empty;
    }
    if (acked && read) return true;
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string udp_request_datagram(std::uint16_t id, const std::string& request) {
  std::string d;
  d.push_back(static_cast<char>(id >> 8));
  d.push_back(static_cast<char>(id & 0xff));
  d.append(std::string("\0\0\0\1\0\0", 6));
  return d + request;
}

UdpReply udp_exchange(int fd, std::uint16_t id, const std::string& request,
                      std::chrono::milliseconds first_wait, std::chrono::milliseconds gap,
                      bool stop_when_complete) {
  UdpReply r;
  const std::string d = udp_request_datagram(id, request);
  if (::send(fd, d.data(), d.size(), 0) != static_cast<ssize_t>(d.size())) return r;
  unsigned got = 0;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const auto wait = got == 0 ? first_wait : gap;
    if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return r;
    char buf[2048];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 8) continue;
    const auto be16 = [&](int i) {
      return static_cast<std::uint16_t>((static_cast<unsigned char>(buf[i]) << 8) |
                                        static_cast<unsigned char>(buf[i + 1]));
    };
    r.ids.push_back(be16(0));
    r.seqs.push_back(be16(2));
    if (be16(0) != id) continue;
    r.total = be16(4);
    r.payload.append(buf + 8, static_cast<std::size_t>(n - 8));
    if (++got == r.total && stop_when_complete) return r;
  }
}

}  // namespace kairos::kv::test
