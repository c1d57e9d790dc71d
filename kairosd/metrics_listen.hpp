// Where --metrics-listen serves: parsed and checked before kairosd starts
// anything (pure, unit-tested).
#pragma once

#include <optional>
#include <string>

namespace kairos {

struct MetricsListen {
  enum class Kind { kTcp, kUnix } kind = Kind::kTcp;
  std::string host;   // kTcp: an IPv4 or IPv6 literal
  int port = 0;       // kTcp: 1..65535
  std::string path;   // kUnix: the socket's absolute path
  std::string describe() const;  // "127.0.0.1:9100", "[::1]:9100", "unix:/run/x.sock"
};

// Accepts "PORT" (loopback, 127.0.0.1), "ADDR:PORT" with an IPv4 literal
// or "localhost", "[IPV6]:PORT", and "unix:/ABSOLUTE/PATH". On a bad value
// returns nullopt and says why in *error (one sentence, naming the flag).
std::optional<MetricsListen> parse_metrics_listen(const std::string& text, std::string* error);

}  // namespace kairos
