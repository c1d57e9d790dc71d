// Configuration of one simulator run, and its command-line parser. Every
// flag is validated; a bad one yields a message naming the flag.
#pragma once

#include <kairos/allocator/types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kairos::sim {

using policy::Nanos;

// Service-time distribution: constant, exponential, or bimodal (value a
// with probability p, else b).
struct ServiceSpec {
  enum class Kind { kConst, kExp, kBimodal } kind = Kind::kExp;
  double a_ns = 10'000, b_ns = 0, p = 1.0;
  double mean_ns() const;
  std::string describe() const;
};

enum class Mode { kPolicy, kStatic };
// single: one queue per app (M/G/n); partitioned: one queue per kthread,
// no stealing (n x M/G/1); stealing: per-kthread queues + work stealing.
enum class Queues { kSingle, kPartitioned, kStealing };

struct SimConfig {
  unsigned cores = 16;
  std::vector<double> loads = {0.5};
  ServiceSpec service;
  Mode mode = Mode::kPolicy;
  Queues queues = Queues::kStealing;
  Nanos interval_ns = 5'000;       // allocator poll interval
  Nanos park_spin_ns = 2'000;      // kthread spins this long before parking
  Nanos wake_latency_ns = 1'000;   // grant -> kthread running on the core
  unsigned static_cores = 0;       // static mode; 0 = all cores
  unsigned apps = 1;
  // Unmodified apps: no runtime kthreads; their threads wait in one BPF-side
  // queue per app, and the policy sees only its length and oldest entry.
  bool unmodified = false;
  unsigned guaranteed = 0;         // per app
  std::optional<unsigned> burstable;  // per app; default: the rest
  unsigned grants_per_poll = 1;
  bool smt = true;
  bool be = true;                  // BE work waits on every free core
  Nanos duration_ns = 200'000'000;
  Nanos warmup_ns = 20'000'000;
  std::uint64_t seed = 1;
  std::string label;
  bool header = true;
};

// Parses "500ns", "5us", "100ms", "2s" (a plain number is nanoseconds).
std::optional<Nanos> parse_duration(const std::string& s);
// Parses "exp:10us", "const:5us", "bimodal:0.9:5us:55us".
std::optional<ServiceSpec> parse_service(const std::string& s, std::string* err);

// Fills cfg from argv. Returns an error message, or nothing. '--help' sets
// *help and returns nothing.
std::optional<std::string> parse_args(int argc, const char* const* argv,
                                      SimConfig& cfg, bool* help);
const char* usage();

}  // namespace kairos::sim
