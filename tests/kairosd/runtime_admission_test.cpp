// RuntimeAdmission: kairos.ko admits exactly the runtime processes the
// allocator drives, retries failures, and says each failure once.
#include "runtime_admission.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <utility>
#include <vector>

namespace kairos {
namespace {

struct FakeModule {
  std::vector<std::pair<pid_t, bool>> calls;
  std::map<pid_t, int> refuse;  // admit(pid) fails with this -errno
  RuntimeAdmission::Admit admit() {
    return [this](pid_t pid, bool on) {
      calls.emplace_back(pid, on);
      auto it = refuse.find(pid);
      return on && it != refuse.end() ? it->second : 0;
    };
  }
};

TEST(RuntimeAdmission, AdmitsNewRevokesGoneAndCallsOncePerChange) {
  FakeModule m;
  std::vector<std::string> logs;
  RuntimeAdmission a(m.admit(), [&](const std::string& s) { logs.push_back(s); });
  a.sync({10, 20});
  EXPECT_EQ(m.calls, (std::vector<std::pair<pid_t, bool>>{{10, true}, {20, true}}));
  m.calls.clear();
  a.sync({10, 20});  // nothing changed: no calls
  EXPECT_TRUE(m.calls.empty());
  a.sync({20, 30});
  EXPECT_EQ(m.calls, (std::vector<std::pair<pid_t, bool>>{{10, false}, {30, true}}));
  EXPECT_EQ(a.admitted(), (std::set<pid_t>{20, 30}));
  m.calls.clear();
  a.sync({});
  EXPECT_EQ(m.calls, (std::vector<std::pair<pid_t, bool>>{{20, false}, {30, false}}));
  EXPECT_TRUE(a.admitted().empty());
  EXPECT_TRUE(logs.empty());
}

TEST(RuntimeAdmission, RetriesAFailureAndLogsItOnce) {
  FakeModule m;
  m.refuse[7] = -ENOSPC;
  std::vector<std::string> logs;
  RuntimeAdmission a(m.admit(), [&](const std::string& s) { logs.push_back(s); });
  a.sync({7});
  a.sync({7});
  EXPECT_EQ(m.calls.size(), 2u);  // tried again
  ASSERT_EQ(logs.size(), 1u);     // said once
  EXPECT_NE(logs[0].find("runtime pid 7"), std::string::npos);
  EXPECT_NE(logs[0].find("No space"), std::string::npos);
  EXPECT_TRUE(a.admitted().empty());
  m.refuse[7] = -ESRCH;  // another error is said again
  a.sync({7});
  EXPECT_EQ(logs.size(), 2u);
  m.refuse.clear();
  a.sync({7});
  EXPECT_EQ(a.admitted(), (std::set<pid_t>{7}));
  a.sync({});  // gone, then refused again: said again
  m.refuse[7] = -ENOSPC;
  a.sync({7});
  EXPECT_EQ(logs.size(), 3u);
}

}  // namespace
}  // namespace kairos
