#include "metrics_server.hpp"

#include <kairos/kairosd/metrics_text.hpp>

#include <httplib.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kairos {

namespace {

// Every online CPU but `avoid` (when another is left).
void keep_off_cpu(int avoid) {
  if (avoid < 0) return;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  if (!CPU_ISSET(avoid, &set) || CPU_COUNT(&set) < 2) return;
  CPU_CLR(avoid, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

MetricsServer::MetricsServer(const MetricsListen& where,
                             std::shared_ptr<const status::SnapshotBoard> board, int avoid_cpu)
    : where_(where), board_(std::move(board)), srv_(std::make_unique<httplib::Server>()) {
  // One worker: scrapes are rare and small; queued ones wait their turn.
  srv_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  srv_->set_read_timeout(5, 0);
  srv_->set_write_timeout(5, 0);
  srv_->set_payload_max_length(64 * 1024);
  srv_->Get("/metrics", [b = board_](const httplib::Request& req, httplib::Response& res) {
    const auto snap = b->latest();
    if (!snap) {
      res.status = 503;
      res.set_content("kairosd has not taken its first snapshot yet\n", "text/plain");
      return;
    }
    const auto f = status::negotiate_metrics_format(req.get_header_value("Accept"));
    res.set_content(status::render_metrics(*snap, f), status::metrics_content_type(f));
  });
  srv_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("kairosd: metrics at /metrics\n", "text/plain");
  });
  bool ok = false;
  if (where_.kind == MetricsListen::Kind::kUnix) {
    // A socket file left by an earlier kairosd would make bind() fail.
    ::unlink(where_.path.c_str());
    srv_->set_address_family(AF_UNIX);
    ok = srv_->bind_to_port(where_.path, 80);
  } else {
    srv_->set_address_family(where_.host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
    ok = srv_->bind_to_port(where_.host, where_.port);
  }
  if (!ok)
    throw std::runtime_error("--metrics-listen " + where_.describe() + ": cannot listen there (" +
                             std::strerror(errno) + ")");
  thread_ = std::thread([this, avoid_cpu] {
    keep_off_cpu(avoid_cpu);  // before the worker threads are made: they inherit it
    srv_->listen_after_bind();
  });
}

MetricsServer::~MetricsServer() {
  // stop() before the listen loop runs would be lost, and join() would hang.
  srv_->wait_until_ready();
  srv_->stop();
  if (thread_.joinable()) thread_.join();
  if (where_.kind == MetricsListen::Kind::kUnix) ::unlink(where_.path.c_str());
}

}  // namespace kairos
