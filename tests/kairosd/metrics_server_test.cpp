// kairosd's metrics endpoint (host): served over a Unix socket in a temp
// directory (no fixed port), from the snapshot board; and --metrics-listen
// on the command line, in-process and through the kairosd binary.
#include "metrics_server.hpp"
#include "options.hpp"

#include <kairos/kairosd/status_snapshot.hpp>

#include <httplib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using kairos::MetricsListen;
using kairos::MetricsServer;
using kairos::status::Snapshot;
using kairos::status::SnapshotBoard;

std::string socket_path(const char* name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid()) + ".sock";
}

httplib::Client unix_client(const std::string& path) {
  httplib::Client c(path);
  c.set_address_family(AF_UNIX);
  return c;
}

TEST(MetricsServer, ServesTheLatestSnapshot) {
  auto board = std::make_shared<SnapshotBoard>();
  MetricsListen where;
  where.kind = MetricsListen::Kind::kUnix;
  where.path = socket_path("metrics");
  {
    MetricsServer srv(where, board, -1);
    auto cli = unix_client(where.path);
    auto r = cli.Get("/metrics");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503) << "no snapshot yet";

    Snapshot s;
    s.daemon.backend = "sched_ext";
    s.daemon.restarts = 3;
    board->publish(std::make_shared<const Snapshot>(s));
    r = cli.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"),
              std::string::npos);
    EXPECT_NE(r->body.find("kairos_scheduler_restarts_total 3\n"), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("# EOF"), std::string::npos);

    r = cli.Get("/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
    ASSERT_TRUE(r);
    EXPECT_NE(r->get_header_value("Content-Type").find("application/openmetrics-text"),
              std::string::npos);
    EXPECT_NE(r->body.find("# EOF\n"), std::string::npos) << r->body;

    s.daemon.restarts = 4;  // a newer snapshot replaces the old one
    board->publish(std::make_shared<const Snapshot>(s));
    r = cli.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("kairos_scheduler_restarts_total 4\n"), std::string::npos) << r->body;

    r = cli.Get("/nope");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
  }
  EXPECT_FALSE(std::filesystem::exists(where.path)) << "the socket file goes with the server";
}

TEST(MetricsServer, StopsRightAfterStarting) {
  // Destroyed before its thread listens: must not hang.
  MetricsListen where;
  where.kind = MetricsListen::Kind::kUnix;
  where.path = socket_path("quick");
  for (int i = 0; i < 20; ++i) MetricsServer srv(where, std::make_shared<SnapshotBoard>(), -1);
}

TEST(MetricsServer, CannotListenIsAnError) {
  MetricsListen where;
  where.kind = MetricsListen::Kind::kUnix;
  where.path = "/nonexistent-dir/kairos/metrics.sock";
  try {
    MetricsServer srv(where, std::make_shared<SnapshotBoard>(), -1);
    FAIL() << "listened in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--metrics-listen unix:/nonexistent-dir/kairos/metrics.sock: cannot listen there"),
              std::string::npos) << e.what();
  }
}

TEST(MetricsOptions, OffByDefaultAndParsedWhenGiven) {
  auto p = kairos::parse_kairosd_args({}, 4);
  ASSERT_EQ(p.action, kairos::ParsedKairosdArgs::Action::kRun) << p.error;
  EXPECT_FALSE(p.cmd.metrics_listen);
  p = kairos::parse_kairosd_args({"--metrics-listen", "9187"}, 4);
  ASSERT_EQ(p.action, kairos::ParsedKairosdArgs::Action::kRun) << p.error;
  ASSERT_TRUE(p.cmd.metrics_listen);
  EXPECT_EQ(p.cmd.metrics_listen->describe(), "127.0.0.1:9187");
  p = kairos::parse_kairosd_args({"--metrics-listen=unix:/run/k.sock"}, 4);
  ASSERT_EQ(p.action, kairos::ParsedKairosdArgs::Action::kRun) << p.error;
  EXPECT_EQ(p.cmd.metrics_listen->describe(), "unix:/run/k.sock");
  p = kairos::parse_kairosd_args({"--metrics-listen", "99999"}, 4);
  EXPECT_EQ(p.action, kairos::ParsedKairosdArgs::Action::kError);
  EXPECT_NE(p.error.find("--metrics-listen wants"), std::string::npos) << p.error;
}

struct Result {
  int status = -1;
  std::string out;
};

Result run_kairosd(const std::vector<std::string>& args) {
  std::string cmd = KAIROSD_BIN;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " --status-file /tmp/kairosd-metrics-flags-test-status 2>&1";
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 512> buf;
  while (std::fgets(buf.data(), buf.size(), p)) r.out += buf.data();
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(MetricsFlags, BadValuesStopKairosdBeforeAnything) {
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--metrics-listen", "0"}, "--metrics-listen wants PORT, ADDR:PORT, [IPV6]:PORT or unix:/PATH, got '0'"},
      {{"--metrics-listen", "host.example:80"}, "is not an IPv4 address"},
      {{"--metrics-listen", "unix:sock"}, "the socket path must be absolute"},
      {{"--metrics-listen", "unix:/nonexistent-dir/x.sock"}, "cannot listen there"},
  };
  for (const auto& c : cases) {
    const Result r = run_kairosd(c.args);
    EXPECT_EQ(r.status, 2) << testing::PrintToString(c.args) << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << testing::PrintToString(c.args) << r.out;
    EXPECT_EQ(r.out.find("scheduler"), std::string::npos) << "nothing loaded\n" << r.out;
  }
  EXPECT_NE(run_kairosd({"--help"}).out.find("--metrics-listen"), std::string::npos);
}

}  // namespace
