// The dataplane service's configuration file (kairosd --dataplane-config):
// a line-based text format, parsed here without touching the system so
// that every bad input is rejected before anything starts.
//
//   # comment (also after a value)
//   interface kdps0          # device the XDP program and AF_XDP sockets use
//   queues 2                 # device queues (0 or absent: ask the device)
//   backend afxdp            # afxdp | dpdk | kernel | auto (afxdp, else kernel)
//   dpdk-arg --no-huge       # one EAL argument per line (backend dpdk only)
//   app 10.77.0.1:7000 shm=kairos-echo kthreads=2 [slots=1024] [cgroup=lc]
//   app 10.77.0.1:7001 mode=direct pin=/sys/fs/bpf/kairos/echo [queues=1,2-3]
//
// Each app line names the address and port steered to the app, the POSIX
// shared-memory object of its ring region (ring_abi.h: the app attaches
// by that name), how many kthreads (ring pairs) it runs and the slots per
// ring; cgroup= names the app's annotated cgroup (relative to the cgroup
// root, as kairosctl annotate takes it): kairosd then narrows the app's
// active kthreads to the cores the allocator grants that cgroup
// (active_for_grant). mode=direct: kairosd only steers; the app process
// opens its own XSKMAP that kairosd pins in pin= and owns one AF_XDP
// socket per device queue it is given (direct_pins.hpp): queues=LIST
// (ids and ranges, < kMaxDirectQueue), or every queue of the interface
// when absent, which only an app alone on the interface may do. The kernel
// binds one socket per device queue, so direct apps own disjoint queues
// and kairosd's relayed sockets take the queues no direct app owns
// (backend afxdp). Errors name the file and line: "FILE:LINE: what".
#pragma once

#include <kairos/contracts/endpoint.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kairos::dp {

enum class BackendKind { kAfXdp, kDpdk, kKernel, kAuto };
// relayed: kairosd's dataplane thread + shm rings; direct: the app's own
// AF_XDP sockets, kairosd pins the maps it needs.
enum class AppMode { kRelayed, kDirect };
// Queue ids of a direct app are below this (KAIROS_XDP_MAX_QUEUES).
constexpr std::uint32_t kMaxDirectQueue = 64;

struct ServiceAppConfig {
  Endpoint listen;
  std::string shm_name;
  std::uint32_t kthreads = 1;
  std::uint32_t slots = 1024;  // per ring, power of two
  std::string cgroup;          // annotated cgroup whose grants drive it ("": none)
  AppMode mode = AppMode::kRelayed;
  std::string pin_dir;         // mode=direct: bpffs directory of the pins
  std::uint64_t queue_mask = 0;  // mode=direct: bit q = owns queue q; 0: all
  unsigned line = 0;           // where it was declared (for messages)
};

// The kthreads (ring indices) that receive traffic when the app's cgroup
// holds `granted` cores: the first min(granted, kthreads), and never none
// (kthread 0 with no core: its RX ring fills, which is the congestion the
// allocator answers with a grant; an empty set would drop instead).
std::vector<std::uint32_t> active_for_grant(unsigned granted, std::uint32_t kthreads);

struct ServiceConfig {
  std::string ifname;
  std::uint32_t queues = 0;
  BackendKind backend = BackendKind::kAfXdp;
  std::vector<std::string> dpdk_args;
  std::vector<ServiceAppConfig> apps;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// source names the text in messages (the file's path). Throws ConfigError.
ServiceConfig parse_service_config(std::string_view text, const std::string& source);
// Reads and parses path; an unreadable file is a ConfigError too.
ServiceConfig load_service_config(const std::string& path);
const char* backend_kind_name(BackendKind k);

// The same checks for a configuration that comes another way (kairosd.toml's
// [dataplane] section): each setting given as the words of the line that
// would say it in this format ({"app", "10.0.0.1:7000", "shm=x"}), with the
// line of the source it came from. Throws ConfigError, as the parser.
class ServiceConfigBuilder {
 public:
  explicit ServiceConfigBuilder(std::string source);
  ~ServiceConfigBuilder();
  void add(unsigned line, const std::vector<std::string>& words);
  // The checks of the whole configuration; the builder is spent.
  ServiceConfig finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kairos::dp
