// The command line: good flags fill the configuration; bad ones give a
// clear message and exit code 2, in the library and in the binary.
#include "config.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

using namespace kairos::loadgen;

namespace {

struct Parsed {
  int rc;
  Config cfg;
  std::string out, err;
};

Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "kairos-loadgen");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  Parsed p;
  std::ostringstream out, err;
  p.rc = parse_cli(static_cast<int>(argv.size()), argv.data(), p.cfg, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

// Runs the binary, returns its exit code and stderr.
int run_binary(const std::string& args, std::string& err) {
  const std::string cmd = std::string(KAIROS_LOADGEN_BIN) + " " + args + " 2>&1 >/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return -1;
  char buf[512];
  err.clear();
  while (fgets(buf, sizeof buf, f)) err += buf;
  const int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST(Cli, FullCommandLine) {
  const auto p = parse({"--protocol", "redis", "--server", "10.0.0.1:6380", "--mode", "closed",
                        "--connections", "16", "--threads", "2", "--depth", "4", "--duration",
                        "3.5", "--get-ratio", "0.5", "--keys", "1000", "--key-size", "20",
                        "--key-dist", "zipf:0.9", "--value-size", "uniform:10-100", "--timeout",
                        "0.5", "--drain", "0.2", "--seed", "9", "--no-warmup", "--json", "r.json",
                        "--csv", "-", "--progress", "off"});
  ASSERT_EQ(p.rc, -1) << p.err;
  const Config& c = p.cfg;
  EXPECT_EQ(c.protocol, Protocol::Redis);
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 6380);
  EXPECT_EQ(c.mode, Mode::Closed);
  EXPECT_EQ(c.connections, 16u);
  EXPECT_EQ(c.threads, 2u);
  EXPECT_EQ(c.depth, 4u);
  EXPECT_DOUBLE_EQ(c.duration_s, 3.5);
  EXPECT_DOUBLE_EQ(c.get_ratio, 0.5);
  EXPECT_EQ(c.keys, 1000u);
  EXPECT_EQ(c.key_size, 20u);
  EXPECT_DOUBLE_EQ(c.zipf_s, 0.9);
  EXPECT_EQ(c.value_size.kind, ValueSizeSpec::Kind::Uniform);
  EXPECT_DOUBLE_EQ(c.timeout_s, 0.5);
  EXPECT_EQ(c.seed, 9u);
  EXPECT_FALSE(c.warmup);
  EXPECT_EQ(c.json_path, "r.json");
  EXPECT_EQ(c.csv_path, "-");
  EXPECT_EQ(c.progress, Progress::Off);
}

TEST(Cli, DefaultsAndIpv6) {
  const auto p = parse({"-P", "memcached-udp", "-s", "[::1]:11211"});
  ASSERT_EQ(p.rc, -1) << p.err;
  EXPECT_EQ(p.cfg.host, "::1");
  EXPECT_EQ(p.cfg.mode, Mode::Open);
  EXPECT_TRUE(p.cfg.warmup);
}

TEST(Cli, HelpExitsZero) {
  const auto p = parse({"--help"});
  EXPECT_EQ(p.rc, 0);
  EXPECT_NE(p.out.find("--protocol"), std::string::npos);
}

TEST(Cli, BadInputIsExplainedWithExitCode2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-s", "h:1"}, "--protocol"},                                   // missing required
      {{"-P", "memcached"}, "--server"},
      {{"-P", "gopher", "-s", "h:1"}, "unknown protocol 'gopher'"},
      {{"-P", "redis", "-s", "h"}, "HOST:PORT"},
      {{"-P", "redis", "-s", "h:0"}, "HOST:PORT"},
      {{"-P", "redis", "-s", "h:70000"}, "HOST:PORT"},
      {{"-P", "redis", "-s", "[::1:5"}, "HOST:PORT"},
      {{"-P", "redis", "-s", "h:1", "--rate", "0"}, "--rate"},
      {{"-P", "redis", "-s", "h:1", "--rate", "fast"}, "--rate"},
      {{"-P", "redis", "-s", "h:1", "--mode", "half"}, "--mode"},
      {{"-P", "redis", "-s", "h:1", "--get-ratio", "1.5"}, "--get-ratio"},
      {{"-P", "redis", "-s", "h:1", "--connections", "0"}, "--connections"},
      {{"-P", "redis", "-s", "h:1", "-c", "2", "-t", "4"}, "--threads"},
      {{"-P", "redis", "-s", "h:1", "--key-dist", "zipf:-1"}, "zipf"},
      {{"-P", "redis", "-s", "h:1", "--value-size", "uniform:9-3"}, "value size"},
      {{"-P", "memcached-udp", "-s", "h:1", "--value-size", "2000"}, "exceeds the maximum"},
      {{"-P", "redis", "-s", "h:1", "--bogus"}, "--bogus"},
      {{"-P", "redis", "-s", "h:1", "extra"}, "extra"},
  };
  for (const auto& [args, needle] : cases) {
    const auto p = parse(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(p.rc, 2) << joined;
    EXPECT_NE(p.err.find(needle), std::string::npos) << joined << "-> " << p.err;
  }
}

TEST(Binary, ExitCodes) {
  std::string err;
  EXPECT_EQ(run_binary("--protocol nope --server 127.0.0.1:1", err), 2);
  EXPECT_NE(err.find("unknown protocol 'nope'"), std::string::npos) << err;
  EXPECT_EQ(run_binary("--no-such-flag", err), 2);
  EXPECT_EQ(run_binary("--help", err), 0);
  // Nothing listens on port 1 of loopback: refused, a clear error, exit 1.
  EXPECT_EQ(run_binary("-P memcached -s 127.0.0.1:1 -d 0.2", err), 1);
  EXPECT_NE(err.find("Connection refused"), std::string::npos) << err;
  EXPECT_EQ(run_binary("-P redis -s no-such-host.invalid:6379 -d 0.2", err), 1);
  EXPECT_NE(err.find("cannot resolve"), std::string::npos) << err;
}
