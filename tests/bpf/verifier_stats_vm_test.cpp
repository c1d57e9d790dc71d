// veristat on both BPF objects (the sched_ext scheduler, the XDP steering
// program) inside the sched_ext kernel: every program verifies, and none
// processes more than 25 % more instructions than bpf/verifier-figures.txt
// records. Processed-instruction counts are deterministic for one kernel and
// one object, so this is no timing assertion.
#include "child_process.hpp"
#include "verifier_figures.hpp"
#include "vm_testlib.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

using namespace kairos::verifier;
using kairos::vmtest::build_path;
using kairos::vmtest::path_exists;
using kairos::vmtest::read_file;

constexpr double kMaxGrowth = 0.25;

// veristat is built into the root filesystem by tools/rootfs/kernel-tools.sh.
std::string veristat_path() {
  if (const char* p = std::getenv("KAIROS_VERISTAT")) return p;
  return "/usr/local/bin/veristat";
}

TEST(VerifierStats, WithinTheCommittedFigures) {
  const std::string veristat = veristat_path();
  ASSERT_TRUE(path_exists(veristat))
      << veristat << " is missing: 'tools/dev setup' builds it (or set KAIROS_VERISTAT)";
  const char* src = std::getenv("KAIROS_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "KAIROS_SOURCE_DIR is not set (run through ctest)";
  const std::string figures_text = read_file(std::string(src) + "/bpf/verifier-figures.txt");
  ASSERT_NE(figures_text, "") << "cannot read bpf/verifier-figures.txt";

  kairos::dp::testing::Child vs({veristat, "-o", "csv", "-e",
                                 "file,prog,verdict,duration,insns,states,peak_states",
                                 build_path("bpf/kairos_sched.bpf.o"),
                                 build_path("xdp/kairos_steer.bpf.o")});
  ASSERT_GT(vs.pid, 0) << "cannot start " << veristat;
  const std::string out = vs.read_until("\x01", 120000);  // everything, to EOF
  const int rc = vs.wait_exit();

  std::string err;
  const auto stats = parse_veristat_csv(out, &err);
  ASSERT_EQ(err, "") << "veristat exited " << rc << ", output:\n" << out;
  const auto figures = parse_figures(figures_text, &err);
  ASSERT_EQ(err, "") << "bpf/verifier-figures.txt: " << err;
  std::printf("%s", format_table(stats, figures).c_str());
  EXPECT_GT(stats.size(), 2u) << out;  // several ops and the XDP program

  for (const auto& problem : compare(stats, figures, kMaxGrowth)) ADD_FAILURE() << problem;
  EXPECT_EQ(rc, 0) << out;
}

}  // namespace
