// Open-loop UDP load: requests leave on a fixed schedule whatever the
// replies do (no coordinated omission: latency counts from the scheduled
// send time), replies are matched by sequence number; a reply whose
// timestamp predates this run belongs to an earlier run on the same
// sockets and is counted apart (stale), not as a latency sample.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kairos::udpload {

struct LoadConfig {
  double rate = 10000;      // requests per second; 0 = as fast as possible
  double duration_s = 2.0;  // sending time
  std::size_t size = 64;    // request payload bytes (>= 16)
  std::size_t batch = 16;   // datagrams per sendmmsg
  double drain_s = 0.3;     // wait for late replies after the last send
  // The sender sleeps (absolute timer, 1 ns slack) until this long before
  // a request is due and spins the rest: precise sends without burning a
  // whole core between them (on a 2-core host a spinning client takes
  // half the machine from the server it measures).
  double spin_us = 20;
};

struct LoadResult {
  std::uint64_t sent = 0, received = 0;
  // Replies to requests of an earlier run on the same sockets (a server
  // still working off a saturation backlog): not counted above.
  std::uint64_t stale = 0;
  double seconds = 0;       // first send to last reply
  double throughput = 0;    // replies per second
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::string str() const;
  std::string json(const std::string& name) const;
};

// Drives connected UDP sockets (one per flow, round-robin). Throws
// std::invalid_argument on a bad configuration.
LoadResult run_load(const std::vector<int>& fds, const LoadConfig& cfg);

}  // namespace kairos::udpload
