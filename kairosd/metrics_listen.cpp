#include "metrics_listen.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <charconv>

namespace kairos {

std::string MetricsListen::describe() const {
  if (kind == Kind::kUnix) return "unix:" + path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<MetricsListen> parse_metrics_listen(const std::string& text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<MetricsListen> {
    *error = "--metrics-listen wants PORT, ADDR:PORT, [IPV6]:PORT or unix:/PATH, got '" + text +
             "': " + why;
    return std::nullopt;
  };
  MetricsListen m;
  if (text.rfind("unix:", 0) == 0) {
    m.kind = MetricsListen::Kind::kUnix;
    m.path = text.substr(5);
    if (m.path.empty() || m.path[0] != '/') return fail("the socket path must be absolute");
    if (m.path.size() >= sizeof(sockaddr_un{}.sun_path))
      return fail("the socket path is longer than " +
                  std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
    return m;
  }
  std::string host = "127.0.0.1", port = text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) return fail("an IPv6 address is written [ADDR]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return fail("'" + host + "' is not an IPv6 address");
  } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host == "localhost") host = "127.0.0.1";
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1)
      return fail("'" + host + "' is not an IPv4 address (IPv6 goes in brackets)");
  }
  int p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p < 1 || p > 65535)
    return fail("the port must be a number in 1..65535");
  m.host = host;
  m.port = p;
  return m;
}

}  // namespace kairos
