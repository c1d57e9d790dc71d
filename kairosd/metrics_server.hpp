// kairosd's --metrics-listen endpoint: GET /metrics renders the latest
// published snapshot (status::SnapshotBoard) as Prometheus text, or as
// OpenMetrics when the scraper asks for it. Served by cpp-httplib on its
// own thread (one worker), kept off the allocator's CPU; it never talks to
// the allocator, only to the board.
#pragma once

#include "metrics_listen.hpp"

#include <kairos/kairosd/status_snapshot.hpp>

#include <memory>
#include <thread>

namespace httplib {
class Server;
}

namespace kairos {

class MetricsServer {
 public:
  // Binds now (throws std::runtime_error with the reason when it cannot),
  // then serves on its thread until destroyed. avoid_cpu: a CPU the
  // server's threads never run on (the allocator's), -1: none.
  MetricsServer(const MetricsListen& where, std::shared_ptr<const status::SnapshotBoard> board,
                int avoid_cpu);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  MetricsListen where_;
  std::shared_ptr<const status::SnapshotBoard> board_;
  std::unique_ptr<httplib::Server> srv_;
  std::thread thread_;
};

}  // namespace kairos
