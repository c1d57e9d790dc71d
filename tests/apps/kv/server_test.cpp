// The kairos-kv process: its command line, the -c limit, pipelined and
// concurrent connections, and a clean stop on SIGTERM/SIGINT.
#include "kv_server_process.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace kairos::kv::test {
namespace {

int exit_status(const std::string& args) {
  const std::string cmd = std::string(KAIROS_KV_BIN) + " " + args + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(KvServer, BadCommandLinesFailWithStatus) {
  EXPECT_EQ(exit_status("--version"), 0);
  EXPECT_EQ(exit_status("--help"), 0);
  EXPECT_EQ(exit_status("-I 1x"), 1);
  EXPECT_EQ(exit_status("-I 512"), 1);        // below 1024 bytes
  EXPECT_EQ(exit_status("-m 2 -I 2m"), 1);    // above half of -m
  EXPECT_EQ(exit_status("-t 0"), 2);          // CLI11: out of range
  EXPECT_EQ(exit_status("--bogus"), 2);
  EXPECT_EQ(exit_status("-l 999.1.1.1 -p 0"), 1);  // cannot listen
  EXPECT_EQ(exit_status("--first-cpu 1024"), 2);
  EXPECT_EQ(exit_status("--first-cpu -1"), 2);
  EXPECT_EQ(exit_status("--spin-us -1"), 2);
  EXPECT_EQ(exit_status("--spin-us 1000001"), 2);
  EXPECT_EQ(exit_status("--spin-us 2x"), 2);
}

// Without kairos.ko (the development host, a unit-test machine) the
// allocator mode cannot park in the module: a clear error, exit 1. With
// the module, vm.kv_allocator_vm_test runs it.
TEST(KvServer, AllocatorModeWithoutTheModuleFailsClearly) {
  if (access("/dev/kairos", F_OK) == 0) {
    GTEST_SKIP() << "kairos.ko is loaded here; vm.kv_allocator_vm_test covers this mode";
  }
  const std::string cmd = std::string(KAIROS_KV_BIN) + " --allocator -p 0 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << out;
  EXPECT_NE(out.find("kairos.ko is not loaded"), std::string::npos) << out;
}

TEST(KvServer, ConnectionLimit) {
  ServerProcess kv({KAIROS_KV_BIN, "-c", "2", "-t", "2"});
  RawClient a(kv.port());
  // The start-up probe's connection must be gone first.
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 500) << "the probe connection never closed";
    std::string st;
    a.send("stats\r\n");
    ASSERT_TRUE(a.read_until_tail("END\r\n", &st));
    if (st.find("STAT curr_connections 1\r\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RawClient b(kv.port());
  std::string gb;
  b.send("version\r\n");
  ASSERT_TRUE(b.read_until_tail("\r\n", &gb));
  EXPECT_TRUE(gb.starts_with("VERSION ")) << gb;
  RawClient c(kv.port());
  std::string gc;
  EXPECT_TRUE(c.read_to_eof(&gc));
  EXPECT_EQ(gc, "ERROR Too many open connections\r\n");
}

TEST(KvServer, ManyConnectionsKeepTheirOwnOrder) {
  ServerProcess kv({KAIROS_KV_BIN, "-t", "2"});
  constexpr int kConns = 16, kRounds = 200;
  std::vector<std::thread> ts;
  std::vector<std::string> errors(kConns);
  for (int c = 0; c < kConns; ++c) {
    ts.emplace_back([&, c] {
      RawClient cl(kv.port());
      const std::string key = "c" + std::to_string(c);
      for (int i = 0; i < kRounds; ++i) {
        // A pipeline per round: its replies must come back in order.
        const std::string v = std::to_string(i);
        cl.send("set " + key + " 0 0 " + std::to_string(v.size()) + "\r\n" + v +
                "\r\nget " + key + "\r\nincr " + key + " 1\r\n");
        const std::string want = "STORED\r\nVALUE " + key + " 0 " + std::to_string(v.size()) +
                                 "\r\n" + v + "\r\nEND\r\n" + std::to_string(i + 1) + "\r\n";
        std::string got;
        if (!cl.read_until_tail(std::to_string(i + 1) + "\r\n", &got) || got != want) {
          errors[c] = "round " + std::to_string(i) + ": " + got;
          return;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  for (int c = 0; c < kConns; ++c) EXPECT_EQ(errors[c], "") << "connection " << c;
}

TEST(KvServer, StopsWithAClientMidRequest) {
  ServerProcess kv({KAIROS_KV_BIN, "-t", "2"});
  RawClient a(kv.port());
  a.send("set a 0 0 5\r\nab");  // mid-request
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(kv.stop(), 0);
  std::string rest;
  EXPECT_TRUE(a.read_to_eof(&rest));
}

}  // namespace
}  // namespace kairos::kv::test
