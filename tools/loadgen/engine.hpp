// Runs the load. Each client thread owns a share of the connections and one
// epoll set; it sends its requests, reads replies and enforces timeouts in
// one loop, so no lock or cross-thread queue sits between a request and its
// timestamps. Open loop: each thread follows its own Poisson schedule at
// rate/threads (the merged stream is again Poisson at the full rate), and a
// request is sent at its arrival time whatever the replies do; its latency
// counts from that scheduled time, so a client or server stall shows up in
// the latency of every request queued behind it (no coordinated omission).
// Closed loop: each connection keeps --depth requests outstanding; latency
// counts from the send.
//
// Every scheduled request ends in exactly one counter:
//   scheduled = completed + error_replies + timeouts + failed + unanswered + not_sent
#pragma once

#include "config.hpp"
#include "histogram.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kairos::loadgen {

struct Counters {
  std::uint64_t scheduled = 0;      // arrivals (open) or issue attempts (closed)
  std::uint64_t sent = 0;           // handed to a connection
  std::uint64_t completed = 0;      // answered: hits + misses + stored + not_stored (+ echoes)
  std::uint64_t hits = 0, misses = 0, stored = 0, not_stored = 0;
  std::uint64_t error_replies = 0;  // the server answered with an error
  std::uint64_t timeouts = 0;       // no reply within --timeout
  std::uint64_t failed = 0;         // lost with their connection (reset, closed, malformed reply)
  std::uint64_t unanswered = 0;     // still outstanding when the drain ended
  std::uint64_t not_sent = 0;       // no usable connection, or its backlog was full
  // Events, not requests:
  std::uint64_t malformed = 0;      // replies that broke the protocol
  std::uint64_t conn_failures = 0;  // refused or timed-out connects, resets, closes
  std::uint64_t late = 0;           // UDP replies to requests already timed out
  std::uint64_t connects = 0;       // successful connects (initial and re-)
  void add(const Counters& o);
  bool balanced() const {
    return scheduled == completed + error_replies + timeouts + failed + unanswered + not_sent;
  }
};

struct RunResult {
  Counters counters;
  Histogram latency;      // nanoseconds, completed requests only
  double duration_s = 0;  // sending window
  double elapsed_s = 0;   // window + drain actually waited
  double offered_rate() const { return duration_s > 0 ? counters.scheduled / duration_s : 0; }
  double achieved_rate() const { return duration_s > 0 ? counters.completed / duration_s : 0; }
  std::vector<std::string> errors;  // distinct error messages seen, with counts
  Counters warmup;                  // the warm-up phase's own counters
  std::vector<std::string> warmup_errors;
};

struct ProgressSample {
  double elapsed_s;
  std::uint64_t sent, completed, errors;  // errors: all failure counters together
};
using ProgressFn = std::function<void(const ProgressSample&)>;

// Runs warm-up (if configured) and the measured phase. Throws
// std::runtime_error when the run cannot start: the host does not resolve,
// or no connection to a TCP server succeeds.
RunResult run(const Config& cfg, const ProgressFn& progress = {});

}  // namespace kairos::loadgen
