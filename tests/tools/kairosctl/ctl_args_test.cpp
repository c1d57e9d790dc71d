// kairosctl's command line: every bad input is an error, nothing else.
#include "ctl_args.hpp"

#include <gtest/gtest.h>

using namespace kairos;
using namespace kairos::ctl;

namespace {
ParsedCmd parse(std::vector<std::string> a) { return parse_args(a, 4); }
}  // namespace

TEST(CtlArgs, Annotate) {
  auto p = parse({"annotate", "lc", "--class", "lc", "--guaranteed", "1", "--burstable", "2"});
  ASSERT_EQ(p.error, "");
  auto& a = std::get<AnnotateCmd>(p.cmd);
  EXPECT_EQ(a.cgroup, "lc");
  EXPECT_EQ(a.annotation, (Annotation{AppClass::lc, 1, 2}));
  EXPECT_FALSE(a.clear);
}

TEST(CtlArgs, Defaults) {
  auto lc = parse({"annotate", "x", "--class", "lc", "--guaranteed", "2"});
  EXPECT_EQ(std::get<AnnotateCmd>(lc.cmd).annotation, (Annotation{AppClass::lc, 2, 2}));
  auto lc0 = parse({"annotate", "x", "--class", "lc"});
  EXPECT_EQ(std::get<AnnotateCmd>(lc0.cmd).annotation, (Annotation{AppClass::lc, 0, 1}));
  auto be = parse({"annotate", "x", "--class", "be"});
  EXPECT_EQ(std::get<AnnotateCmd>(be.cmd).annotation, (Annotation{AppClass::be, 0, 0}));
}

TEST(CtlArgs, ClearStatusHelpAndGlobals) {
  auto c = parse({"--cgroup-root", "/tmp/cg", "annotate", "x", "--clear"});
  ASSERT_EQ(c.error, "");
  EXPECT_TRUE(std::get<AnnotateCmd>(c.cmd).clear);
  EXPECT_EQ(c.global.cgroup_root, "/tmp/cg");
  auto s = parse({"--status-file", "/tmp/s", "status"});
  ASSERT_EQ(s.error, "");
  EXPECT_TRUE(std::holds_alternative<StatusCmd>(s.cmd));
  EXPECT_EQ(s.global.status_file, "/tmp/s");
  EXPECT_FALSE(std::get<StatusCmd>(s.cmd).json);
  auto j = parse({"status", "--json"});
  ASSERT_EQ(j.error, "");
  EXPECT_TRUE(std::get<StatusCmd>(j.cmd).json);
  EXPECT_EQ(std::get<TopCmd>(parse({"top"}).cmd).interval_ms, 1000u);
  EXPECT_EQ(std::get<TopCmd>(parse({"top", "--interval-ms", "250"}).cmd).interval_ms, 250u);
  EXPECT_TRUE(std::holds_alternative<HelpCmd>(parse({"--help"}).cmd));
  EXPECT_TRUE(std::holds_alternative<MigrateCmd>(parse({"migrate"}).cmd));
  auto d = parse({"convert-dataplane", "/etc/kairos/dp.conf"});
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(std::get<ConvertDataplaneCmd>(d.cmd).path, "/etc/kairos/dp.conf");
}

TEST(CtlArgs, BadInputIsRefused) {
  const std::vector<std::vector<std::string>> bad{
      {},
      {"frobnicate"},
      {"status", "extra"},
      {"status", "--json", "--json"},
      {"status", "--yaml"},
      {"top", "--interval-ms"},
      {"top", "--interval-ms", "99"},
      {"top", "--interval-ms", "60001"},
      {"top", "--interval-ms", "1s"},
      {"top", "--interval-ms", "500", "--interval-ms", "600"},
      {"top", "extra"},
      {"migrate", "x"},
      {"convert-dataplane"},
      {"convert-dataplane", "a", "b"},
      {"--bogus", "status"},
      {"--cgroup-root"},
      {"annotate"},
      {"annotate", "x"},
      {"annotate", "x", "y", "--class", "lc"},
      {"annotate", "x", "--class"},
      {"annotate", "x", "--class", "rt"},
      {"annotate", "x", "--class", "lc", "--class", "be"},
      {"annotate", "x", "--class", "lc", "--guaranteed", "-1"},
      {"annotate", "x", "--class", "lc", "--guaranteed", "abc"},
      {"annotate", "x", "--class", "lc", "--guaranteed", "5"},   // > 4 CPUs
      {"annotate", "x", "--class", "lc", "--burstable", "1e3"},
      {"annotate", "x", "--class", "lc", "--bogus", "1"},
      {"annotate", "x", "--clear", "--class", "lc"},
      {"annotate", "x", "--clear", "--clear"},
  };
  for (const auto& b : bad) {
    auto p = parse(b);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(p.cmd)) << testing::PrintToString(b);
    EXPECT_NE(p.error, "") << testing::PrintToString(b);
  }
}
