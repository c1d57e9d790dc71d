// Observing kairosd in the sched_ext VM (label 'vm'): with kairos.ko and
// an LC app holding a guaranteed core, the status file, `kairosctl status
// --json` and the --metrics-listen endpoint (scraped over loopback, passed
// through `promtool check metrics`) must show the same cores; `kairosctl
// top` is driven in tmux as a person would (80x24, s to sort, q to quit)
// and says so when kairosd is gone.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using namespace std::chrono_literals;

constexpr int kPort = 19187;

// Runs a shell command line; its exit status, output in *out.
int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::array<char, 512> buf;
  std::string o;
  while (std::fgets(buf.data(), buf.size(), p)) o += buf.data();
  const int st = ::pclose(p);
  if (out) *out = o;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string scrape(const char* accept = nullptr) {
  httplib::Client cli("127.0.0.1", kPort);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(5, 0);
  httplib::Headers h;
  if (accept) h.emplace("Accept", accept);
  auto r = cli.Get("/metrics", h);
  if (!r || r->status != 200) return "";
  return r->body;
}

// A tmux session of 80x24 running kairosctl top.
class TopInTmux {
 public:
  TopInTmux() {
    const std::string cmd = build_path("tools/kairosctl/kairosctl") + " --status-file " +
                            Kairosd::status_path() + " top --interval-ms 300";
    std::string out;
    started_ = sh("tmux -L kairos-obs new-session -d -s top -x 80 -y 24 '" + cmd + "'", &out) == 0;
    if (!started_) std::fprintf(stderr, "tmux: %s\n", out.c_str());
  }
  ~TopInTmux() { sh("tmux -L kairos-obs kill-server"); }
  bool started() const { return started_; }
  std::string screen() const {
    std::string out;
    sh("tmux -L kairos-obs capture-pane -p -t top", &out);
    return out;
  }
  void keys(const std::string& k) const { sh("tmux -L kairos-obs send-keys -t top " + k); }
  bool alive() const { return sh("tmux -L kairos-obs has-session -t top") == 0; }

 private:
  bool started_ = false;
};

const nlohmann::json* app_of(const nlohmann::json& doc, const std::string& cgroup) {
  for (const auto& a : doc["apps"])
    if (a["cgroup"] == cgroup) return &a;
  return nullptr;
}

