// udpload: open-loop UDP load against an echo server, reporting
// throughput and p50/p99/p99.9 latency. Run it where the server is
// reachable (e.g. inside the client network namespace).
//   udpload --server 10.77.0.1:7000 [--rate N] [--duration S] [--flows N]
//           [--size B] [--json]
#include "loadgen.hpp"

#include <kairos/contracts/endpoint.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "udpload: %s\nusage: udpload --server ADDR:PORT [--rate N (0 = max)] "
               "[--duration S] [--flows N] [--size BYTES] [--json]\n",
               why);
  return 2;
}

std::optional<double> number(const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (!s[0] || *end) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kairos;
  std::optional<dp::Endpoint> server;
  udpload::LoadConfig cfg;
  unsigned flows = 4;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--server") {
      server = dp::Endpoint::parse(v);
      if (!server || server->is_any() || !server->port) return usage("bad --server");
      continue;
    }
    auto n = number(v);
    if (!n || *n < 0) return usage(("bad value for " + a).c_str());
    if (a == "--rate") cfg.rate = *n;
    else if (a == "--duration") cfg.duration_s = *n;
    else if (a == "--flows") flows = static_cast<unsigned>(*n);
    else if (a == "--size") cfg.size = static_cast<std::size_t>(*n);
    else return usage(("unknown option " + a).c_str());
  }
  if (!server) return usage("--server is required");
  if (flows == 0 || flows > 1024) return usage("--flows must be 1..1024");
  std::vector<int> fds;
  for (unsigned i = 0; i < flows; i++) {
    int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int off = 0, big = 4 << 20;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    std::memcpy(&sa.sin6_addr, server->addr.data(), 16);
    sa.sin6_port = htons(server->port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::perror("udpload: connect");
      return 1;
    }
    fds.push_back(fd);
  }
  try {
    auto r = udpload::run_load(fds, cfg);
    std::printf("%s\n", json ? r.json("udpload").c_str() : r.str().c_str());
  } catch (const std::exception& e) {
    return usage(e.what());
  }
  for (int fd : fds) close(fd);
  return 0;
}
