// Cgroup annotations: stored format, parsing of user input, and the
// checks that keep bad or conflicting annotations out.
#include <kairos/kairosd/annotation.hpp>

#include <gtest/gtest.h>

using namespace kairos;

TEST(Annotation, FormatsAndParsesBack) {
  const Annotation a{AppClass::lc, 2, 3};
  EXPECT_EQ(format_annotation(a), "v1 class=lc guaranteed=2 burstable=3");
  auto p = parse_annotation(format_annotation(a));
  ASSERT_TRUE(p) << p.error;
  EXPECT_EQ(*p.value, a);
  auto be = parse_annotation("v1 class=be guaranteed=0 burstable=0");
  ASSERT_TRUE(be);
  EXPECT_EQ(be.value->cls, AppClass::be);
}

TEST(Annotation, RejectsMalformedStoredText) {
  for (const char* bad : {"", "v2 class=lc guaranteed=1 burstable=1",
                          "v1 class=xx guaranteed=1 burstable=1",
                          "v1 class=lc guaranteed=-1 burstable=1",
                          "v1 class=lc guaranteed=1",
                          "v1 class=lc guaranteed=1 burstable=1 extra=2",
                          "v1 class=lc class=be guaranteed=1 burstable=1",
                          "v1 class=lc guaranteed=1x burstable=1",
                          "v1 classlc guaranteed=1 burstable=1"}) {
    auto p = parse_annotation(bad);
    EXPECT_FALSE(p) << bad;
    EXPECT_FALSE(p.error.empty()) << bad;
  }
}

TEST(Annotation, CountsAreStrictWholeNumbers) {
  EXPECT_EQ(*parse_count("n", "0", 4).value, 0u);
  EXPECT_EQ(*parse_count("n", "4", 4).value, 4u);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5", "0x2", "abc", "5",
                          "99999999999999999999999"})
    EXPECT_FALSE(parse_count("n", bad, 4)) << bad;
  EXPECT_NE(parse_count("--guaranteed", "5", 4).error.find("larger than 4"),
            std::string::npos);
}

TEST(Annotation, NormalizesCgroupPaths) {
  const std::string root = "/sys/fs/cgroup";
  EXPECT_EQ(*normalize_cgroup_path(root, "lc").value, "lc");
  EXPECT_EQ(*normalize_cgroup_path(root, "a/b/").value, "a/b");
  EXPECT_EQ(*normalize_cgroup_path(root, "/sys/fs/cgroup/a/b").value, "a/b");
  for (const char* bad : {"", "/", "/sys/fs/cgroup", "/sys/fs/cgroup/", "/tmp/x",
                          "a/../b", "..", "a//b", "./a", "/sys/fs/cgroupx/a"})
    EXPECT_FALSE(normalize_cgroup_path(root, bad)) << bad;
}

TEST(Annotation, AcceptsWhatTheMachineCanGive) {
  EXPECT_EQ(check_annotation("lc", {AppClass::lc, 1, 2}, 2, {}), "");
  EXPECT_EQ(check_annotation("lc", {AppClass::lc, 0, 1}, 2, {}), "");
  EXPECT_EQ(check_annotation("batch", {AppClass::be, 0, 0}, 2, {}), "");
  // Replacing an app's own annotation does not conflict with itself.
  EXPECT_EQ(check_annotation("lc", {AppClass::lc, 1, 1}, 2,
                             {{"lc", {AppClass::lc, 1, 2}}}),
            "");
}

TEST(Annotation, RefusesLimitsLargerThanTheMachine) {
  EXPECT_NE(check_annotation("lc", {AppClass::lc, 2, 2}, 2, {}), "");  // 1 CPU must stay
  EXPECT_NE(check_annotation("lc", {AppClass::lc, 1, 3}, 2, {}), "");
  EXPECT_NE(check_annotation("lc", {AppClass::lc, 0, 0}, 2, {}), "");
  EXPECT_NE(check_annotation("lc", {AppClass::lc, 2, 1}, 4, {}), "");  // burst < guar
  EXPECT_NE(check_annotation("be", {AppClass::be, 1, 1}, 4, {}), "");
  EXPECT_NE(check_annotation("lc", {AppClass::lc, 1, 1}, 0, {}), "");
}

TEST(Annotation, RefusesConflicts) {
  const std::vector<AnnotatedCgroup> have{{"svc/a", {AppClass::lc, 1, 1}}};
  // nested either way
  EXPECT_NE(check_annotation("svc", {AppClass::be, 0, 0}, 4, have).find("nested"),
            std::string::npos);
  EXPECT_NE(check_annotation("svc/a/b", {AppClass::lc, 1, 1}, 4, have), "");
  // siblings with a name prefix are not nested
  EXPECT_EQ(check_annotation("svc/ab", {AppClass::lc, 1, 1}, 4, have), "");
  // guaranteed cores over all apps
  EXPECT_NE(check_annotation("other", {AppClass::lc, 3, 3}, 4, have), "");
  EXPECT_EQ(check_annotation("other", {AppClass::lc, 2, 3}, 4, have), "");
  std::vector<AnnotatedCgroup> many;
  for (int i = 0; i < 15; ++i) many.push_back({"be" + std::to_string(i), {AppClass::be, 0, 0}});
  EXPECT_NE(check_annotation("one-more", {AppClass::be, 0, 0}, 4, many), "");
}