TEST(ObserveVm, StatusJsonMetricsAndTopAgreeOnALiveSystem) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  std::string out;
  ASSERT_EQ(sh("promtool --version", &out), 0) << "promtool must be in the VM image: " << out;
  ASSERT_EQ(sh("tmux -V", &out), 0) << "tmux must be in the VM image: " << out;

  ScratchCgroup lc{"ko-lc"};
  ASSERT_EQ(kairosctl({"annotate", lc.name(), "--class", "lc", "--guaranteed", "1",
                       "--burstable", "1"}, &out), 0) << out;
  Kairosd d({"--allocator-low-power", "--poll-us", "50", "--scan-interval-ms", "50",
             "--metrics-listen", std::to_string(kPort)});
  ASSERT_TRUE(d.wait_ready()) << d.output();
  EXPECT_NE(d.output().find("metrics at http://127.0.0.1:" + std::to_string(kPort)),
            std::string::npos) << d.output();
  const std::string app = "cgroup=" + lc.name();
  ASSERT_TRUE(wait_for([&] { return status_field(d.status(), "app", app, "owned") == "1"; }, 15s))
      << d.status();
  // A guaranteed core with no burst: stable, so the three views must agree.
  const std::string st = d.status();
  const std::string id = status_field(st, "app", app, "id");
  const std::string cpu = status_field(st, "app", app, "cpus");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(cpu.find(','), std::string::npos) << st;

  // kairosctl status --json.
  ASSERT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status", "--json"}, &out), 0);
  const auto doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  EXPECT_EQ(doc["schema"], "kairos.status");
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["running"], true);
  EXPECT_EQ(doc["daemon"]["pid"], d.pid());
  EXPECT_EQ(doc["daemon"]["backend"], "sched_ext");
  const nlohmann::json* ja = app_of(doc, lc.name());
  ASSERT_NE(ja, nullptr) << out;
  EXPECT_EQ((*ja)["id"].get<unsigned>(), std::stoul(id));
  EXPECT_EQ((*ja)["owned"], 1);
  ASSERT_EQ((*ja)["cpus"].size(), 1u);
  EXPECT_EQ((*ja)["cpus"][0].get<unsigned>(), std::stoul(cpu));
  EXPECT_FALSE(doc["allocator"].is_null()) << out;
  EXPECT_FALSE(doc["kmod"].is_null()) << "kairos.ko is loaded\n" << out;
  EXPECT_EQ(doc["cpus"][std::stoul(cpu)]["owner"].get<unsigned>(), std::stoul(id));

  // The text view says the same.
  ASSERT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status"}, &out), 0);
  EXPECT_NE(out.find("kairosd: running (pid " + std::to_string(d.pid()) + ")"),
            std::string::npos) << out;
  EXPECT_NE(out.find(lc.name()), std::string::npos) << out;

  // The metrics endpoint.
  const std::string m = scrape();
  ASSERT_FALSE(m.empty()) << d.output();
  for (const std::string& line : {
           "kairos_app_owned_cores{app=\"" + id + "\",cgroup=\"" + lc.name() + "\"} 1\n",
           "kairos_cpu_owner_app{cpu=\"" + cpu + "\"} " + id + "\n",
           std::string("kairos_scheduler_attached 1\n"),
           std::string("kairos_allocator_running 1\n"),
           std::string("kairos_kmod_loaded 1\n"),
           std::string("# TYPE kairos_allocator_poll_duration_seconds histogram\n"),
           std::string("# TYPE kairos_cpu_guard_throttles_total counter\n"),
       })
    EXPECT_NE(m.find(line), std::string::npos) << line << "in\n" << m;
  const std::string path = "/tmp/kairos-observe-metrics.txt";
  std::ofstream(path) << m;
  EXPECT_EQ(sh("promtool check metrics < " + path, &out), 0) << out;
  EXPECT_EQ(out.find("problem"), std::string::npos) << out;
  std::printf("scraped %zu bytes; promtool: %s\n", m.size(), out.empty() ? "clean" : out.c_str());
  const std::string om = scrape("application/openmetrics-text; version=1.0.0");
  ASSERT_GE(om.size(), 6u);
  EXPECT_EQ(om.substr(om.size() - 6), "# EOF\n");
  // Polls advance between scrapes: the endpoint follows the live daemon.
  auto polls = [](const std::string& text) {
    const std::string key = "kairos_allocator_polls_total ";
    const auto at = text.find("\n" + key);
    return at == std::string::npos ? -1L : std::stol(text.substr(at + 1 + key.size()));
  };
  const long p0 = polls(m);
  EXPECT_GT(p0, 0) << m;
  EXPECT_TRUE(wait_for([&] { return polls(scrape()) > p0; }, 10s));

  // kairosctl top in tmux, 80x24.
  {
    TopInTmux top;
    ASSERT_TRUE(top.started());
    const std::string who = "kairosd pid " + std::to_string(d.pid());
    ASSERT_TRUE(wait_for([&] {
      const std::string s = top.screen();
      return s.find(who) != std::string::npos && s.find(lc.name()) != std::string::npos;
    }, 15s)) << top.screen();
    const std::string screen = top.screen();
    std::printf("kairosctl top:\n%s\n", screen.c_str());
    const auto strip_at = screen.find("CPUs ");
    ASSERT_NE(strip_at, std::string::npos) << screen;
    const std::string strip = screen.substr(strip_at, screen.find('\n', strip_at) - strip_at);
    // One cell per CPU: its owner's id (or "."), "*" while busy.
    EXPECT_NE(strip.find(" " + id), std::string::npos) << "the owned CPU shows its owner\n" << strip;
    EXPECT_NE(screen.find("allocator low-power"), std::string::npos) << screen;
    const std::string quantum = status_field(st, "tunables", "", "quantum_us");
    const std::string period = status_field(st, "tunables", "", "period_us");
    EXPECT_NE(screen.find("guard " + quantum + "/" + period + " us"), std::string::npos) << screen;
    EXPECT_NE(screen.find("last scheduler exit: none"), std::string::npos) << screen;
    EXPECT_NE(screen.find("s: sort (app)  q: quit"), std::string::npos) << screen;
    top.keys("s");
    EXPECT_TRUE(wait_for([&] { return top.screen().find("sort (wait)") != std::string::npos; }, 5s))
        << top.screen();
    top.keys("q");
    EXPECT_TRUE(wait_for([&] { return !top.alive(); }, 5s)) << "q did not quit\n" << top.screen();
  }

  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  EXPECT_EQ(scrape(), "") << "the endpoint goes with kairosd";
  ASSERT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status", "--json"}, &out), 0);
  const auto gone = nlohmann::json::parse(out, nullptr, false);
  EXPECT_EQ(gone["running"], false) << out;

  // top without kairosd says so, and still quits on q.
  TopInTmux top;
  ASSERT_TRUE(top.started());
  EXPECT_TRUE(wait_for([&] {
    return top.screen().find("kairosd is not running") != std::string::npos;
  }, 10s)) << top.screen();
  top.keys("q");
  EXPECT_TRUE(wait_for([&] { return !top.alive(); }, 5s)) << top.screen();
}

}  // namespace
