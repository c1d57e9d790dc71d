// /sys/kernel/kairos/: tunables accept exactly one number in bounds and
// refuse everything else with EINVAL, keeping the old value; statistics are
// read-only and the live-object counters start (and end) at zero.
#include "kmod_testlib.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace kairos::kmodtest;
using kairos::vmtest::KernelLogGuard;

struct BadWrite {
  const char* file;
  std::string value;
};

TEST(KmodSysfs, DefaultsAreConsistent) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  EXPECT_EQ(read_sysfs("version"), std::to_string(KAIROS_ABI_MAJOR) + "." +
                                       std::to_string(KAIROS_ABI_MINOR));
  EXPECT_LE(std::stoul(read_sysfs("quantum_us")),
            std::stoul(read_sysfs("period_us")));
  EXPECT_EQ(read_sysfs("enabled"), "1");
  EXPECT_TRUE(live_counters_zero());
  EXPECT_EQ(read_stat("grants"), 0u);
  EXPECT_EQ(read_stat("throttles"), 0u);
  // (A zero-length write is a no-op in sysfs itself, not tested.)
  // One header line plus one line per present CPU (online or not).
  const std::string per_cpu =
      kairos::vmtest::read_file(std::string(kSysfs) + "/stats/per_cpu");
  int lines = 0;
  for (char c : per_cpu) lines += c == '\n';
  EXPECT_EQ(lines, 1 + present_cpus()) << per_cpu;
  EXPECT_EQ(per_cpu_stat(0, "online"), 1) << per_cpu;
  EXPECT_EQ(per_cpu_stat(0, "lc_overrun_ns"), 0) << per_cpu;
}

TEST(KmodSysfs, ValidWritesTakeEffect) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  EXPECT_EQ(write_sysfs("period_us", "20000\n"), 0);
  EXPECT_EQ(write_sysfs("quantum_us", "20000"), 0);  // quantum == period ok
  EXPECT_EQ(read_sysfs("quantum_us"), "20000");
  EXPECT_EQ(write_sysfs("quantum_us", "10"), 0);      // the lower bound
  EXPECT_EQ(write_sysfs("period_us", "100"), 0);      // the lower bound
  EXPECT_EQ(write_sysfs("period_us", "1000000"), 0);  // the upper bound
  EXPECT_EQ(read_sysfs("period_us"), "1000000");
  EXPECT_EQ(write_sysfs("enabled", "0"), 0);
  EXPECT_EQ(read_sysfs("enabled"), "0");
  EXPECT_EQ(write_sysfs("enabled", "1"), 0);
  EXPECT_EQ(write_sysfs("park_spin_max_us", "0"), 0);
  EXPECT_EQ(write_sysfs("park_spin_max_us", "10000"), 0);
  EXPECT_EQ(write_sysfs("lc_rt_priority", "49"), 0);
  EXPECT_EQ(read_sysfs("lc_rt_priority"), "49");
}

TEST(KmodSysfs, EveryBadWriteIsEinvalAndKeepsTheOldValue) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("period_us", "2000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "700"), 0);
  const std::vector<std::string> garbage = {
      "\n",   "abc",  "12x",  "12 ",  " 12", "-1",  "+-3",
      "1.5",  "0x10", "1e3",  "12\n3", "99999999999999999999",
      "4294967296", std::string("5\0", 2), "+5", "+0", "+"};
  const std::vector<BadWrite> cases = [&] {
    std::vector<BadWrite> v;
    for (const char* f : {"quantum_us", "period_us", "enabled",
                          "park_spin_max_us", "lc_rt_priority"})
      for (const auto& g : garbage) v.push_back({f, g});
    // Out of bounds, and quantum > period in both directions.
    v.push_back({"quantum_us", "9"});
    v.push_back({"quantum_us", "0"});
    v.push_back({"quantum_us", "2001"});
    v.push_back({"period_us", "99"});
    v.push_back({"period_us", "699"});
    v.push_back({"period_us", "1000001"});
    v.push_back({"enabled", "2"});
    v.push_back({"park_spin_max_us", "10001"});
    v.push_back({"lc_rt_priority", "0"});
    v.push_back({"lc_rt_priority", "50"});
    return v;
  }();
  for (const auto& c : cases) {
    const std::string before = read_sysfs(c.file);
    EXPECT_EQ(write_sysfs(c.file, c.value), -EINVAL)
        << c.file << " <- '" << c.value << "'";
    EXPECT_EQ(read_sysfs(c.file), before) << c.file << " <- '" << c.value << "'";
  }
  EXPECT_EQ(read_sysfs("quantum_us"), "700");
  EXPECT_EQ(read_sysfs("period_us"), "2000");
}

TEST(KmodSysfs, StatisticsAreReadOnly) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  for (const char* f : {"version", "stats/grants", "stats/parks",
                        "stats/preempt_ipis", "stats/throttles",
                        "stats/live_files", "stats/per_cpu",
                        "stats/lc_overrun_ns", "stats/lc_overrun_max_ns",
                        "stats/throttled_periods", "stats/policy_errors"}) {
    const std::string before = read_sysfs(f);
    EXPECT_NE(write_sysfs(f, "5"), 0) << f;
    EXPECT_EQ(read_sysfs(f), before) << f;
  }
}

TEST(KmodSysfs, PerCpuHasNoLengthLimit) {
  // One 256-byte line per present CPU after the header, however many
  // CPUs there are (a page-sized text attribute stopped at about 43), and
  // a read at any offset and of any size gets the same bytes.
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  const std::string path = std::string(kSysfs) + "/stats/per_cpu";
  const std::string full = kairos::vmtest::read_file(path);
  ASSERT_EQ(full.size(), 256u * (1 + present_cpus())) << full;
  for (std::size_t at = 0; at < full.size(); at += 256) {
    EXPECT_EQ(full[at + 255], '\n') << "line at " << at;
    EXPECT_EQ(full.substr(at, 255).find('\n'), std::string::npos) << "line at " << at;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string pieces;
  char buf[100];
  for (off_t off = 0;; off += 100) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    pieces.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(pieces, full);
  EXPECT_EQ(::pread(fd, buf, sizeof buf, static_cast<off_t>(full.size()) + 4096), 0);
  ::close(fd);
}

}  // namespace
