// The verifier-figures check fails for what it should: a failed program, a
// program with no figure, a stale figure, growth past the limit (unit).
#include "verifier_figures.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace kairos::verifier;

const char* kCsv =
    "file_name,prog_name,verdict,duration,total_insns,total_states,peak_states\n"
    "a.bpf.o,enqueue,success,120,1000,80,40\n"
    "a.bpf.o,dispatch,success,300,2600,150,90\n";

std::vector<ProgStats> stats() {
  std::string err;
  auto s = parse_veristat_csv(kCsv, &err);
  EXPECT_EQ(err, "");
  return s;
}

std::vector<Figure> figures(const std::string& text) {
  std::string err;
  auto f = parse_figures(text, &err);
  EXPECT_EQ(err, "");
  return f;
}

TEST(VerifierFigures, ParsesVeristatCsv) {
  const auto s = stats();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].file, "a.bpf.o");
  EXPECT_EQ(s[1].prog, "dispatch");
  EXPECT_TRUE(s[1].verified);
  EXPECT_EQ(s[1].duration_us, 300);
  EXPECT_EQ(s[1].insns, 2600);
  EXPECT_EQ(s[1].states, 150);
  EXPECT_EQ(s[1].peak_states, 90);
}

TEST(VerifierFigures, RejectsMalformedInput) {
  std::string err;
  parse_veristat_csv("file_name,prog_name\na,b\n", &err);
  EXPECT_NE(err.find("no column verdict"), std::string::npos) << err;
  err.clear();
  parse_veristat_csv(std::string(kCsv) + "a.bpf.o,x,success,1,many,1,1\n", &err);
  EXPECT_NE(err.find("non-number"), std::string::npos) << err;
  err.clear();
  parse_veristat_csv("", &err);
  EXPECT_NE(err, "");
  err.clear();
  parse_figures("a.bpf.o enqueue\n", &err);
  EXPECT_NE(err.find("line 1"), std::string::npos) << err;
}

TEST(VerifierFigures, WithinTheLimitPasses) {
  // 2600 is 30 % over 2000 but 25 % of 2100 is 2625: within.
  const auto f = figures("# comment\na.bpf.o enqueue 1000\n\na.bpf.o dispatch 2100 # note\n");
  EXPECT_TRUE(compare(stats(), f, 0.25).empty());
}

TEST(VerifierFigures, GrowthPastTheLimitFails) {
  const auto p = compare(stats(), figures("a.bpf.o enqueue 1000\na.bpf.o dispatch 2000\n"), 0.25);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("dispatch: processed insns grew from 2000 to 2600 (+30 %"),
            std::string::npos)
      << p[0];
  EXPECT_NE(p[0].find("update bpf/verifier-figures.txt if the growth is intended"),
            std::string::npos);
}

TEST(VerifierFigures, MissingAndStaleFiguresFail) {
  const auto p = compare(stats(), figures("a.bpf.o enqueue 1000\na.bpf.o gone 10\n"), 0.25);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NE(p[0].find("dispatch (2600 processed insns) has no line"), std::string::npos) << p[0];
  EXPECT_NE(p[1].find("names a.bpf.o gone"), std::string::npos) << p[1];
}

TEST(VerifierFigures, FailedVerificationFails) {
  auto s = stats();
  s[0].verified = false;
  const auto p = compare(s, figures("a.bpf.o enqueue 1000\na.bpf.o dispatch 2600\n"), 0.25);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "a.bpf.o enqueue failed verification");
}

TEST(VerifierFigures, TableShowsFigures) {
  const auto t = format_table(stats(), figures("a.bpf.o enqueue 900\n"));
  EXPECT_NE(t.find("enqueue"), std::string::npos);
  EXPECT_NE(t.find("900"), std::string::npos);
}

}  // namespace
